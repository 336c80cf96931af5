"""Similar photos by CNN vectors (L2-normalised, so the dot product is the cosine)."""

from __future__ import annotations

import numpy as np


def nearest(query: np.ndarray, matrix: np.ndarray, k: int, exclude: int | None = None) -> list[tuple[int, float]]:
    """The `k` rows of `matrix` most similar to `query`, as (row, cosine), best first."""
    scores = matrix.astype(np.float32) @ query.astype(np.float32)
    if exclude is not None:
        scores[exclude] = -np.inf
    k = min(k, len(scores) - (exclude is not None))
    if k <= 0:
        return []
    top = np.argpartition(-scores, k - 1)[:k]
    top = top[np.argsort(-scores[top], kind="stable")]
    return [(int(i), float(scores[i])) for i in top]
