"""RAW files through rawpy (LibRaw): the sensor's real output size and the camera's embedded JPEG
preview as the pixels; a half-size demosaic only when a file has no usable preview."""

from __future__ import annotations

import numpy as np
import rawpy
from PIL import Image

from organizer.extract import decode

# LibRaw's flip -> EXIF orientation
_FLIP = {0: 1, 3: 3, 5: 8, 6: 6}


class RawError(ValueError):
    """A file LibRaw cannot read."""


_openmp = False  # whether LibRaw's OpenMP demosaic has run in this process (its pool's threads live on)


def openmp_started() -> bool:
    """Whether this process has started OpenMP threads (a demosaic): a child forked from it and
    demosaicing would wait for them for ever."""
    return _openmp


def read(path: str, min_side: int) -> tuple[int, int, int, Image.Image | None, str | None]:
    """(width, height as displayed, orientation, the oriented reduced preview, the problem with
    the pixels or None). Raises RawError when LibRaw cannot open the file at all."""
    try:
        raw = rawpy.imread(path)
    except (rawpy.LibRawError, OSError, ValueError) as exc:
        raise RawError(f"cannot read RAW: {type(exc).__name__}: {exc}") from None
    with raw:
        sizes = raw.sizes
        orientation = _FLIP.get(sizes.flip, 1)
        width, height = sizes.width, sizes.height
        if orientation in (6, 8):
            width, height = height, width
        try:
            image, problem = _preview(raw, min_side, orientation), None
        except (rawpy.LibRawError, OSError, ValueError, MemoryError) as exc:
            image, problem = None, f"RAW pixels: {type(exc).__name__}: {exc}"
    return width, height, orientation, image, problem


def _preview(raw: rawpy.RawPy, min_side: int, orientation: int) -> Image.Image:
    try:
        thumb = raw.extract_thumb()
    except (rawpy.LibRawNoThumbnailError, rawpy.LibRawUnsupportedThumbnailError):
        thumb = None
    if thumb is not None and thumb.format == rawpy.ThumbFormat.JPEG:
        decoded = decode.decode(bytes(thumb.data), "jpeg", min_side)
        # a preview with its own EXIF orientation was turned by decode; else turn it as the RAW says
        return decoded.image if decoded.orientation != 1 else _turn(decoded.image, orientation)
    if thumb is not None and thumb.format == rawpy.ThumbFormat.BITMAP:
        return _turn(Image.fromarray(np.ascontiguousarray(thumb.data)).convert("RGB"), orientation)
    global _openmp
    _openmp = True
    rgb = raw.postprocess(half_size=True, use_camera_wb=True, output_bps=8, no_auto_bright=False)
    image = Image.fromarray(rgb)  # LibRaw turns demosaiced pixels itself
    factor = min(image.size) // min_side
    return image.reduce(factor) if factor >= 2 else image


def _turn(image: Image.Image, orientation: int) -> Image.Image:
    turn = {3: Image.Transpose.ROTATE_180, 6: Image.Transpose.ROTATE_270, 8: Image.Transpose.ROTATE_90}
    return image.transpose(turn[orientation]) if orientation in turn else image

