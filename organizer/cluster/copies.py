"""Duplicates as users mean them: every copy of one capture, however it was re-encoded, resized,
cropped, turned, toned, framed or screenshotted, and never the next frame of a burst.

1. Candidates, never all pairs: perceptual hashes within a distance (multi-index hashing, as
   `duplicates.near_pairs`) over the whole image and over the photo found inside a frame, and the
   CNN vectors' nearest neighbours above a recall-oriented cosine.
2. Each candidate pair is verified (`verify`): EXIF first (one camera, one DateTimeOriginal, other
   sub-seconds: two captures), then pixels (keypoints aligned by a similarity transform, pixel
   agreement after alignment). A pair is `SAME`, `UNSURE` (nothing decides it, or too little
   aligns) or `DIFFERENT` (EXIF says two captures, or it aligns and its pixels changed or moved).
3. Groups: photos linked by SAME pairs, then complete linkage over every pair of a linked set
   (SAME 0, UNSURE 0.5, DIFFERENT 1, cut below 1; pairs that were not candidates are judged by
   EXIF and `apart` alone): no group holds two photos known to be different captures, and near misses
   (UNSURE) link nothing.
   A video is hashed and verified by one decoded frame; it is never one capture with a still, nor
   with a video of another duration (`apart`).
4. The keeper (`keeper.choose_keeper`) and, per copy, how it differs from the keeper.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
from scipy.cluster.hierarchy import fcluster, linkage
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from organizer.cluster import duplicates, keeper, similar, verify
from organizer.cluster.differences import describe

log = logging.getLogger(__name__)

SAME, UNSURE, DIFFERENT = 0.0, 0.5, 1.0
DURATION_S, DURATION_SHARE = 0.5, 0.02  # two videos' durations agree within max(0.5 s, 2 % of the longer)
BATCH = 512  # pairs verified at a time (views loaded for them together)

Pixels = Callable[[Sequence[int]], Sequence[bytes | None]]


@dataclass(frozen=True)
class Settings:
    """The duplicate finder's knobs (config keys `duplicates.*`)."""

    phash_distance: int = 8  # hash candidates: pHash within this (whole image or the framed photo)
    dhash_distance: int = 12  # ... and dHash within this
    cosine: float = 0.75  # CNN candidates: nearest neighbours at least this alike
    neighbours: int = 10
    agreement: float = 0.88  # SAME: share of textured cells whose pixels agree after alignment
    disagreement: float = 0.6  # DIFFERENT: agreement below this
    # ... but not below this: so little agrees that the alignment, not the photos, is wrong (RANSAC
    # fitted a few chance matches; another capture aligned still agrees over most of the frame)
    misaligned: float = 0.25
    moved: int = 8  # SAME needs fewer matches than this moving together off the alignment
    subject: int = 5  # DIFFERENT: a region of this many grid cells displaced against the still rest
    # (a burst's subject that moved); EXIF's one capture overrides it
    burst_subject: int = 3  # ... this many for two frames alike, as a burst's are (same pixel size, neither
    # framed; a crop, a border or a screenshot against its original is not)
    min_inliers: int = 15
    min_cells: int = 30  # SAME needs at least this many textured cells to judge by
    max_component: int = 64  # linked sets up to this size are verified pair by pair
    hash_alone: int = 8  # pixels too flat or too small to align, with pHash and dHash both this close,
    # are one capture: what the hashes alone always said
    cache_views: int = 4096  # verification views kept in memory (about 0.1 MB each)
    threads: int = 1


