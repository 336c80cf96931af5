"""Pure extraction: a photo's bytes and name -> the facts the catalog stores."""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from datetime import datetime, tzinfo

from organizer.extract import dates, decode, hashes, metadata
from organizer.extract.vectors import Model

# Bump when extraction changes so that stored facts are recomputed.
EXTRACTOR_VERSION = 1


class NotAPhoto(ValueError):
    """The content is not an image organizer can read."""


@dataclass(frozen=True)
class Facts:
    digest: str
    format: str
    width: int
    height: int
    orientation: int
    make: str | None
    model: str | None
    taken: dates.Taken
    lat: float | None
    lon: float | None
    alt: float | None
    phash: str
    dhash: str
    thumbnail: bytes
    vector: bytes | None = None  # float16, L2-normalised
    vector_model: str | None = None
    warnings: list[str] = field(default_factory=list)


def extract(
    data: bytes,
    name: str,
    mtime: float,
    now: datetime,
    thumb_size: int = 320,
    local_zone: tzinfo | None = None,
    digest: str | None = None,
    model: Model | None = None,
) -> Facts:
    """Everything organizer knows of one photo, from one decode.

    `digest` is the content digest when the caller has computed it already; with a `model`, the
    photo's CNN vector is computed from the same decode.
    Raises NotAPhoto for content that is not a supported image, and the decoder's own errors for
    broken files; the caller records either as an error row.
    """
    fmt = decode.sniff(data[:64])
    if fmt is None:
        raise NotAPhoto(f"not a supported image ({decode.describe(data[:64])})")
    decoded = decode.decode(data, fmt, min_side=thumb_size)
    warnings: list[str] = []
    meta = metadata.read(data, decoded.exif, warnings)
    position = metadata.gps(meta)
    taken = dates.resolve(meta, position, name, mtime, now, local_zone)
    thumbnail = hashes.thumbnail(decoded.image, thumb_size)
    phash, dhash = hashes.perceptual(thumbnail)
    return Facts(
        digest=digest or hashes.digest(data),
        format=fmt,
        width=decoded.width,
        height=decoded.height,
        orientation=decoded.orientation,
        make=meta.make,
        model=meta.model,
        taken=taken,
        lat=position[0] if position else None,
        lon=position[1] if position else None,
        alt=metadata.altitude(meta) if position else None,
        phash=phash,
        dhash=dhash,
        thumbnail=hashes.encode_jpeg(thumbnail),
        vector=model.embed([decoded.image])[0].tobytes() if model else None,
        vector_model=model.id if model else None,
        warnings=warnings,
    )


def embed_only(data: bytes, thumb_size: int, model: Model) -> bytes:
    """The CNN vector alone, for a photo catalogued before its model was."""
    fmt = decode.sniff(data[:64])
    if fmt is None:
        raise NotAPhoto(f"not a supported image ({decode.describe(data[:64])})")
    return model.embed([decode.decode(data, fmt, min_side=thumb_size).image])[0].tobytes()


@functools.cache
def warm_up() -> None:
    """Load every lazy part (image plugins, EXIF reader, timezone data) on a tiny photo, so that a
    worker's first real file is not charged for it."""
    import io

    from PIL import Image

    exif = Image.Exif()
    exif.get_ifd(0x8825).update({1: "N", 2: (43.0, 28.0, 0.0), 3: "E", 4: (11.0, 53.0, 0.0)})
    exif.get_ifd(0x8769)[0x9003] = "2008:10:22 16:28:39"
    buf = io.BytesIO()
    Image.new("RGB", (64, 48), (90, 120, 200)).save(buf, "JPEG", exif=exif)
    extract(buf.getvalue(), "warm-up.jpg", 0.0, datetime.now())
