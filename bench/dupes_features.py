"""What the index would store of each file of the duplicates benchmark, from one decode each, as
`extract.extract` does it (thumbnail, hashes, EXIF, CNN vector) plus `extract.dupefeatures`.
Cached beside the library (features.pkl), remade when the library or the features change."""

from __future__ import annotations

import csv
import io
import pickle
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image


from organizer.cluster.verify import Capture
from organizer.extract import decode, dupefeatures, hashes, metadata, vectors

CACHE_VERSION = (2, dupefeatures.FEATURES_VERSION)


@dataclass
class Row:
    file: str
    source: str
    capture_id: str  # the truth: files of one capture are duplicates
    transform: str
    scene: str
    format: str
    width: int
    height: int
    size: int
    orientation: int
    phash: int
    dhash: int
    thumbnail: bytes
    dupe: dupefeatures.DupeFeatures
    capture: Capture
    vector: np.ndarray
    mtime: float = 0.0


def extract_all(library: Path) -> list[Row]:
    with open(library / "truth.csv", newline="") as fh:
        table = list(csv.DictReader(fh))
    cache = library / "features.pkl"
    rows: list[Row] = []
    if cache.is_file():
        version, rows = pickle.loads(cache.read_bytes())
        if version != CACHE_VERSION or [r.file for r in rows] != [t["file"] for t in table]:
            rows = []
    if not rows:
        model = vectors.Model(vectors.ModelSpec(), tempfile.gettempdir(), threads=2)
        rows = [_extract(library, t, model) for t in table]
        cache.write_bytes(pickle.dumps((CACHE_VERSION, rows)))
    for row, t in zip(rows, table):  # the truth may be corrected without extracting again
        row.capture_id, row.scene = t["capture"], t["scene"]
        row.mtime = (library / row.file).stat().st_mtime
    return rows


def _extract(library: Path, t: dict[str, str], model: vectors.Model) -> Row:
    data = (library / t["file"]).read_bytes()
    fmt = decode.sniff(data[:64])
    if fmt is None:
        raise ValueError(f"{t['file']}: not an image organizer reads")
    decoded = decode.decode(data, fmt, min_side=320)
    with Image.open(io.BytesIO(data)) as im:
        meta = metadata.read(data, im.getexif(), [])
    thumb = hashes.thumbnail(decoded.image, 320)
    phash, dhash = hashes.perceptual(thumb)
    return Row(
        file=t["file"], source=t["source"], capture_id=t["capture"], transform=t["transform"], scene=t["scene"],
        format=fmt, width=decoded.width, height=decoded.height, size=len(data), orientation=decoded.orientation,
        phash=int(phash, 16), dhash=int(dhash, 16), thumbnail=hashes.encode_jpeg(thumb),
        dupe=dupefeatures.features(decoded.image),
        capture=Capture.of(meta.make, meta.model, meta.datetime_original, meta.subsec_original),
        vector=model.embed([decoded.image])[0],
    )
