"""A People album's cover: the person's face, cropped once from its original and kept in the
catalog's cache (`<cache>/faces/<digest>-<box>.jpg`); the gallery shows it as `thumbs/faces/...`.

Which face: a person is a set of photos, and a photo may hold other people too. So among the
photos where the person is the only face (all faces when there are none), the face nearest the
mean of their descriptors, larger faces first when two are as near."""

from __future__ import annotations

import hashlib
import logging
import os
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from organizer.extract import decode

log = logging.getLogger(__name__)

SIDE = 256  # the crop's side in pixels
MARGIN = 0.45  # of the face's size, added on each side (hair, chin)
FOLDER = "faces"  # under map/thumbs/, and under the catalog's cache


def choose(faces: Mapping[int, np.ndarray]) -> tuple[int, tuple[float, float, float, float]] | None:
    """(photo id, box as fractions) of the face that best shows the person whose photos these
    are; `faces`: photo id -> its face records (extract.faces.RECORD rows)."""
    single = [(pid, rows[0]) for pid, rows in faces.items() if len(rows) == 1]
    pool = single or [(pid, row) for pid, rows in faces.items() for row in rows]
    if not pool:
        return None
    descriptors = np.stack([row["descriptor"] for _, row in pool])
    distance = np.linalg.norm(descriptors - descriptors.mean(axis=0), axis=1)
    area = np.array([(row["box"][2] - row["box"][0]) * (row["box"][3] - row["box"][1]) for _, row in pool])
    best = min(range(len(pool)), key=lambda i: (round(float(distance[i]), 2), -float(area[i]), pool[i][0]))
    pid, row = pool[best]
    left, top, right, bottom = (float(v) for v in row["box"])
    return pid, (left, top, right, bottom)


def name(digest: str, box: tuple[float, float, float, float]) -> str:
    """The crop's name under map/thumbs/ and the cache: one per photo and face."""
    tag = hashlib.blake2b(repr([round(v, 4) for v in box]).encode(), digest_size=4).hexdigest()
    return f"{FOLDER}/{digest}-{tag}.jpg"


def make(cache_dir: str, rel: str, original: str, fmt: str | None, box: tuple[float, float, float, float]) -> str | None:
    """The cached crop's path, made from the original on first use; None when the original cannot
    be decoded here (a RAW, a video, a file gone): the album keeps its photo cover."""
    target = Path(cache_dir) / rel
    if target.exists():
        return str(target)
    left, top, right, bottom = box
    side_frac = max(right - left, bottom - top)
    try:
        with open(original, "rb") as fh:
            # large enough that the face's crop has SIDE pixels: the face is side_frac of the image
            decoded = decode.decode(fh, fmt or "", max(SIDE, int(SIDE / max(side_frac * (1 + 2 * MARGIN), 0.05))))
    except Exception as exc:  # any decoder failure: the photo cover stays
        log.info("%s: no face crop (%s)", original, exc)
        return None
    image = decoded.image
    w, h = image.size
    half = min(max((right - left) * w, (bottom - top) * h) * (0.5 + MARGIN), w / 2, h / 2)
    cx = min(max((left + right) / 2 * w, half), w - half)  # the square moved inside the image, not padded
    cy = min(max((top + bottom) / 2 * h, half), h - half)
    crop = image.crop((round(cx - half), round(cy - half), round(cx + half), round(cy + half)))
    crop = crop.resize((SIDE, SIDE))
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f".{target.name}.{os.getpid()}")
    crop.save(partial, "JPEG", quality=85)
    os.replace(partial, target)
    return str(target)
