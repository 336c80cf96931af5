"""Content digest, perceptual hashes and the thumbnail, all from data already in memory."""

from __future__ import annotations

import functools
import io

import numpy as np
import xxhash
from PIL import Image

THUMB_QUALITY = 82
HASH_SIZE = 8


@functools.lru_cache(maxsize=8)
def _dct(side: int) -> np.ndarray:
    """imagehash's pHash takes scipy.fftpack.dct (type II, unnormalised) along both axes of a
    grey image 4x the hash's side; the same transform as a matrix product gives identical hashes
    without importing scipy."""
    n = np.arange(side)
    return 2.0 * np.cos(np.pi * np.outer(n, 2 * n + 1) / (2 * side))


def digest(data: bytes) -> str:
    """The photo's identity: 128-bit xxh3 of its bytes, as 32 hex digits."""
    return xxhash.xxh3_128_hexdigest(data)


def _hex(bits: np.ndarray) -> str:
    return f"{int(''.join('1' if b else '0' for b in bits.flatten()), 2):016x}"


def phash_bits(gray: Image.Image, size: int = HASH_SIZE) -> np.ndarray:
    """The size x size bits of the pHash of a grey image, exactly as imagehash.phash computes them."""
    side = size * 4
    small = np.asarray(gray.resize((side, side), Image.Resampling.LANCZOS), dtype=np.float64)
    dct = _dct(side)
    low = (dct @ small @ dct.T)[:size, :size]
    return low > np.median(low)


def perceptual(image: Image.Image) -> tuple[str, str]:
    """64-bit pHash and dHash as 16 hex digits each, exactly as imagehash computes them."""
    gray = image.convert("L")
    phash = _hex(phash_bits(gray))
    pixels = np.asarray(gray.resize((HASH_SIZE + 1, HASH_SIZE), Image.Resampling.LANCZOS))
    dhash = _hex(pixels[:, 1:] > pixels[:, :-1])
    return phash, dhash


def thumbnail(image: Image.Image, longest: int) -> Image.Image:
    """The image reduced so that its longest side is at most `longest` pixels."""
    thumb = image.copy()
    thumb.thumbnail((longest, longest), Image.Resampling.BICUBIC, reducing_gap=2.0)
    return thumb


def encode_jpeg(image: Image.Image) -> bytes:
    out = io.BytesIO()
    image.save(out, "JPEG", quality=THUMB_QUALITY, optimize=False)
    return out.getvalue()
