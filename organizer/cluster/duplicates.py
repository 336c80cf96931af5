"""Duplicates: photos whose pHash and dHash are both within a Hamming distance, found without an
all-pairs comparison.

Candidate pairs come from exact multi-index hashing: the 64 bits are split into `d + 3` blocks, so
two hashes within distance `d` agree exactly on at least three blocks; every combination of three
blocks is a sort key, and hashes with equal keys are candidates. This finds every pair within `d`
(recall 1.0) in O(C(d+3, 3) * n log n), with memory linear in n.
"""

from __future__ import annotations

from itertools import combinations

import numpy as np
from scipy.cluster.hierarchy import fcluster, linkage
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

EXACT_BLOCKS = 3
FEATURELESS_BITS = 2
MAX_LINKAGE = 3000  # components up to this size are split by complete linkage


def popcount(values: np.ndarray) -> np.ndarray:
    return np.bitwise_count(values).astype(np.int64)


def hex_to_u64(values: list[str]) -> np.ndarray:
    return np.array([int(v, 16) for v in values], dtype=np.uint64)


def informative(dhash: np.ndarray) -> np.ndarray:
    """False for featureless images (blank, uniform or pure gradients: a dHash with almost no bits
    set, or almost all)."""
    bits = popcount(dhash)
    return (bits > FEATURELESS_BITS) & (bits < 64 - FEATURELESS_BITS)


def _block_masks(max_distance: int) -> list[np.uint64]:
    blocks = max_distance + EXACT_BLOCKS
    edges = np.linspace(0, 64, blocks + 1).round().astype(int)
    masks = [sum(1 << b for b in range(lo, hi)) for lo, hi in zip(edges[:-1], edges[1:])]
    return [np.uint64(sum(masks[i] for i in combo)) for combo in combinations(range(blocks), EXACT_BLOCKS)]


def near_pairs(hashes: np.ndarray, max_distance: int, max_bucket: int = 2000) -> np.ndarray:
    """All index pairs (i < j) with Hamming distance <= `max_distance`, as an (k, 2) array.

    Hashes should be distinct (collapse equal ones first). A bucket larger than `max_bucket` (a
    degenerate key shared by very many hashes) is compared in slices to bound memory.
    """
    n = len(hashes)
    found: list[np.ndarray] = []
    if n < 2:
        return np.empty((0, 2), dtype=np.int64)
    for mask in _block_masks(max_distance):
        keys = hashes & mask
        order = np.argsort(keys, kind="stable")
        sorted_keys = keys[order]
        starts = np.flatnonzero(np.r_[True, sorted_keys[1:] != sorted_keys[:-1]])
        sizes = np.diff(np.r_[starts, n])
        for size in np.unique(sizes[sizes > 1]):
            group_starts = starts[sizes == size]
            if size <= max_bucket:
                members = order[group_starts[:, None] + np.arange(size)]  # (groups, size)
                a, b = np.triu_indices(size, 1)
                left, right = members[:, a].ravel(), members[:, b].ravel()
                close = popcount(hashes[left] ^ hashes[right]) <= max_distance
                found.append(np.stack([left[close], right[close]], axis=1))
            else:
                for start in group_starts:
                    bucket = order[start : start + size]
                    for i in range(0, size, max_bucket):
                        block = bucket[i : i + max_bucket]
                        dist = popcount(hashes[block][:, None] ^ hashes[bucket][None, :])
                        li, ri = np.nonzero(dist <= max_distance)
                        found.append(np.stack([block[li], bucket[ri]], axis=1))
    if not found:
        return np.empty((0, 2), dtype=np.int64)
    pairs = np.concatenate(found)
    pairs = np.sort(pairs, axis=1)
    pairs = pairs[pairs[:, 0] != pairs[:, 1]]
    return np.unique(pairs, axis=0)


def find_duplicates(
    ids: np.ndarray,
    phash: np.ndarray,
    dhash: np.ndarray,
    phash_max: int,
    dhash_max: int,
) -> list[tuple[int, ...]]:
    """Groups (of photo ids, at least two each) linked by pHash <= `phash_max` and dHash <= `dhash_max`.

    Featureless images (blank, uniform or pure gradients: a dHash with almost no bits set, or almost
    all) carry no evidence and are left out; identical bytes are found by digest elsewhere.
    """
    keep = informative(dhash)
    ids, phash, dhash = ids[keep], phash[keep], dhash[keep]
    n = len(ids)
    if n < 2:
        return []
    # identical (pHash, dHash) values collapse first: they are duplicates of each other outright
    combined = np.stack([phash, dhash], axis=1)
    unique, inverse = np.unique(combined, axis=0, return_inverse=True)
    inverse = inverse.reshape(-1)
    pairs = near_pairs(unique[:, 0].copy(), phash_max)
    if len(pairs):
        keep = popcount(unique[pairs[:, 0], 1] ^ unique[pairs[:, 1], 1]) <= dhash_max
        pairs = pairs[keep]
    m = len(unique)
    # photos -> their unique-hash node, and confirmed pairs between nodes
    rows = np.concatenate([np.arange(n), pairs[:, 0] + n])
    cols = np.concatenate([inverse + n, pairs[:, 1] + n])
    graph = coo_matrix((np.ones(len(rows), dtype=np.int8), (rows, cols)), shape=(n + m, n + m))
    _, labels = connected_components(graph, directed=False)
    photo_labels = labels[:n]
    order = np.argsort(photo_labels, kind="stable")
    groups = []
    for run in np.split(order, np.flatnonzero(np.diff(photo_labels[order])) + 1):
        if len(run) < 2:
            continue
        for part in _cliques(phash[run], dhash[run], phash_max, dhash_max):
            if len(part) >= 2:
                groups.append(tuple(sorted(int(i) for i in ids[run[part]])))
    return groups


def _cliques(phash: np.ndarray, dhash: np.ndarray, phash_max: int, dhash_max: int) -> list[np.ndarray]:
    """Split a linked component so that every two members of a part are within both thresholds:
    a chain X~A~B~Y of small steps never joins unrelated X and Y. Complete linkage on the larger
    of the two normalised distances; a very large component is split greedily around leaders."""
    k = len(phash)
    p_scale, d_scale = max(phash_max, 1), max(dhash_max, 1)

    def distance(i: np.ndarray, j: np.ndarray) -> np.ndarray:
        return np.maximum(popcount(phash[i] ^ phash[j]) / p_scale, popcount(dhash[i] ^ dhash[j]) / d_scale)

    if k == 2:
        return [np.arange(2)] if distance(np.array([0]), np.array([1]))[0] <= 1 else []
    if k <= MAX_LINKAGE:
        i, j = np.triu_indices(k, 1)
        labels = fcluster(linkage(distance(i, j), method="complete"), t=1.0, criterion="distance")
        return [np.flatnonzero(labels == label) for label in np.unique(labels)]
    parts: list[list[int]] = []
    leaders: list[int] = []
    for m in range(k):
        if leaders:
            near = distance(np.array(leaders), np.full(len(leaders), m)) <= 0.5  # within half: pairs within 1
            if near.any():
                parts[int(np.argmax(near))].append(m)
                continue
        leaders.append(m)
        parts.append([m])
    return [np.array(p) for p in parts]
