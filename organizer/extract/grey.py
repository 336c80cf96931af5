"""A `size` x `size` grey copy of the photo (uint8), for PCA at cluster time (clustimage's "pca"
on grey pixels) and, alone, a normalised cross-correlation of small pictures."""

from __future__ import annotations

import numpy as np
from PIL import Image

from organizer.extract.features import Feature, Params


def compute(image: Image.Image, params: Params) -> bytes:
    size = int(params["size"])
    return np.asarray(image.convert("L").resize((size, size), Image.Resampling.BILINEAR), dtype=np.uint8).tobytes()


def vectors(values: list[bytes], params: Params) -> np.ndarray:
    """Rows of pixels with each row's mean taken off, so that a cosine is a correlation."""
    rows = np.frombuffer(b"".join(values), dtype=np.uint8).reshape(len(values), -1).astype(np.float32)
    return rows - rows.mean(axis=1, keepdims=True)


FEATURE = Feature("grey", 1, compute)
