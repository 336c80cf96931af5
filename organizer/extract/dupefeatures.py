"""Per-photo facts for duplicate detection, from the one decode the index already makes.

- `photo_region`: the photo inside a frame: uniform borders trimmed, or the picture found inside a
  screenshot's status bar and UI chrome (the largest block of rows, then of columns, where no one
  colour fills the line).
- `features`: that region's box, its pHash and dHash, a 320 px JPEG of it when the index's own
  thumbnail would show it under 200 px (a phone screenshot), and the image's colourfulness. An
  ordinary photo pays 2 bytes, one with a frame 26, a screenshot about 17 KB.

All pure: a PIL image in, plain values out.
"""

from __future__ import annotations

import struct
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
from PIL import Image

from organizer.extract import hashes
from organizer.extract.features import Feature

FEATURES_VERSION = 1
ANALYSIS_SIDE = 256  # the region is searched on the image reduced to this longest side
FRAME_SHARE = 0.7  # a line is frame when the frame's colour fills this share of it
TOLERANCE = 14  # a pixel has the frame's colour within this much on every channel (0-255)
NEUTRAL = 24  # the frame's colour is neutral: its channels differ by at most this
SIDE_SHARE = 0.9  # a side of the frame is this share one colour
MIN_AREA = 0.12  # a region smaller than this share of the image is not taken for the photo
MAX_AREA = 0.96  # nor one this close to the whole image (JPEG edges, a thin line)
MIN_SIDE = 24  # pixels of the analysis image
INNER_THUMB = 320  # longest side of the region's own thumbnail (verification pixels)
OWN_THUMB_BELOW = 200  # the region gets its own thumbnail only when the index's shows it smaller
GREY_CHROMA = 4.0  # mean |chroma| below this (0-255 scale) is a grey image


@dataclass(frozen=True)
class DupeFeatures:
    """What the clusterer needs beyond the whole image's hashes and thumbnail.

    `box` is the photo region in fractions of the oriented image (x0, y0, x1, y1), or None when the
    whole image is the photo; then `phash`, `dhash` and `thumbnail` are None too. `thumbnail` is
    None also when the index's thumbnail, cropped to `box`, is sharp enough to verify by.
    """

    box: tuple[float, float, float, float] | None
    phash: str | None
    dhash: str | None
    thumbnail: bytes | None
    chroma: float  # mean colourfulness, 0 for a grey image

    def pack(self) -> bytes:
        """Compact bytes for the catalog: 2 bytes, plus 24 and the thumbnail when there is a region."""
        head = struct.pack("<H", min(int(round(self.chroma * 100)), 65535))
        if self.box is None:
            return head
        corners = struct.pack("<4H", *(int(round(v * 65535)) for v in self.box))
        return head + corners + bytes.fromhex(self.phash or "") + bytes.fromhex(self.dhash or "") + (self.thumbnail or b"")

    @classmethod
    def unpack(cls, data: bytes) -> DupeFeatures:
        if len(data) < 2 or (len(data) > 2 and len(data) < 26):
            raise ValueError(f"duplicate features of {len(data)} bytes: not made by pack()")
        chroma = struct.unpack("<H", data[:2])[0] / 100
        if len(data) == 2:
            return cls(None, None, None, None, chroma)
        box = tuple(v / 65535 for v in struct.unpack("<4H", data[2:10]))
        return cls(box, data[10:18].hex(), data[18:26].hex(), data[26:] or None, chroma)  # type: ignore[arg-type]


def _background(px: np.ndarray) -> np.ndarray | None:
    """The frame's colour: that of the image's sides (outermost two lines) that are nearly all one
    neutral colour (white, grey, black: pages, mats and viewers; a blue sky is not a frame)."""
    sides = [px[:2].reshape(-1, 3), px[-2:].reshape(-1, 3), px[:, :2].reshape(-1, 3), px[:, -2:].reshape(-1, 3)]
    flat = []
    for side in sides:
        colour = np.median(side, axis=0)
        if colour.max() - colour.min() <= NEUTRAL and (np.abs(side - colour).max(axis=1) <= TOLERANCE).mean() >= SIDE_SHARE:
            flat.append(colour)
    if not flat:
        return None
    colour = np.median(np.array(flat), axis=0)
    return colour if all(np.abs(f - colour).max() <= TOLERANCE for f in flat) else None