@dataclass(frozen=True)
class Photos:
    """The columns the finder reads, one row per photo."""

    ids: np.ndarray  # int64
    phash: np.ndarray  # uint64, of the whole oriented image
    dhash: np.ndarray
    region_phash: np.ndarray  # uint64, of the photo found inside a frame
    region_dhash: np.ndarray
    framed: np.ndarray  # bool: a frame was found (the region hashes are meaningful)
    width: np.ndarray  # full size, after orientation
    height: np.ndarray
    file_size: np.ndarray
    chroma: np.ndarray  # float: colourfulness (dupefeatures.chroma)
    orientation: np.ndarray  # EXIF orientation tag, 1 when none
    formats: Sequence[str]
    captures: Sequence[verify.Capture]
    raw: np.ndarray  # bool (keeper.is_raw)
    paths: Sequence[tuple[str, int]]  # each photo's original path and its mtime in ns
    vectors: np.ndarray | None = None  # float16 (n, d), L2-normalised; None: no CNN candidates
    region_boxes: np.ndarray | None = None  # float (n, 4): x0, y0, x1, y1 of the region, fractions
    region_thumbnail: np.ndarray | None = None  # bool: the region has a thumbnail of its own
    video: np.ndarray | None = None  # bool: a video, hashed by one decoded frame; None: all stills
    duration: np.ndarray | None = None  # float: a video's seconds, NaN when unknown

    def __len__(self) -> int:
        return len(self.ids)


@dataclass(frozen=True)
class Copy:
    id: int
    differences: tuple[str, ...]  # how it differs from the keeper: "smaller", "cropped", "screenshot", ...


@dataclass(frozen=True)
class DuplicateGroup:
    keeper: int
    copies: tuple[Copy, ...]

    @property
    def members(self) -> tuple[int, ...]:
        return tuple(sorted([self.keeper, *(c.id for c in self.copies)]))


