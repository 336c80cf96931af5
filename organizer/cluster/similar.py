"""Similar photos by CNN vectors (L2-normalised, so the dot product is the cosine).

Groups: each photo's nearest neighbours (exact for small libraries, an HNSW index on PCA-reduced
vectors for large ones, by faiss), edges re-scored on the full vectors and kept above a cosine threshold;
the linked components are then split by average linkage cut at the same threshold, so a chain of
pairwise-similar photos (X~A~B~Y) cannot pull unrelated X and Y into one giant group.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from scipy.cluster.hierarchy import fcluster, linkage
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

EXACT_MAX = 20_000  # up to this many photos, exact neighbours by blockwise matrix products
MAX_LINKAGE = 4000  # larger components are first split at a stricter threshold
PCA_DIMS = 128

Rescore = Callable[[np.ndarray, np.ndarray, np.ndarray], np.ndarray]  # (rows, cols, cosines) -> scores
Distances = Callable[[np.ndarray], np.ndarray]  # member rows -> their square distance matrix


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


CHUNK = 16_384


def _reduce(x: np.ndarray, seed: int = 0) -> np.ndarray:
    """PCA to PCA_DIMS (fitted on a sample, applied in chunks), rows normalised again, float32."""
    if x.shape[1] <= PCA_DIMS:
        return x.astype(np.float32)
    from sklearn.decomposition import PCA

    rng = np.random.default_rng(seed)
    sample = x[rng.choice(len(x), size=min(len(x), 20_000), replace=False)].astype(np.float32)
    pca = PCA(n_components=PCA_DIMS, random_state=seed).fit(sample)
    reduced = np.concatenate([pca.transform(x[i:i + CHUNK].astype(np.float32)) for i in range(0, len(x), CHUNK)])
    reduced = reduced.astype(np.float32)
    return reduced / np.maximum(np.linalg.norm(reduced, axis=1, keepdims=True), 1e-12)


def _cosines(x: np.ndarray, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """x[rows] . x[cols] on the full vectors, in chunks to bound memory."""
    out = np.empty(len(rows), dtype=np.float32)
    for i in range(0, len(rows), CHUNK):
        a = x[rows[i:i + CHUNK]].astype(np.float32)
        b = x[cols[i:i + CHUNK]].astype(np.float32)
        out[i:i + CHUNK] = np.einsum("ij,ij->i", a, b)
    return out


def neighbours(x: np.ndarray, k: int, threads: int) -> np.ndarray:
    """Each row's `k` nearest other rows (indices, shape (n, k)); approximate above EXACT_MAX."""
    n = len(x)
    k = min(k, n - 1)
    if n <= EXACT_MAX:
        full = x.astype(np.float32)
        out = np.empty((n, k), dtype=np.int64)
        for start in range(0, n, 2048):
            block = full[start:start + 2048] @ full.T
            block[np.arange(len(block)), np.arange(start, start + len(block))] = -np.inf
            out[start:start + len(block)] = np.argpartition(-block, k - 1, axis=1)[:, :k]
        return out
    import faiss

    reduced = _reduce(x)
    faiss.omp_set_num_threads(threads)
    index = faiss.IndexHNSWFlat(reduced.shape[1], 16, faiss.METRIC_INNER_PRODUCT)
    index.hnsw.efConstruction = 100
    index.add(reduced)
    index.hnsw.efSearch = max(2 * k + 10, 50)
    _, labels = index.search(reduced, k + 1)
    found = np.empty((n, k), dtype=np.int64)
    for i, row in enumerate(labels):  # drop the row itself, wherever it landed, and empty slots (-1)
        others = row[(row != i) & (row >= 0)][:k]
        found[i, : len(others)] = others
        found[i, len(others):] = others[-1] if len(others) else i
    return found


def _split(x: np.ndarray, members: np.ndarray, sim: float, method: str | None = "average",
           distances: Distances | None = None) -> list[np.ndarray]:
    """Hierarchical clustering (`method` linkage) on cosine distance, or on `distances`, cut at
    1 - sim; `method` None keeps the component whole (a chain)."""
    if method is None:
        return [members]
    if distances is None:
        sub = x[members].astype(np.float32)
        if len(members) == 2:
            return [members] if float(sub[0] @ sub[1]) >= sim else []
        dist = np.clip(1.0 - sub @ sub.T, 0.0, 2.0)
    else:
        dist = distances(members)
        if len(members) == 2:
            return [members] if dist[0, 1] <= 1.0 - sim else []
    i, j = np.triu_indices(len(members), 1)
    labels = fcluster(linkage(dist[i, j], method=method), t=1.0 - sim, criterion="distance")
    return [members[labels == label] for label in np.unique(labels)]


def _components(x: np.ndarray, rows: np.ndarray, cols: np.ndarray, n: int) -> list[np.ndarray]:
    graph = coo_matrix((np.ones(len(rows), dtype=np.int8), (rows, cols)), shape=(n, n))
    _, labels = connected_components(graph, directed=False)
    order = np.argsort(labels, kind="stable")
    runs = np.split(order, np.flatnonzero(np.diff(labels[order])) + 1)
    return [r for r in runs if len(r) >= 2]


def find_similar(
    ids: np.ndarray, vectors: np.ndarray, sim: float, k: int = 10, min_photos: int = 2, threads: int = 1,
    method: str | None = "average", rescore: Rescore | None = None, distances: Distances | None = None,
    near: np.ndarray | None = None,
) -> list[tuple[int, ...]]:
    """Groups of photo ids whose vectors are similar: every group's average pairwise cosine is at
    least `sim` (0..1; higher is stricter).

    The other linkages (`method`; None: whole linked components, chains) and the hooks serve
    cluster.methods: `rescore(rows, cols, cosines)` gives candidate edges their scores (an edge
    below `sim` is dropped), `distances(members)` the square matrix the split uses. `near`: each
    row's nearest neighbours already computed (as `neighbours` returns them)."""
    n = len(ids)
    if n < 2:
        return []
    x = np.ascontiguousarray(vectors, dtype=np.float16)  # stored L2-normalised; float16 halves memory
    if near is None:
        near = neighbours(x, k, threads)
    rows = np.repeat(np.arange(n), near.shape[1])
    cols = near.ravel()
    scores = _cosines(x, rows, cols)  # re-scored on the full vectors
    if rescore is not None:
        scores = rescore(rows, cols, scores)
    keep = scores >= sim
    rows, cols, scores = rows[keep], cols[keep], scores[keep]
    groups: list[tuple[int, ...]] = []
    pending = [(c, sim) for c in _components(x, rows, cols, n)]
    while pending:
        members, level = pending.pop()
        if method is not None and len(members) > MAX_LINKAGE and level < 0.995:
            stricter = level + (1.0 - level) / 4
            inside = np.isin(rows, members) & np.isin(cols, members) & (scores >= stricter)
            pending.extend((c, stricter) for c in _components(x, rows[inside], cols[inside], n))
            continue
        for part in _split(x, members, sim, method, distances) if len(members) <= MAX_LINKAGE else [members]:
            if len(part) >= min_photos:
                groups.append(tuple(sorted(int(i) for i in ids[part])))
    return groups
