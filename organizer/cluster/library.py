"""The library as arrays, as every clusterer reads it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from organizer.cluster import duplicates, similar

MIN_SIDE = 64  # photos smaller than this (icons, spacer GIFs) are in no visual group


@dataclass(frozen=True)
class Library:
    """The catalog's photos with a present file, one row each."""

    ids: np.ndarray
    digests: list[str]
    seconds: np.ndarray  # local time, seconds since 1970 (0 where undated)
    dated: np.ndarray  # bool: has a date fit for events
    lat: np.ndarray  # NaN where unknown
    lon: np.ndarray
    phash: np.ndarray  # uint64
    dhash: np.ndarray
    files: np.ndarray  # present files per photo
    small: np.ndarray  # bool: too small (under MIN_SIDE px) to say what it looks like
    # what the clusterers asked for: feature name -> (photo ids, one row per id); "cnn": the vectors
    features: Mapping[str, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)
    # inputs a clusterer needs whole, by what it asked for ("copies": the duplicate finder's)
    inputs: Mapping[str, Any] = field(default_factory=dict)
    # what one clusterer computed that another reuses in the same regroup (see cnn_neighbours)
    memo: dict[Any, Any] = field(default_factory=dict, compare=False, repr=False)

    def featureless(self) -> np.ndarray:
        """Photos that carry no visual evidence: tiny, blank or near-uniform (see duplicates)."""
        return self.small | ~duplicates.informative(self.dhash)

    def cnn_neighbours(self, k: int, threads: int) -> tuple[np.ndarray, np.ndarray]:
        """The ids of the photos that show something and have a CNN vector, and each one's `k`
        nearest others among them (row indices), computed once for every clusterer that asks
        (similar groups and duplicates both start from them; at 100k photos the index is seconds)."""
        key = ("cnn", k)
        if key not in self.memo:
            ids, x = self.visual("cnn")
            near = (similar.neighbours(np.ascontiguousarray(x, dtype=np.float16), k, threads) if len(ids) > 1
                    else np.empty((len(ids), 0), dtype=np.int64))
            self.memo[key] = (ids, near)
        return self.memo[key]

    def visual(self, name: str) -> tuple[np.ndarray, np.ndarray]:
        """A feature's rows for the library's items that show something (not featureless; not a
        companion, whose row the catalog may hold too: it goes with its primary)."""
        ids, rows = self.features.get(name, (np.empty(0, dtype=np.int64), np.empty((0, 0))))
        keep = np.isin(ids, self.ids[~self.featureless()])
        return ids[keep], rows[keep]
