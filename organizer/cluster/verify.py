"""Is a candidate pair one capture? Pixels and metadata as evidence, for candidate pairs only.

Pixels: ORB keypoints of each photo's small thumbnail (the JPEG the index keeps), matched both
ways, and a similarity transform (turn, scale, shift) fitted by RANSAC. A copy (re-encoded,
resized, cropped, turned, framed, toned) aligns with most matches as inliers and a sub-pixel
residual, and after alignment its pixels agree with the other's in nearly every textured cell
of a grid; the next frame of a burst aligns too (the background) but its moving subject leaves
cells that disagree.

Metadata: the same camera and DateTimeOriginal with the same sub-seconds is one capture; the same
camera with other seconds or other sub-seconds is another capture, whatever the pixels say.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timezone

import cv2
import numpy as np

ORB_FEATURES = 200
ORB_LEVELS = 4  # thumbnails of one capture differ in scale by crops and frames only
RATIO = 0.8  # Lowe's ratio test on the two nearest descriptors
RANSAC_PX = 3.0  # inlier distance after alignment, pixels of the thumbnail
MIN_INLIERS = 12
MOTION_PX = 2.0
CELL = 16  # pixels of the agreement grid
TEXTURED = 5.0  # a cell's grey standard deviation, in both images, to count as evidence
AGREE_NCC = 0.9  # a cell agrees when its normalised cross-correlation reaches this
BLUR_SIGMA = 1.0
TIMEZONE_STEP_S = 900  # a copy whose clock was shifted by whole quarters of an hour is not evidence

VERSION = 1  # bumped when a Match of the same pixels would measure differently (stored matches expire)

cv2.setNumThreads(1)  # callers parallelise over pairs; OpenCV's own threads would fight them


class View:
    """One photo's pixels as verification uses them: the grey thumbnail, and its ORB keypoints
    once a pair needs them (a pair of re-encoded or resized copies is judged without)."""

    def __init__(self, grey: np.ndarray) -> None:
        self.grey = grey
        self._keypoints: tuple[np.ndarray, np.ndarray | None] | None = None

    def keypoints(self) -> tuple[np.ndarray, np.ndarray | None]:
        """(points float32 (k, 2), descriptors uint8 (k, 32) or None)."""
        if self._keypoints is None:
            orb = cv2.ORB_create(nfeatures=ORB_FEATURES, nlevels=ORB_LEVELS, edgeThreshold=15, patchSize=15,
                                 fastThreshold=10)
            found, descriptors = orb.detectAndCompute(self.grey, None)
            self._keypoints = np.array([k.pt for k in found], dtype=np.float32).reshape(-1, 2), descriptors
        return self._keypoints


@dataclass(frozen=True)
class Match:
    """How photo b sits on photo a: `inliers` of the alignment (-1: laid over as it is, no keypoints
    needed), `scale` is b's pixels per a's (thumbnails), `angle` in degrees,
    `cover_a`/`cover_b` the share of each that the other shows, `agreement` the share of textured
    cells whose pixels agree after alignment (None when no alignment was found)."""

    inliers: int
    moved: int  # the largest set of other matches that move together: a subject that moved
    residual: float
    scale: float
    angle: float
    cover_a: float
    cover_b: float
    agreement: float | None
    cells: int
    width_a: int = 0  # the thumbnails' widths the measurement was made on
    width_b: int = 0

    def flipped(self) -> Match:
        """The same measurement seen from b: scale inverted, angle negated, sides swapped."""
        return Match(self.inliers, self.moved, self.residual, 1.0 / max(self.scale, 1e-9), -self.angle, self.cover_b,
                     self.cover_a, self.agreement, self.cells, self.width_b, self.width_a)


NO_MATCH = Match(0, 0, math.inf, 1.0, 0.0, 0.0, 0.0, None, 0)


def view(jpeg: bytes | None, box: tuple[float, float, float, float] | None = None) -> View | None:
    """The verification view of a thumbnail (any format OpenCV decodes), cropped to `box` (x0, y0,
    x1, y1 in fractions) when given, or None if unreadable."""
    if not jpeg:
        return None
    try:
        grey = cv2.imdecode(np.frombuffer(jpeg, dtype=np.uint8), cv2.IMREAD_GRAYSCALE)
    except cv2.error:
        return None
    if grey is not None and box is not None:
        h, w = grey.shape
        grey = np.ascontiguousarray(grey[round(box[1] * h):round(box[3] * h), round(box[0] * w):round(box[2] * w)])
    if grey is None or min(grey.shape) < 16:
        return None
    return View(grey)


def _matches(a: View, b: View) -> tuple[np.ndarray, np.ndarray]:
    """Matched points (in a, in b): each of a's descriptors to its nearest in b, when clearly
    nearer than the second nearest (Lowe's ratio test)."""
    (pa, da), (pb, db) = a.keypoints(), b.keypoints()
    if da is None or db is None or len(pa) < 2 or len(pb) < 2:
        return np.empty((0, 2), np.float32), np.empty((0, 2), np.float32)
    found = [(m[0].queryIdx, m[0].trainIdx) for m in cv2.BFMatcher(cv2.NORM_HAMMING).knnMatch(da, db, k=2)
             if len(m) == 2 and m[0].distance < RATIO * m[1].distance]
    if not found:
        return np.empty((0, 2), np.float32), np.empty((0, 2), np.float32)
    ia, ib = np.array(found).T
    return pa[ia], pb[ib]


def _cells(x: np.ndarray, h: int, w: int) -> np.ndarray:
    return x[:h, :w].reshape(h // CELL, CELL, w // CELL, CELL).swapaxes(1, 2).reshape(-1, CELL * CELL)


def _ncc(ca: np.ndarray, cb: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per-cell normalised cross-correlation, and each side's standard deviation."""
    ca, cb = ca - ca.mean(axis=1, keepdims=True), cb - cb.mean(axis=1, keepdims=True)
    sa, sb = np.sqrt((ca ** 2).mean(axis=1)), np.sqrt((cb ** 2).mean(axis=1))
    return (ca * cb).mean(axis=1) / np.maximum(sa * sb, 1e-6), sa, sb


def _agreement(a: np.ndarray, b_in_a: np.ndarray, inside: np.ndarray) -> tuple[float | None, int]:
    """Share of textured grid cells (fully inside the overlap) where the aligned pixels agree,
    both blurred a little first so that resampling and JPEG noise do not count as change."""
    h, w = (a.shape[0] // CELL) * CELL, (a.shape[1] // CELL) * CELL
    if h == 0 or w == 0:
        return None, 0
    blur_a = cv2.GaussianBlur(a, (0, 0), BLUR_SIGMA).astype(np.float32)
    blur_b = cv2.GaussianBlur(b_in_a, (0, 0), BLUR_SIGMA).astype(np.float32)
    full = _cells(inside.astype(np.float32), h, w).min(axis=1) > 0
    ncc, sa, sb = _ncc(_cells(blur_a, h, w), _cells(blur_b, h, w))
    textured = full & (sa >= TEXTURED) & (sb >= TEXTURED)
    if not textured.any():
        return None, 0
    return float((ncc[textured] >= AGREE_NCC).mean()), int(textured.sum())


def _moved(offsets: np.ndarray) -> int:
    """How many matches off the alignment share one displacement (within MOTION_PX): the
    next frame's moving subject does, a copy's stray matches scatter."""
    far = offsets[np.linalg.norm(offsets, axis=1) > RANSAC_PX]
    if len(far) < 2:
        return len(far)
    far = far[:200]
    together = np.linalg.norm(far[:, None, :] - far[None, :, :], axis=2) <= MOTION_PX
    return int(together.sum(axis=1).max())


STRETCH = 0.25  # how much a stretched copy's aspect may differ, laid over in place


def match_in_place(a: View, b: View, stretch: bool = False) -> Match | None:
    """b laid over a as it is (resized to a's size): for copies that were only re-encoded, resized
    or toned (and, with `stretch`, resized to another aspect: hashes cannot tell those apart).
    None when the two shapes differ (then only `match` can align them)."""
    ha, wa = a.grey.shape
    hb, wb = b.grey.shape
    if abs(wa / ha - wb / hb) > (STRETCH if stretch else 0.02) * wa / ha:
        return None
    b_in_a = cv2.resize(b.grey, (wa, ha), interpolation=cv2.INTER_AREA) if (ha, wa) != (hb, wb) else b.grey
    agreement, cells = _agreement(a.grey, b_in_a, np.ones((ha, wa), dtype=bool))
    return Match(-1, 0, 0.0, wb / wa, 0.0, 1.0, 1.0, agreement, cells, wa, wb)


def match(a: View, b: View) -> Match:
    """Align b onto a and measure how well they agree."""
    pa, pb = _matches(a, b)
    if len(pa) < MIN_INLIERS:
        return NO_MATCH
    transform, mask = cv2.estimateAffinePartial2D(pb, pa, method=cv2.RANSAC, ransacReprojThreshold=RANSAC_PX,
                                                  maxIters=2000, confidence=0.995)
    if transform is None:
        return NO_MATCH
    inlier = mask.ravel().astype(bool)
    if inlier.sum() < MIN_INLIERS:
        return NO_MATCH
    offsets = pb @ transform[:, :2].T + transform[:, 2] - pa
    residual = float(np.median(np.linalg.norm(offsets[inlier], axis=1)))
    scale = float(math.hypot(transform[0, 0], transform[1, 0]))
    angle = float(math.degrees(math.atan2(transform[1, 0], transform[0, 0])))
    ha, wa = a.grey.shape
    hb, wb = b.grey.shape
    b_in_a = cv2.warpAffine(b.grey, transform, (wa, ha), flags=cv2.INTER_LINEAR)
    inside = cv2.warpAffine(np.full((hb, wb), 255, np.uint8), transform, (wa, ha), flags=cv2.INTER_NEAREST)
    overlap = float((inside > 0).sum())
    agreement, cells = _agreement(a.grey, b_in_a, inside > 0)
    return Match(int(inlier.sum()), _moved(offsets), residual, 1.0 / max(scale, 1e-9), angle, overlap / (wa * ha),
                 min(1.0, overlap * (1 / max(scale, 1e-9)) ** 2 / (wb * hb)), agreement, cells, wa, wb)


@dataclass(frozen=True)
class Capture:
    """What EXIF says of when and with what a photo was taken (None where unknown)."""

    camera: str | None  # make and model
    taken: str | None  # DateTimeOriginal as written, "YYYY:MM:DD HH:MM:SS"
    subsec: str | None  # SubSecTimeOriginal digits

    @classmethod
    def of(cls, make: str | None, model: str | None, taken: str | None, subsec: str | None) -> Capture:
        camera = " ".join(p.strip() for p in (make, model) if p and p.strip()) or None
        taken = taken.strip()[:19] if taken and taken.strip() and not taken.startswith("0000") else None
        digits = "".join(ch for ch in (subsec or "") if ch.isdigit()) or None
        return cls(camera, taken, digits)


def _seconds(text: str) -> float | None:
    try:
        return datetime.strptime(text, "%Y:%m:%d %H:%M:%S").replace(tzinfo=timezone.utc).timestamp()
    except ValueError:
        return None


def same_capture(a: Capture, b: Capture) -> bool | None:
    """True: one capture (same camera, time and sub-seconds). False: two captures (same camera,
    other time or sub-seconds). None: EXIF cannot tell (missing, other cameras, a shifted clock)."""
    if not (a.camera and b.camera and a.taken and b.taken) or a.camera != b.camera:
        return None
    sa, sb = _seconds(a.taken), _seconds(b.taken)
    if sa is None or sb is None:
        return None
    if sa != sb:
        return None if (sa - sb) % TIMEZONE_STEP_S == 0 else False
    if a.subsec and b.subsec:
        width = max(len(a.subsec), len(b.subsec))
        return a.subsec.ljust(width, "0") == b.subsec.ljust(width, "0")
    return None
