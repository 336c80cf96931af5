"""How a copy differs from the keeper of its group, in words a user decides by: smaller, cropped,
framed, screenshot, turned, rotated, grey, edited, another format, re-encoded."""

from __future__ import annotations

from typing import TYPE_CHECKING

from organizer.cluster import verify

if TYPE_CHECKING:
    from organizer.cluster.copies import Photos

SMALLER = 0.9  # linear scale of the content below this: smaller
CROPPED = 0.93  # showing less than this share of the keeper's area: cropped
TURNED_DEG = 1.0
GREY_CHROMA = 4.0  # dupefeatures.chroma below this is grey
COLOUR_CHROMA = 8.0
EDITED = 0.97  # pixel agreement below this after alignment: something was drawn or toned
SCREEN_ASPECT = 1.7  # a framed copy this elongated and lossless is a phone screenshot


def _content_width(photos: Photos, row: int) -> float:
    """Full-resolution width of what the verification view shows (the framed photo, or all)."""
    width = float(photos.width[row])
    if photos.framed[row] and photos.region_boxes is not None:
        x0, _, x1, _ = photos.region_boxes[row]
        width *= max(x1 - x0, 1e-6)
    return width


def describe(photos: Photos, k: int, r: int, found: verify.Match | None) -> tuple[str, ...]:
    """The differences of row `r` from the keeper row `k`; `found` is r aligned on k."""
    out: list[str] = []
    aligned = found is not None and found.agreement is not None
    if aligned and found is not None and found.width_a and found.width_b:
        # thumbnails' scale, corrected by each thumbnail's own reduction from full resolution
        per_k = _content_width(photos, k) / found.width_a
        per_r = _content_width(photos, r) / found.width_b
        if found.scale * per_r / per_k < SMALLER:
            out.append("smaller")
    elif photos.width[r] * photos.height[r] < SMALLER ** 2 * photos.width[k] * photos.height[k]:
        out.append("smaller")
    if aligned and found is not None and found.cover_a < CROPPED:
        out.append("cropped")
    if photos.framed[r] and not photos.framed[k]:
        tall = max(photos.width[r], photos.height[r]) / max(1, min(photos.width[r], photos.height[r]))
        out.append("screenshot" if tall >= SCREEN_ASPECT and photos.formats[r] == "png" else "framed")
    if aligned and found is not None and abs(((found.angle + 45) % 90) - 45) >= TURNED_DEG:
        out.append("turned")
    if photos.orientation[r] != photos.orientation[k]:
        out.append("rotated")
    if photos.chroma[r] < GREY_CHROMA <= COLOUR_CHROMA <= photos.chroma[k]:
        out.append("grey")
    if aligned and found is not None and found.agreement is not None and found.agreement < EDITED:
        out.append("edited")
    if photos.formats[r] != photos.formats[k]:
        out.append(photos.formats[r])
    elif not out:
        out.append("re-encoded")
    if found is None:
        out.append("same capture (EXIF)")
    return tuple(out)