def _frame_lines(is_frame: np.ndarray, axis: int) -> np.ndarray:
    """Bool per row (axis 1) or column (axis 0): the frame's colour fills FRAME_SHARE of the line."""
    return is_frame.mean(axis=axis) >= FRAME_SHARE


def _longest_run(flags: np.ndarray) -> tuple[int, int]:
    """(start, stop) of the longest run of False in `flags`."""
    padded = np.r_[True, flags, True].astype(np.int8)
    edges = np.flatnonzero(np.diff(padded))
    if len(edges) < 2:
        return 0, 0
    starts, stops = edges[0::2], edges[1::2]
    best = int(np.argmax(stops - starts))
    return int(starts[best]), int(stops[best])


def photo_region(image: Image.Image) -> tuple[float, float, float, float] | None:
    """The photo inside a frame, as fractions (x0, y0, x1, y1) of `image`, or None when the image
    is its own photo (no frame found, or the region would be tiny or nearly everything)."""
    small = image.convert("RGB")
    small.thumbnail((ANALYSIS_SIDE, ANALYSIS_SIDE), Image.Resampling.BOX)
    px = np.asarray(small, dtype=np.int16)
    h, w = px.shape[:2]
    if min(h, w) < MIN_SIDE:
        return None
    colour = _background(px)
    if colour is None:
        return None
    is_frame = np.abs(px - colour).max(axis=2) <= TOLERANCE
    top, bottom, left, right = 0, h, 0, w
    for _ in range(2):  # rows, then columns within them, then once more (a border inside a border)
        r0, r1 = _longest_run(_frame_lines(is_frame[top:bottom, left:right], axis=1))
        top, bottom = top + r0, top + r1
        if bottom - top < MIN_SIDE:
            return None
        c0, c1 = _longest_run(_frame_lines(is_frame[top:bottom, left:right], axis=0))
        left, right = left + c0, left + c1
        if right - left < MIN_SIDE:
            return None
    area = (bottom - top) * (right - left) / (h * w)
    if not MIN_AREA <= area <= MAX_AREA:
        return None
    return left / w, top / h, right / w, bottom / h


def chroma(image: Image.Image) -> float:
    """Mean colourfulness (|Cb - 128| + |Cr - 128|, 0-255 scale) of a 64 px copy: about 0 for grey."""
    small = image.convert("RGB").resize((64, 64), Image.Resampling.BOX).convert("YCbCr")
    ycc = np.asarray(small, dtype=np.float32)
    return float(np.abs(ycc[..., 1:] - 128.0).sum(axis=2).mean())


def features(image: Image.Image) -> DupeFeatures:
    """The duplicate features of one decoded, oriented photo (at least 320 px on the short side
    gives a region thumbnail as sharp as the index's own)."""
    box = photo_region(image)
    colour = chroma(image)
    if box is None:
        return DupeFeatures(None, None, None, None, colour)
    w, h = image.size
    inner = image.crop((round(box[0] * w), round(box[1] * h), round(box[2] * w), round(box[3] * h)))
    thumb = hashes.thumbnail(inner, INNER_THUMB)
    phash, dhash = hashes.perceptual(thumb)
    # in the index's thumbnail of the whole image, the region would be this many pixels long
    shown = INNER_THUMB * max(inner.size) / max(w, h)
    return DupeFeatures(box, phash, dhash, hashes.encode_jpeg(thumb) if shown < OWN_THUMB_BELOW else None, colour)


def _compute(image: Image.Image, params: Mapping[str, Any]) -> bytes:
    return features(image).pack()


# registered as "duplicates" in extract/features.MODULES: ("organizer.extract.dupefeatures", None)
FEATURE = Feature("duplicates", FEATURES_VERSION, _compute)