class _Verifier:
    """Pair outcomes, with the verification views of recently used photos kept in an LRU cache."""

    def __init__(self, photos: Photos, pixels: Pixels, settings: Settings,
                 known: dict[tuple[int, int], verify.Match] | None) -> None:
        self.photos, self.pixels, self.settings = photos, pixels, settings
        self.known = known if known is not None else {}
        self.views: OrderedDict[int, verify.View | None] = OrderedDict()
        self.matches: dict[tuple[int, int], verify.Match] = {}
        self.outcome: dict[tuple[int, int], float] = {}
        self.pool = ThreadPoolExecutor(settings.threads) if settings.threads > 1 else None

    def _map(self, fn: Callable, items: Sequence) -> list:
        return list(self.pool.map(fn, items)) if self.pool else [fn(x) for x in items]

    def _load(self, rows: Sequence[int]) -> None:
        missing = sorted({r for r in rows if r not in self.views})
        if missing:
            blobs = self.pixels([int(self.photos.ids[r]) for r in missing])
            for r, v in zip(missing, self._map(self._view, list(zip(missing, blobs)))):
                self.views[r] = v
        for r in rows:
            self.views.move_to_end(r)
        while len(self.views) > max(self.settings.cache_views, len(rows)):
            self.views.popitem(last=False)

    def _view(self, item: tuple[int, bytes | None]) -> verify.View | None:
        """A framed photo without a thumbnail of its own is seen through the index's, cropped."""
        row, blob = item
        p = self.photos
        crop = p.framed[row] and p.region_boxes is not None and not (p.region_thumbnail is not None
                                                                      and p.region_thumbnail[row])
        return verify.view(blob, tuple(p.region_boxes[row]) if crop else None)  # type: ignore[index, arg-type]

    def judge(self, pairs: Sequence[tuple[int, int]]) -> None:
        """Verify `pairs` (row indices, i < j) not verified yet: EXIF first, pixels for the rest."""
        todo = []
        ids = self.photos.ids
        for pair in dict.fromkeys(pairs):
            if pair in self.outcome:
                continue
            exif = verify.same_capture(self.photos.captures[pair[0]], self.photos.captures[pair[1]])
            a, b = int(ids[pair[0]]), int(ids[pair[1]])
            stored = self.known.get((a, b))
            if stored is None and (b, a) in self.known:  # rows came in another order this time
                stored = self.known[b, a].flipped()
            if exif is False:
                self.outcome[pair] = DIFFERENT
            elif stored is not None:  # measured by an earlier run: no pixels needed
                self.matches[pair] = stored
                self.outcome[pair] = self._outcome(stored, exif, self._frames(pair))
            else:
                todo.append(pair)
        for start in range(0, len(todo), BATCH):
            batch = todo[start:start + BATCH]
            self._load([r for p in batch for r in p])
            for pair, (outcome, found) in zip(batch, self._map(self._one, batch)):
                self.outcome[pair] = outcome
                if found is not None:
                    self.matches[pair] = found
                    self.known[int(ids[pair[0]]), int(ids[pair[1]])] = found

    def _one(self, pair: tuple[int, int]) -> tuple[float, verify.Match | None]:
        outcome, found = self._verified(pair)
        i, j = pair
        s, p = self.settings, self.photos
        seen = self.views.get(i) is not None and self.views.get(j) is not None  # unreadable pixels decide nothing
        if outcome == UNSURE and seen and (duplicates.popcount(p.phash[i] ^ p.phash[j]) <= s.hash_alone
                                  and duplicates.popcount(p.dhash[i] ^ p.dhash[j]) <= s.hash_alone):
            return SAME, found
        return outcome, found

    def _verified(self, pair: tuple[int, int]) -> tuple[float, verify.Match | None]:
        i, j = pair
        s, p = self.settings, self.photos
        exif = verify.same_capture(p.captures[i], p.captures[j])
        a, b = self.views.get(i), self.views.get(j)
        if a is None or b is None:
            return (SAME if exif else UNSURE), None
        found = None
        if not (p.framed[i] or p.framed[j]) and (duplicates.popcount(p.phash[i] ^ p.phash[j]) <= s.phash_distance
                                                 and duplicates.popcount(p.dhash[i] ^ p.dhash[j]) <= s.dhash_distance):
            # hashes this close: most likely a plain re-encode (or, closer still, a stretched resize)
            found = verify.match_in_place(a, b, stretch=max(duplicates.popcount(p.phash[i] ^ p.phash[j]),
                                                            duplicates.popcount(p.dhash[i] ^ p.dhash[j])) <= 2)
            if found is None or found.agreement is None or found.agreement < s.agreement or found.cells < s.min_cells:
                found = None
        if found is None:
            found = verify.match(a, b)
        return self._outcome(found, exif, self._frames(pair)), found

    def _frames(self, pair: tuple[int, int]) -> bool:
        """Two frames alike, as a burst's are: the same pixel size, neither framed."""
        p, (i, j) = self.photos, pair
        return bool(p.width[i] == p.width[j] and p.height[i] == p.height[j] and not (p.framed[i] or p.framed[j]))

    def _outcome(self, found: verify.Match, exif: bool | None, frames: bool = False) -> float:
        """What the pixels say; EXIF's one capture confirms what they do not contradict, and
        outweighs a subject that seemed to move (`frames`: the pair could be a burst's, which
        lowers the region that counts as one)."""
        s = self.settings
        if found.agreement is None or 0 <= found.inliers < s.min_inliers or found.agreement < s.misaligned:
            return SAME if exif else UNSURE  # no alignment: the pixels cannot tell (too little overlap, too small)
        if found.agreement < s.disagreement or found.moved >= 2 * s.moved:
            return DIFFERENT  # aligned, yet much of it changed or moved: another capture
        if exif:
            return SAME
        if found.subject >= (s.burst_subject if frames else s.subject):
            return DIFFERENT  # the background agrees, a subject moved: the next frame
        if found.agreement >= s.agreement and found.moved < s.moved and found.cells >= s.min_cells:
            return SAME
        return UNSURE

    def judged(self, pair: tuple[int, int]) -> float:
        """The verified outcome of a pair, or for one never verified what `apart` and EXIF say."""
        if pair in self.outcome:
            return self.outcome[pair]
        if apart(self.photos, pair[0], pair[1]):
            return DIFFERENT
        same = verify.same_capture(self.photos.captures[pair[0]], self.photos.captures[pair[1]])
        return DIFFERENT if same is False else UNSURE

    def close(self) -> None:
        if self.pool:
            self.pool.shutdown()


