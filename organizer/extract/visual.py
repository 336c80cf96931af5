"""The features similar groups are made from (`similar.features`), and how their stored values
read back as vectors. Pure: plain values in, arrays out.

- `cnn`: the CNN vector (the `vectors` table; see extract.vectors).
- `hog`, `grey`, `phash`, `orb`: registered features (extract.features), stored per photo.
- `pca`: computed at cluster time, from the stored `grey` pixels or `hog` (`similar.pca_of`),
  to `similar.pca_components` components (below 1: that fraction of the variance).
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from typing import Any

import numpy as np

from organizer.extract import features

NAMES = ("cnn", "hog", "grey", "pca", "phash", "orb")
PCA_SAMPLE = 20_000  # photos the PCA is fitted on (then applied to all)


def stored_name(name: str, section: Any) -> str | None:
    """The stored feature `name` is made from (None for `cnn`, which is the vectors table)."""
    if name == "cnn":
        return None
    return section.pca_of if name == "pca" else name


def params(stored: str, section: Any) -> dict[str, Any]:
    """A stored feature's parameters, from the `[similar]` section."""
    s = section
    return {
        "hog": {"size": s.hog_size, "orientations": s.hog_orientations, "pixels_per_cell": s.hog_pixels_per_cell,
                "cells_per_block": s.hog_cells_per_block},
        "grey": {"size": s.grey_size},
        "phash": {"size": s.phash_size},
        "orb": {"keypoints": s.orb_keypoints},
    }[stored]


def wanted(config: Any) -> dict[str, features.Params]:
    """The consumer (see features.CONSUMERS): what `similar.features` needs stored."""
    out: dict[str, features.Params] = {}
    for name in config.similar.features:
        stored = stored_name(name, config.similar)
        if stored is not None:
            out[stored] = params(stored, config.similar)
    return out


def vectors(name: str, values: list[bytes], section: Any) -> np.ndarray:
    """Stored values of feature `name` (as named in `similar.features`) as rows, float32."""
    stored = stored_name(name, section)
    assert stored is not None, "cnn vectors are read from the vectors table"
    features.get(stored)  # a clear error when its extra is missing
    module = importlib.import_module(features.MODULES[stored][0])
    rows = module.vectors(values, params(stored, section))
    return pca(rows, section.pca_components) if name == "pca" else rows


def pca(rows: np.ndarray, components: float, seed: int = 0) -> np.ndarray:
    """PCA of `rows`: `components` >= 1 is a number of components, below 1 a variance fraction."""
    from sklearn.decomposition import PCA

    n, dims = rows.shape
    if n < 3:
        return rows
    wanted_: float | int = int(components) if components >= 1 else float(components)
    if isinstance(wanted_, int):
        wanted_ = min(wanted_, n - 1, dims)
    rng = np.random.default_rng(seed)
    fit_rows = rows if n <= PCA_SAMPLE else rows[rng.choice(n, PCA_SAMPLE, replace=False)]
    model = PCA(n_components=wanted_, random_state=seed, svd_solver="full").fit(fit_rows)
    return model.transform(rows).astype(np.float32)


def combine(matrices: Mapping[str, np.ndarray]) -> np.ndarray:
    """One vector per photo from several features: each row normalised, the features side by side
    and weighted alike, so that a dot product is the mean of the features' cosines. One feature
    alone is returned as it is (the CNN vectors are stored normalised)."""
    if len(matrices) == 1:
        (only,) = matrices.values()
        return only if only.dtype == np.float16 else normalised(only)
    parts = [normalised(m.astype(np.float32)) / np.sqrt(len(matrices)) for m in matrices.values()]
    return np.concatenate(parts, axis=1)


def normalised(rows: np.ndarray) -> np.ndarray:
    rows = rows.astype(np.float32)
    return rows / np.maximum(np.linalg.norm(rows, axis=1, keepdims=True), 1e-12)
