"""Content digest, perceptual hashes and the thumbnail, all from data already in memory."""

from __future__ import annotations

import io

import imagehash
import xxhash
from PIL import Image

THUMB_QUALITY = 82


def digest(data: bytes) -> str:
    """The photo's identity: 128-bit xxh3 of its bytes, as 32 hex digits."""
    return xxhash.xxh3_128_hexdigest(data)


def perceptual(image: Image.Image) -> tuple[str, str]:
    """64-bit pHash and dHash as 16 hex digits each."""
    return str(imagehash.phash(image)), str(imagehash.dhash(image))


def thumbnail(image: Image.Image, longest: int) -> bytes:
    """A JPEG whose longest side is at most `longest` pixels."""
    thumb = image.copy()
    thumb.thumbnail((longest, longest), Image.Resampling.BICUBIC, reducing_gap=2.0)
    out = io.BytesIO()
    thumb.save(out, "JPEG", quality=THUMB_QUALITY, optimize=False)
    return out.getvalue()
