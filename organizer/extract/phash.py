"""imgcmp's fingerprint: the pHash (as imagehash computes it) of an x*x grey image, x = `size` (8..16), so
x*x bits. As vectors, each bit is +1 or -1 over sqrt(bits): the cosine of two photos is
1 - 2 * Hamming distance / bits."""

from __future__ import annotations

import numpy as np
from PIL import Image

from organizer.extract.hashes import phash_bits
from organizer.extract.features import Feature, Params


def compute(image: Image.Image, params: Params) -> bytes:
    bits = phash_bits(image.convert("L"), int(params["size"])).ravel()
    return np.packbits(bits.astype(np.uint8)).tobytes()


def vectors(values: list[bytes], params: Params) -> np.ndarray:
    size = int(params["size"])
    packed = np.frombuffer(b"".join(values), dtype=np.uint8).reshape(len(values), -1)
    bits = np.unpackbits(packed, axis=1)[:, : size * size].astype(np.float32)
    return (bits * 2.0 - 1.0) / np.sqrt(size * size)


FEATURE = Feature("phash", 1, compute)
