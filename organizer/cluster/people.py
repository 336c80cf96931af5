"""Persons: faces grouped by their descriptors (dlib's 128-d, where the same person is at a median
Euclidean distance of about 0.54 and different people at about 0.85).

Chinese whispers (dlib's own method for its descriptors): faces closer than `max_distance` are
linked; each face takes the label most of its links carry, in a seeded order, until no label
changes. A person is the photos its faces are in. Pure numpy; the distance matrix is computed in
blocks, so memory is O(faces x block), time O(faces^2) (a few seconds at 20k faces).

The user's decisions (merge, split, forget) are pins: a face pinned to a person's key belongs to
it, a face pinned to None is nobody's. Within a chinese-whispers cluster that holds pinned faces,
every other face goes where its nearest pinned face is, so new photos follow the decisions.

Labels: a face inside a named MWG region of its photo's XMP (digiKam, Lightroom, Apple) carries that
name (`labels`); the persons are found from the descriptors alone, the labels only name them."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

BLOCK = 2048
ROUNDS = 100
LABEL_IOU = 0.3  # a face and a region this much overlapping (intersection over union) match

# a point (fractions of the image as stored) where the EXIF orientation puts it in the image as shown
_TURN: dict[int, Callable[[float, float], tuple[float, float]]] = {
    2: lambda u, v: (1 - u, v), 3: lambda u, v: (1 - u, 1 - v), 4: lambda u, v: (u, 1 - v),
    5: lambda u, v: (v, u), 6: lambda u, v: (1 - v, u), 7: lambda u, v: (1 - v, 1 - u), 8: lambda u, v: (v, 1 - u)}


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


def nearest(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For each row of `x`, the index of its nearest row of `y` (Euclidean) and that distance;
    in blocks of rows, so memory is O(block x len(y))."""
    x, y = np.asarray(x, dtype=np.float32), np.asarray(y, dtype=np.float32)
    sy = (y * y).sum(axis=1)
    index, distance = np.zeros(len(x), dtype=np.int64), np.zeros(len(x), dtype=np.float32)
    for start in range(0, len(x), BLOCK):
        block = x[start:start + BLOCK]
        d2 = (block * block).sum(axis=1)[:, None] + sy[None, :] - 2.0 * (block @ y.T)
        index[start:start + BLOCK] = best = np.argmin(d2, axis=1)
        distance[start:start + BLOCK] = np.sqrt(np.maximum(d2[np.arange(len(block)), best], 0.0))
    return index, distance


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


def region_box(x: float, y: float, w: float, h: float, orientation: int | None) -> tuple[float, float, float, float]:
    """An MWG region (centre and size, fractions of the image as stored: digiKam and Lightroom
    write them before the EXIF orientation turns the image) as (left, top, right, bottom)
    fractions of the image as shown, the faces' frame."""
    turn = _TURN.get(orientation or 1, lambda u, v: (u, v))
    (u0, v0), (u1, v1) = turn(x - w / 2, y - h / 2), turn(x + w / 2, y + h / 2)
    return (max(min(u0, u1), 0.0), max(min(v0, v1), 0.0), min(max(u0, u1), 1.0), min(max(v0, v1), 1.0))


def _inside(point: tuple[float, float], box: Sequence[float]) -> bool:
    return box[0] <= point[0] <= box[2] and box[1] <= point[1] <= box[3]


def labels(boxes: np.ndarray, regions: Sequence[tuple[str, tuple[float, float, float, float]]]) -> list[str | None]:
    """The name each face of a photo (boxes: left, top, right, bottom) takes from the photo's named
    regions (name, box in the same frame): a face and a region match when their intersection over
    union is at least LABEL_IOU or each one's centre is inside the other (a region drawn around
    the whole head holds dlib's tighter box); best overlap first, a region names one face at most."""
    pairs = []
    for f, face in enumerate(np.asarray(boxes, dtype=np.float64).tolist()):
        for r, (_, box) in enumerate(regions):
            width = min(face[2], box[2]) - max(face[0], box[0])
            height = min(face[3], box[3]) - max(face[1], box[1])
            common = max(width, 0.0) * max(height, 0.0)
            union = (face[2] - face[0]) * (face[3] - face[1]) + (box[2] - box[0]) * (box[3] - box[1]) - common
            iou = common / union if union > 0 else 0.0
            centres = (_inside(((face[0] + face[2]) / 2, (face[1] + face[3]) / 2), box)
                       and _inside(((box[0] + box[2]) / 2, (box[1] + box[3]) / 2), face))
            if iou >= LABEL_IOU or centres:
                pairs.append((-iou, f, r))
    out: list[str | None] = [None] * len(boxes)
    taken: set[int] = set()
    for _, f, r in sorted(pairs):
        if out[f] is None and r not in taken:
            out[f] = regions[r][0]
            taken.add(r)
    return out


@dataclass(frozen=True)
class LibraryFaces:
    """The library's faces, one row each: its photo, its number among that photo's faces, its
    descriptor, the name its photo's XMP regions give it (else None); and the user's pins (face
    row -> person key, or None: not a person)."""

    photo_of: np.ndarray
    number: np.ndarray
    descriptors: np.ndarray
    pins: dict[int, str | None]
    labels: Sequence[str | None]


@dataclass(frozen=True)
class Person:
    """A person: its faces (indices), the photos they are in, and the key the user's pins gave it
    (None: a person found, whose key the identity matching keeps)."""

    faces: tuple[int, ...]
    photos: frozenset[int]
    key: str | None = None


def find_people(photo_of: np.ndarray, descriptors: np.ndarray, max_distance: float, min_faces: int,
                pins: Mapping[int, str | None] | None = None) -> list[Person]:
    """Persons with at least `min_faces` faces (a pinned person: any number), largest first;
    `photo_of[i]` is the photo of face i, `pins` face -> key or None (not a person)."""
    if not len(photo_of):
        return []
    pins = pins or {}
    labels = whispers(descriptors, max_distance)
    found: list[Person] = []
    pinned: dict[str, list[int]] = {}
    for label in range(labels.max() + 1):
        faces = np.flatnonzero(labels == label)
        held = np.array([f for f in faces if f in pins], dtype=np.int64)
        if not len(held):
            if len(faces) >= min_faces:
                found.append(Person(tuple(int(f) for f in faces), frozenset(int(p) for p in photo_of[faces])))
            continue
        for face, near in zip(faces, held[nearest(descriptors[faces], descriptors[held])[0]]):
            key = pins[int(face)] if int(face) in pins else pins[int(near)]
            if key is not None:
                pinned.setdefault(key, []).append(int(face))
    found += [Person(tuple(sorted(faces)), frozenset(int(photo_of[f]) for f in faces), key)
              for key, faces in pinned.items()]
    return sorted(found, key=lambda p: (-len(p.photos), min(p.photos), p.key or ""))
