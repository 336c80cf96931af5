"""Persons: faces grouped by their descriptors (dlib's 128-d, where the same person is at a median
Euclidean distance of about 0.54 and different people at about 0.85).

Chinese whispers (dlib's own method for its descriptors): faces closer than `max_distance` are
linked; each face takes the label most of its links carry, in a seeded order, until no label
changes. A person is the photos its faces are in. Pure numpy; the distance matrix is computed in
blocks, so memory is O(faces x block), time O(faces^2) (a few seconds at 20k faces)."""

from __future__ import annotations

import numpy as np

BLOCK = 2048
ROUNDS = 100


def links(descriptors: np.ndarray, max_distance: float) -> list[np.ndarray]:
    """Each face's neighbours (indices) within `max_distance`, itself excluded."""
    x = np.ascontiguousarray(descriptors, dtype=np.float32)
    sq = (x * x).sum(axis=1)
    out: list[np.ndarray] = []
    for start in range(0, len(x), BLOCK):
        d2 = sq[start:start + BLOCK, None] + sq[None, :] - 2.0 * (x[start:start + BLOCK] @ x.T)
        for i, row in enumerate(d2 <= max_distance * max_distance):
            row[start + i] = False
            out.append(np.flatnonzero(row))
    return out


def whispers(descriptors: np.ndarray, max_distance: float, seed: int = 0) -> np.ndarray:
    """A label per face (0..k-1, in order of first appearance)."""
    near = links(descriptors, max_distance)
    labels = np.arange(len(near))
    rng = np.random.default_rng(seed)
    for _ in range(ROUNDS):
        changed = False
        for i in rng.permutation(len(near)):
            if len(near[i]):
                values, counts = np.unique(labels[near[i]], return_counts=True)
                best = values[np.argmax(counts)]  # ties: the smallest label
                if best != labels[i]:
                    labels[i], changed = best, True
        if not changed:
            break
    _, first, inverse = np.unique(labels, return_index=True, return_inverse=True)
    order = np.argsort(np.argsort(first))
    return order[inverse]


def find_people(photo_of: np.ndarray, descriptors: np.ndarray, max_distance: float, min_faces: int) -> list[frozenset[int]]:
    """Persons (the photo ids their faces are in) with at least `min_faces` faces, largest first;
    `photo_of[i]` is the photo of face i."""
    if not len(photo_of):
        return []
    labels = whispers(descriptors, max_distance)
    people = []
    for label in range(labels.max() + 1):
        faces = np.flatnonzero(labels == label)
        if len(faces) >= min_faces:
            people.append(frozenset(int(p) for p in photo_of[faces]))
    return sorted(people, key=lambda p: (-len(p), min(p)))
