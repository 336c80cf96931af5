"""Pure extraction: a photo's bytes and name -> the facts the catalog stores."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, tzinfo

from organizer.extract import dates, decode, hashes, metadata

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
    warnings: list[str] = field(default_factory=list)


def extract(
    data: bytes,
    name: str,
    mtime: float,
    now: datetime,
    thumb_size: int = 320,
    local_zone: tzinfo | None = None,
) -> Facts:
    """Everything organizer knows of one photo, from one decode.

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
    phash, dhash = hashes.perceptual(decoded.image)
    return Facts(
        digest=hashes.digest(data),
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
        thumbnail=hashes.thumbnail(decoded.image, thumb_size),
        warnings=warnings,
    )