def candidates(photos: Photos, settings: Settings, informative: np.ndarray,
               near: np.ndarray | None = None) -> np.ndarray:
    """Candidate pairs of rows (i < j), unique, as an (k, 2) array. `near` may hold each row's
    nearest neighbours by CNN vector (as `similar.neighbours` returns them) to share that work."""
    rows = np.flatnonzero(informative & (_clip_key(photos) >= 0))
    framed = rows[photos.framed[rows]]
    owner = np.concatenate([rows, framed])
    ph = np.concatenate([photos.phash[rows], photos.region_phash[framed]])
    dh = np.concatenate([photos.dhash[rows], photos.region_dhash[framed]])
    found = [_hash_pairs(photos, owner, ph, dh, settings)]
    if photos.vectors is not None and len(photos) > 1:
        found.append(_vector_pairs(photos.vectors, settings, near))
    pairs = np.concatenate(found)
    pairs = np.sort(pairs, axis=1)
    pairs = pairs[pairs[:, 0] != pairs[:, 1]]
    keep = informative[pairs[:, 0]] & informative[pairs[:, 1]] & ~apart(photos, pairs[:, 0], pairs[:, 1])
    return np.unique(pairs[keep], axis=0) if len(pairs) else pairs


def apart(photos: Photos, i: np.ndarray | int, j: np.ndarray | int) -> np.ndarray:
    """Pairs of rows that are never one capture, however alike their pixels: a video and a still
    (a Live Photo's MOV and its still are companions, not copies), and two videos whose durations
    do not agree (another cut of a clip; an unknown duration agrees with none)."""
    if photos.video is None or photos.duration is None:
        return np.zeros(np.shape(i), dtype=bool)
    video_i, video_j = photos.video[i], photos.video[j]
    a, b = photos.duration[i], photos.duration[j]
    agree = np.abs(a - b) <= np.maximum(DURATION_S, DURATION_SHARE * np.fmax(a, b))
    return (video_i != video_j) | (video_i & video_j & ~agree)


def _clip_key(photos: Photos) -> np.ndarray:
    """Per row: 0 for a still, 1 + the duration in ms for a video, -1 for a video of unknown
    duration (one with no candidates)."""
    if photos.video is None or photos.duration is None:
        return np.zeros(len(photos), dtype=np.int64)
    ms = np.round(np.nan_to_num(photos.duration, nan=-1.0) * 1000).astype(np.int64)
    return np.where(photos.video, np.where(ms >= 0, ms + 1, -1), 0)


def _hash_pairs(photos: Photos, owner: np.ndarray, ph: np.ndarray, dh: np.ndarray, settings: Settings) -> np.ndarray:
    # a point is one hash pair of one kind and duration, so that a point's photos can be one capture
    # (a video's frame may hash as a still, or as another cut, does: those are separate points)
    clip = _clip_key(photos)[owner].view(np.uint64)
    points, first, inverse = np.unique(np.stack([ph, dh, clip], axis=1), axis=0, return_index=True,
                                       return_inverse=True)
    inverse = inverse.reshape(-1)
    # photos sharing one point: each linked to the point's first photo
    same = np.stack([owner[first[inverse]], owner], axis=1)
    near = duplicates.near_pairs(points[:, 0].copy(), settings.phash_distance)
    if len(near):
        close = duplicates.popcount(points[near[:, 0], 1] ^ points[near[:, 1], 1]) <= settings.dhash_distance
        near = near[close]
    between = np.stack([owner[first[near[:, 0]]], owner[first[near[:, 1]]]], axis=1) if len(near) else same[:0]
    # points of one hash but other kinds or durations are near pairs too: kept only when they can be one capture
    return np.concatenate([same, between[~apart(photos, between[:, 0], between[:, 1])]])


def _vector_pairs(vectors: np.ndarray, settings: Settings, near: np.ndarray | None) -> np.ndarray:
    x = np.ascontiguousarray(vectors, dtype=np.float16)
    if near is None:
        near = similar.neighbours(x, settings.neighbours, settings.threads)
    left = np.repeat(np.arange(len(x)), near.shape[1])
    right = near.ravel()
    scores = np.empty(len(left), dtype=np.float32)
    for s in range(0, len(left), similar.CHUNK):
        a = x[left[s:s + similar.CHUNK]].astype(np.float32)
        b = x[right[s:s + similar.CHUNK]].astype(np.float32)
        scores[s:s + similar.CHUNK] = np.einsum("ij,ij->i", a, b)
    keep = scores >= settings.cosine
    return np.stack([left[keep], right[keep]], axis=1)


