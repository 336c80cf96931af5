"""Is a candidate pair one capture? Pixels and metadata as evidence, for candidate pairs only.

Pixels: ORB keypoints of each photo's small thumbnail (the JPEG the index keeps), matched both
ways, and a similarity transform (turn, scale, shift) fitted by RANSAC. A copy (re-encoded,
resized, cropped, turned, framed, toned) aligns with most matches as inliers and a sub-pixel
residual, and after alignment its pixels agree with the other's in nearly every textured cell
of a grid; the next frame of a burst aligns too (the background) but its moving subject leaves
cells that disagree: displaced a short way (the optical flow follows it), or gone from where it
was and turned (a broad region that shows other things in each photo; a watermark only adds a
thin line of text).

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

SUBJECT_PX = 1.0  # a cell moved when its flow, off the frame's own (fitted affine) motion, is this long
SUBJECT_MAX_PX = 16.0  # ... and at most this (longer: the flow lost track, not a subject)
RESTORED_NCC = 0.9  # ... and following its flow makes it agree (a displaced object, not new strokes)
CONSISTENT_PX = 0.5  # ... and the flow back from b returns within this of where it started
SUBJECT_MIN_CELLS = 3  # smaller regions are not measured (0): too few cells to tell a subject
INNER_PX = 8  # cells this near the overlap's edge are not judged for motion (the flow is unsure there)
REPLACED_NCC = 0.3  # a cell was replaced (another object, or another pose, stands there) when it correlates under this
REPLACED_MIN_CELLS = 5  # ... and a region of such cells counts when it has this many
REPLACED_SIDE = 3  # ... spanning at least this many cells across and down (a line of text is thinner)
REPLACED_NOISE = 16.0  # ... and its pixels turned brighter and darker by more than this (grey levels, b toned to a)
REPLACED_SIGNS = 0.33  # ... the fewer at least this share of the more (an overlay's ink turns them one way)
REFINE_BELOW = 0.6  # an alignment under which fewer cells agree is refined on all the pixels (`_refined`)
REFINE_STEPS = 50  # ECC iterations at most

VERSION = 3  # bumped when a Match of the same pixels would measure differently (stored matches expire)

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
    subject: int = 0  # cells of the largest region displaced against the still rest: a subject that moved

    def flipped(self) -> Match:
        """The same measurement seen from b: scale inverted, angle negated, sides swapped."""
        return Match(self.inliers, self.moved, self.residual, 1.0 / max(self.scale, 1e-9), -self.angle, self.cover_b,
                     self.cover_a, self.agreement, self.cells, self.width_b, self.width_a, self.subject)


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


def _agreement(a: np.ndarray, b_in_a: np.ndarray, inside: np.ndarray) -> tuple[float | None, int, int]:
    """Share of textured grid cells (fully inside the overlap) where the aligned pixels agree,
    both blurred a little first so that resampling and JPEG noise do not count as change; their
    count; and the cells of a subject that moved (`_subject`: a short way, followed by the flow;
    `_replaced`: far, or turning, where the flow loses it), judged away from the overlap's edge."""
    h, w = (a.shape[0] // CELL) * CELL, (a.shape[1] // CELL) * CELL
    if h == 0 or w == 0:
        return None, 0, 0
    blur_a = cv2.GaussianBlur(a, (0, 0), BLUR_SIGMA)
    blur_b = cv2.GaussianBlur(b_in_a, (0, 0), BLUR_SIGMA)
    full = _cells(inside.astype(np.float32), h, w).min(axis=1) > 0
    ca, cb = _cells(blur_a.astype(np.float32), h, w), _cells(blur_b.astype(np.float32), h, w)
    ncc, sa, sb = _ncc(ca, cb)
    textured = full & (sa >= TEXTURED) & (sb >= TEXTURED)
    if not textured.any():
        return None, 0, 0
    agree = ncc >= AGREE_NCC
    judged = textured & (_cells(_inner(inside), h, w).min(axis=1) > 0)
    subject = max(_subject(blur_a, blur_b, inside, judged, ncc), _replaced(blur_a, blur_b, inside, judged & (ncc < REPLACED_NCC)))
    return float(agree[textured].mean()), int(textured.sum()), subject


def _toned(a: np.ndarray, b: np.ndarray, over: np.ndarray) -> np.ndarray:
    """b toned to a's mean and contrast over the overlap (float32)."""
    scale = a[over].std() / max(float(b[over].std()), 1e-6)
    return (b.astype(np.float32) - b[over].mean()) * scale + a[over].mean()


def _inner(inside: np.ndarray) -> np.ndarray:
    """The overlap less a margin of INNER_PX, where motion is not judged (float32, 0 or 1)."""
    kernel = np.ones((2 * INNER_PX + 1,) * 2, np.uint8)
    return cv2.erode(inside.astype(np.uint8), kernel).astype(np.float32)


def _replaced(a: np.ndarray, b: np.ndarray, inside: np.ndarray, cells: np.ndarray) -> int:
    """Cells of the largest region where the two photos show different things in place: a subject
    that moved far or turned (beyond what the flow follows: a bird that turned on its branch),
    leaving a broad region (REPLACED_SIDE cells each way) that correlates under REPLACED_NCC, and
    whose pixels (b toned to a, less a) turned both brighter and darker. A
    copy's overlay (a watermark, a caption) is a thin line of text, or its ink turns the pixels
    one way only: it is not one."""
    if cells.sum() < REPLACED_MIN_CELLS:
        return 0
    h, w = (a.shape[0] // CELL) * CELL, (a.shape[1] // CELL) * CELL
    rows, cols = h // CELL, w // CELL
    change = _cells(_toned(a, b, inside.astype(bool)) - a.astype(np.float32), h, w)
    count, labels, stats, _ = cv2.connectedComponentsWithStats(cells.reshape(rows, cols).astype(np.uint8),
                                                                connectivity=8)
    labels = labels.ravel()
    found = 0
    for k in range(1, count):
        area = int(stats[k, cv2.CC_STAT_AREA])
        if (area < max(REPLACED_MIN_CELLS, found + 1) or stats[k, cv2.CC_STAT_WIDTH] < REPLACED_SIDE
                or stats[k, cv2.CC_STAT_HEIGHT] < REPLACED_SIDE):
            continue
        region = change[labels == k]
        brighter, darker = int((region > REPLACED_NOISE).sum()), int((region < -REPLACED_NOISE).sum())
        if min(brighter, darker) >= REPLACED_SIGNS * max(brighter, darker, 1):
            found = area
    return found


def _subject(a: np.ndarray, b: np.ndarray, inside: np.ndarray, judged: np.ndarray, ncc: np.ndarray) -> int:
    """Cells of the largest connected region of b displaced against a while the rest stands still.
    Dense optical flow (DIS) between the aligned, blurred pair (b toned to a's mean and contrast),
    per cell its median, less the affine motion fitted to the still cells (what the alignment
    left). A cell moved when it disagrees in place (NCC under AGREE_NCC), its flow is SUBJECT_PX to
    SUBJECT_MAX_PX long, b followed along the flow agrees with a there (NCC at least RESTORED_NCC),
    and the flow back from b leads to where it came from (a displaced object; the flow in a
    clipped highlight or over a watermark's strokes points anywhere). A copy moves nothing."""
    h, w = (a.shape[0] // CELL) * CELL, (a.shape[1] // CELL) * CELL
    rows, cols = h // CELL, w // CELL
    over = inside.astype(bool)
    if _largest(judged & (ncc < AGREE_NCC), rows, cols) < SUBJECT_MIN_CELLS or judged.sum() < 6:
        return 0  # (nearly) every cell agrees in place: nothing moved
    toned = np.where(over, np.clip(_toned(a, b, over), 0, 255), a).astype(np.uint8)  # no motion outside the overlap
    flow = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_FAST).calc(a, toned, None)
    fx = np.median(_cells(flow[..., 0], h, w), axis=1)
    fy = np.median(_cells(flow[..., 1], h, w), axis=1)
    gy, gx = np.divmod(np.arange(rows * cols), cols)
    grid = np.stack([gx, gy, np.ones_like(gx)], axis=1).astype(np.float64)
    fit = judged
    for _ in range(2):  # the frame's own motion, fitted again without the cells that moved off it
        coef, *_ = np.linalg.lstsq(grid[fit], np.stack([fx[fit], fy[fit]], axis=1), rcond=None)
        off = np.hypot(*(np.stack([fx, fy], axis=1) - grid @ coef).T)
        fit = judged & (off < SUBJECT_PX * 0.75)
        if fit.sum() < 6:
            return 0  # nothing stands still: no subject against a background
    ys, xs = np.mgrid[0:a.shape[0], 0:a.shape[1]].astype(np.float32)
    to_x, to_y = xs + flow[..., 0], ys + flow[..., 1]
    restored, _, _ = _ncc(_cells(a.astype(np.float32), h, w),
                          _cells(cv2.remap(b, to_x, to_y, cv2.INTER_LINEAR).astype(np.float32), h, w))
    moved = judged & (ncc < AGREE_NCC) & (off >= SUBJECT_PX) & (off <= SUBJECT_MAX_PX) & (restored >= RESTORED_NCC)
    if _largest(moved, rows, cols) < SUBJECT_MIN_CELLS:
        return 0
    back = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_FAST).calc(toned, a, None)
    gap = np.hypot(flow[..., 0] + cv2.remap(back[..., 0], to_x, to_y, cv2.INTER_LINEAR),
                   flow[..., 1] + cv2.remap(back[..., 1], to_x, to_y, cv2.INTER_LINEAR))
    found = _largest(moved & (np.median(_cells(gap, h, w), axis=1) < CONSISTENT_PX), rows, cols)
    return found if found >= SUBJECT_MIN_CELLS else 0


def _largest(cells: np.ndarray, rows: int, cols: int) -> int:
    """Size of the largest 8-connected region of the grid's flagged cells."""
    if not cells.any():
        return 0
    _, _, stats, _ = cv2.connectedComponentsWithStats(cells.reshape(rows, cols).astype(np.uint8), connectivity=8)
    return int(stats[1:, cv2.CC_STAT_AREA].max())


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
    agreement, cells, subject = _agreement(a.grey, b_in_a, np.ones((ha, wa), dtype=bool))
    return Match(-1, 0, 0.0, wb / wa, 0.0, 1.0, 1.0, agreement, cells, wa, wb, subject)


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
    overlap, (agreement, cells, subject) = _laid_over(a, b, transform)
    if agreement is not None and agreement < REFINE_BELOW:
        refined = _refined(a, b, transform)
        if refined is not None:
            again = _laid_over(a, b, refined)
            if again[1][0] is not None and again[1][0] > agreement:
                transform, (overlap, (agreement, cells, subject)) = refined, again
    scale = math.sqrt(abs(float(np.linalg.det(transform[:, :2]))))
    angle = float(math.degrees(math.atan2(transform[1, 0], transform[0, 0])))
    ha, wa = a.grey.shape
    hb, wb = b.grey.shape
    return Match(int(inlier.sum()), _moved(offsets), residual, 1.0 / max(scale, 1e-9), angle, overlap / (wa * ha),
                 min(1.0, overlap * (1 / max(scale, 1e-9)) ** 2 / (wb * hb)), agreement, cells, wa, wb, subject)


def _laid_over(a: View, b: View, transform: np.ndarray) -> tuple[float, tuple[float | None, int, int]]:
    """b warped onto a by `transform`: the overlap in pixels, and `_agreement` there."""
    ha, wa = a.grey.shape
    hb, wb = b.grey.shape
    b_in_a = cv2.warpAffine(b.grey, transform, (wa, ha), flags=cv2.INTER_LINEAR)
    inside = cv2.warpAffine(np.full((hb, wb), 255, np.uint8), transform, (wa, ha), flags=cv2.INTER_NEAREST) > 0
    return float(inside.sum()), _agreement(a.grey, b_in_a, inside)


def _refined(a: View, b: View, transform: np.ndarray) -> np.ndarray | None:
    """The alignment refined on all the pixels (ECC, an affine motion started from RANSAC's): a
    similarity fitted to a few dozen matches can be a degree or a pixel off, and then a copy's
    cells disagree as another capture's would. None when it does not converge."""
    start = cv2.invertAffineTransform(transform).astype(np.float32)  # ECC maps a's pixels into b
    try:
        _, warp = cv2.findTransformECC(a.grey.astype(np.float32), b.grey.astype(np.float32), start, cv2.MOTION_AFFINE,
                                       (cv2.TERM_CRITERIA_EPS | cv2.TERM_CRITERIA_COUNT, REFINE_STEPS, 1e-4), None, 5)
    except cv2.error:
        return None
    return cv2.invertAffineTransform(warp)


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
