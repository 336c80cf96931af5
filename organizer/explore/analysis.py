"""What the explore report shows, computed from plain arrays (pure): candidate edges and the
threshold curve (icas), the dendrogram's linkage (imagecluster), a 2-D map of the vectors,
each group's representative (clustimage's "unique"), photos per month, agreement of two groupings."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from organizer.cluster import similar

TSNE_MAX = 1500  # above this many photos the map is a PCA (t-SNE is O(n^2) here)


@dataclass(frozen=True)
class Edges:
    """Each photo's candidate pairs (its nearest neighbours), once each, with their cosine."""

    rows: np.ndarray
    cols: np.ndarray
    scores: np.ndarray


def edges(x: np.ndarray, k: int, threads: int = 1) -> Edges:
    n = len(x)
    if n < 2:
        empty = np.zeros(0, dtype=np.int64)
        return Edges(empty, empty, np.zeros(0, dtype=np.float32))
    x16 = np.ascontiguousarray(x, dtype=np.float16)
    near = similar.neighbours(x16, k, threads)
    rows, cols = np.repeat(np.arange(n), near.shape[1]), near.ravel()
    lo, hi = np.minimum(rows, cols), np.maximum(rows, cols)
    pairs = np.unique(np.stack([lo, hi], axis=1)[lo != hi], axis=0)
    a, b = x[pairs[:, 0]].astype(np.float32), x[pairs[:, 1]].astype(np.float32)
    return Edges(pairs[:, 0], pairs[:, 1], np.einsum("ij,ij->i", a, b))


def components(n: int, rows: np.ndarray, cols: np.ndarray, min_size: int = 2) -> list[list[int]]:
    """Linked components of the edges (union-find), the largest first."""
    parent = list(range(n))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for a, b in zip(rows.tolist(), cols.tolist()):
        ra, rb = root(a), root(b)
        if ra != rb:
            parent[max(ra, rb)] = min(ra, rb)
    found: dict[int, list[int]] = {}
    for i in range(n):
        found.setdefault(root(i), []).append(i)
    return sorted((c for c in found.values() if len(c) >= min_size), key=lambda c: (-len(c), c[0]))


def threshold_curve(e: Edges, n: int, thresholds: np.ndarray) -> dict[str, list[float]]:
    """Pairs at or above each threshold, and the photos those pairs link (icas's curve)."""
    pairs, photos = [], []
    for t in thresholds:
        keep = e.scores >= t
        pairs.append(int(keep.sum()))
        photos.append(int(len(np.unique(np.concatenate([e.rows[keep], e.cols[keep]])))))
    return {"threshold": [float(t) for t in thresholds], "pairs": pairs, "photos": photos}


def representative(x: np.ndarray, members: Sequence[int]) -> int:
    """The member nearest the group's mean (clustimage's unique image of a cluster)."""
    sub = x[list(members)].astype(np.float32)
    centre = sub.mean(axis=0)
    return list(members)[int(np.argmax(sub @ centre))]


def embedding(x: np.ndarray, seed: int = 0) -> tuple[np.ndarray, str]:
    """2-D coordinates of the rows: t-SNE up to TSNE_MAX rows, else PCA; and which it was."""
    x = x.astype(np.float32)
    if len(x) < 4:
        return np.column_stack([np.arange(len(x), dtype=np.float32), np.zeros(len(x), np.float32)]), "none"
    if len(x) <= TSNE_MAX:
        from sklearn.manifold import TSNE

        coords = TSNE(n_components=2, init="pca", random_state=seed, perplexity=min(30.0, (len(x) - 1) / 3),
                      metric="cosine").fit_transform(x)
        return coords.astype(np.float32), "t-SNE"
    from sklearn.decomposition import PCA

    return PCA(n_components=2, random_state=seed).fit_transform(x).astype(np.float32), "PCA"


def linkage(x: np.ndarray) -> np.ndarray:
    """Average linkage on cosine distance (the dendrogram imagecluster cuts at 1 - sim)."""
    from scipy.cluster.hierarchy import linkage as scipy_linkage
    from scipy.spatial.distance import pdist

    return scipy_linkage(np.clip(pdist(x.astype(np.float64), "cosine"), 0.0, 2.0), method="average")


def per_month(stamps: Sequence[str | None]) -> tuple[list[str], list[int]]:
    """Counts by 'YYYY-MM' of ISO dates, every month from the first to the last (gaps at 0)."""
    months = Counter(s[:7] for s in stamps if s and len(s) >= 7 and s[4] == "-")
    if not months:
        return [], []
    first, last = min(months), max(months)
    y, m = int(first[:4]), int(first[5:7])
    out: list[str] = []
    while f"{y:04d}-{m:02d}" <= last:
        out.append(f"{y:04d}-{m:02d}")
        y, m = (y + 1, 1) if m == 12 else (y, m + 1)
    return out, [months.get(month, 0) for month in out]


def labels(n: int, groups: Sequence[Sequence[int]]) -> np.ndarray:
    """Cluster labels of n rows: a group's rows share one, every other row is alone."""
    out = np.arange(len(groups), len(groups) + n)
    for g, members in enumerate(groups):
        out[list(members)] = g
    return out


def agreement(n: int, a: Sequence[Sequence[int]], b: Sequence[Sequence[int]]) -> float:
    """Adjusted Rand index of two groupings of the same n rows."""
    from sklearn.metrics import adjusted_rand_score

    return float(adjusted_rand_score(labels(n, a), labels(n, b)))