def _linked_sets(n: int, pairs: list[tuple[int, int]]) -> list[np.ndarray]:
    if not pairs:
        return []
    rows, cols = np.array(pairs).T
    graph = coo_matrix((np.ones(len(rows), dtype=np.int8), (rows, cols)), shape=(n, n))
    _, labels = connected_components(graph, directed=False)
    order = np.argsort(labels, kind="stable")
    runs = np.split(order, np.flatnonzero(np.diff(labels[order])) + 1)
    return [r for r in runs if len(r) >= 2]


def _split(members: np.ndarray, judge: _Verifier, settings: Settings) -> list[np.ndarray]:
    """Complete linkage over the members' pair outcomes: candidate pairs as verified, every other
    pair by EXIF alone (DIFFERENT when it says two captures, else UNSURE). A set too large for
    linkage is split greedily: each member joins the first part it has no DIFFERENT pair in."""
    k = len(members)
    if k <= settings.max_component:
        i, j = np.triu_indices(k, 1)
        dist = np.array([judge.judged(p) for p in zip(members[i].tolist(), members[j].tolist())])
        if k == 2:
            return [members] if dist[0] < DIFFERENT else []
        labels = fcluster(linkage(dist, method="complete"), t=0.75, criterion="distance")
        return [members[labels == label] for label in np.unique(labels)]
    parts: list[list[int]] = []
    for m in members.tolist():
        for part in parts:
            if all(judge.judged((min(m, p), max(m, p))) < DIFFERENT for p in part):
                part.append(m)
                break
        else:
            parts.append([m])
    return [np.array(p) for p in parts]


def find_copies(photos: Photos, pixels: Pixels, settings: Settings = Settings(), near: np.ndarray | None = None,
                known: dict[tuple[int, int], verify.Match] | None = None) -> list[DuplicateGroup]:
    """Groups of at least two photos that are one capture, each with its keeper and, per copy, how
    it differs from the keeper. `pixels(ids)` returns each photo's verification thumbnail (JPEG
    bytes: the framed photo's own thumbnail when it has one, else the index's thumbnail, which is
    cropped here to the region of a framed photo; None when unavailable, then only EXIF can
    confirm it). `near`: CNN neighbours already computed (shared
    with the similar groups). `known`: pixel measurements of earlier runs, keyed by (id, id), either
    order; pairs found there are not verified again, and every new
    measurement is added to it (as (id of the lower row, id of the higher row)), so a caller that
    keeps it (with verify.VERSION) verifies each pair once across reclusters."""
    informative = duplicates.informative(photos.dhash)
    pairs = candidates(photos, settings, informative, near)
    log.debug("duplicates: %d candidate pairs among %d photos", len(pairs), len(photos))
    judge = _Verifier(photos, pixels, settings, known)
    try:
        judge.judge([tuple(p) for p in pairs.tolist()])
        linked = [p for p, outcome in judge.outcome.items() if outcome == SAME]
        groups = []
        for members in _linked_sets(len(photos), linked):
            for part in _split(members, judge, settings):
                if len(part) >= 2:
                    groups.append(_group(photos, part, judge))
    finally:
        judge.close()
    return sorted(groups, key=lambda g: g.members)


def _group(photos: Photos, rows: np.ndarray, judge: _Verifier) -> DuplicateGroup:
    members = [keeper.Candidate(
        raw=bool(photos.raw[r]), framed=bool(photos.framed[r]),
        pixels=int(photos.width[r]) * int(photos.height[r]),
        has_camera=bool(photos.captures[r].camera and photos.captures[r].taken),
        path=photos.paths[r][0], mtime_ns=photos.paths[r][1], file_size=int(photos.file_size[r])) for r in rows]
    k = int(rows[keeper.choose_keeper(members)])
    copies = []
    for r in rows.tolist():
        if r == k:
            continue
        found = judge.matches.get((k, r))
        if found is None and (r, k) in judge.matches:
            found = judge.matches[(r, k)].flipped()
        copies.append(Copy(int(photos.ids[r]), describe(photos, k, r, found)))
    return DuplicateGroup(int(photos.ids[k]), tuple(sorted(copies, key=lambda c: c.id)))
