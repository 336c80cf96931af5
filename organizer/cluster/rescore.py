"""Pairwise re-scorers (icas clusterimg's similarities): a second opinion, from pixels, on the
candidate pairs the features linked, never on all pairs. Each gives a pair a score in 0..1.

Pixels come from `pixels(row)`: a grey uint8 image of the photo (at cluster time, its cached
320 px thumbnail, `photos.thumb`), or None. What one photo costs (ORB keypoints, corner
signatures) is computed once per run; what a pair costs is in docs/explore.md.

- `ssim`: structural similarity (scikit-image) of 128 x 128 grey copies.
- `orb-match`: ORB descriptors matched both ways by Hamming distance with Lowe's ratio test
  (0.75): good matches over the smaller keypoint count.
- `template`: normalised cross-correlation (OpenCV matchTemplate) of one photo's central 80 %
  over the other, 128 x 128, the better of both ways.
- `corner-minhash`: Harris corners on a 16 x 16 grid, the Jaccard similarity of the two sets of
  corner cells estimated by a 64-hash MinHash.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable

import numpy as np

from organizer.extract import features

log = logging.getLogger(__name__)
Pixels = Callable[[int], "np.ndarray | None"]
SIDE = 128
RATIO = 0.75
GRID = 16
HASHES = 64
_PRIME = (1 << 31) - 1


def _missing(exc: ImportError) -> features.MissingExtra:
    return features.MissingExtra(f"re-scoring needs packages that are not installed ({exc.name or exc}): "
                                 "pip install 'organizer[explore]'")


def thumbnails(paths: "np.ndarray | list[str | None]") -> Pixels:
    """Pixels from cached thumbnail files, by row (None where a file cannot be read)."""
    from PIL import Image

    def pixels(row: int) -> np.ndarray | None:
        path = paths[row]
        if not path:
            return None
        try:
            with Image.open(path) as img:
                return np.asarray(img.convert("L"), dtype=np.uint8)
        except (OSError, ValueError) as exc:
            log.warning("%s: cannot read the thumbnail: %s", path, exc)
            return None

    return pixels


class Scorer:
    """Scores pairs of rows with the re-scorers `names`; a pair's score is the lowest of them."""

    def __init__(self, names: tuple[str, ...], pixels: Pixels) -> None:
        try:
            import cv2  # noqa: F401
            import skimage.metrics  # noqa: F401
        except ImportError as exc:
            raise _missing(exc) from None
        self.names, self.pixels = names, pixels
        rng = np.random.default_rng(0)
        self.hash_a = rng.integers(1, _PRIME, HASHES, dtype=np.int64)
        self.hash_b = rng.integers(0, _PRIME, HASHES, dtype=np.int64)

    @functools.lru_cache(maxsize=65_536)  # noqa: B019  (one Scorer per clustering run)
    def small(self, row: int) -> np.ndarray | None:
        import cv2

        grey = self.pixels(row)
        return None if grey is None else cv2.resize(grey, (SIDE, SIDE), interpolation=cv2.INTER_AREA)

    @functools.lru_cache(maxsize=65_536)  # noqa: B019
    def orb(self, row: int) -> np.ndarray | None:
        from organizer.extract.orb import descriptors

        grey = self.pixels(row)
        return None if grey is None else descriptors(grey, 500)

    @functools.lru_cache(maxsize=65_536)  # noqa: B019
    def minhash(self, row: int) -> np.ndarray | None:
        import cv2

        small = self.small(row)
        if small is None:
            return None
        response = cv2.cornerHarris(np.float32(small), 2, 3, 0.04)
        ys, xs = np.nonzero(response > 0.01 * max(float(response.max()), 1e-12))
        cells = np.unique((ys * GRID // SIDE) * GRID + xs * GRID // SIDE).astype(np.int64)
        if len(cells) == 0:
            return np.full(HASHES, -1, dtype=np.int64)
        return ((np.outer(self.hash_a, cells) + self.hash_b[:, None]) % _PRIME).min(axis=1)

    def pair(self, name: str, i: int, j: int) -> float:
        return float(np.clip(SCORERS[name](self, i, j), 0.0, 1.0))

    def __call__(self, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
        """Scores of the pairs (rows[n], cols[n]); a pair appearing both ways is scored once."""
        lo, hi = np.minimum(rows, cols), np.maximum(rows, cols)
        pairs, back = np.unique(np.stack([lo, hi], axis=1), axis=0, return_inverse=True)
        scores = np.array([min(self.pair(name, int(a), int(b)) for name in self.names) for a, b in pairs],
                          dtype=np.float32)
        return scores[back.ravel()] if len(pairs) else np.zeros(0, dtype=np.float32)


def _ssim(s: Scorer, i: int, j: int) -> float:
    from skimage.metrics import structural_similarity

    a, b = s.small(i), s.small(j)
    return 0.0 if a is None or b is None else structural_similarity(a, b, data_range=255)


def _orb_match(s: Scorer, i: int, j: int) -> float:
    import cv2

    a, b = s.orb(i), s.orb(j)
    if a is None or b is None or len(a) < 2 or len(b) < 2:
        return 0.0
    matcher = cv2.BFMatcher(cv2.NORM_HAMMING)

    def good(x: np.ndarray, y: np.ndarray) -> int:
        return sum(1 for m in matcher.knnMatch(x, y, k=2) if len(m) == 2 and m[0].distance < RATIO * m[1].distance)

    return max(good(a, b), good(b, a)) / min(len(a), len(b))


def _template(s: Scorer, i: int, j: int) -> float:
    import cv2

    a, b = s.small(i), s.small(j)
    if a is None or b is None:
        return 0.0
    m = SIDE // 10
    return max(float(cv2.matchTemplate(y, x[m:-m, m:-m], cv2.TM_CCOEFF_NORMED).max()) for x, y in ((a, b), (b, a)))


def _corner_minhash(s: Scorer, i: int, j: int) -> float:
    a, b = s.minhash(i), s.minhash(j)
    if a is None or b is None or a[0] < 0 or b[0] < 0:
        return 0.0
    return float(np.mean(a == b))


SCORERS: dict[str, Callable[[Scorer, int, int], float]] = {
    "ssim": _ssim, "orb-match": _orb_match, "template": _template, "corner-minhash": _corner_minhash,
}
