"""Recognise image files by content and decode each one once, as small as its consumers allow."""

from __future__ import annotations

import contextlib
import io
import os
from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO

from PIL import Image

from organizer.extract import bands

_HEIF_BRANDS = {b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis", b"hevm", b"hevs", b"mif1", b"msf1"}
_AVIF_BRANDS = {b"avif", b"avis"}

# Extensions that announce an image even when the content is not one we can read: such a file
# becomes an error row rather than being skipped in silence.
IMAGE_EXTENSIONS = frozenset(
    {
        ".jpg", ".jpeg", ".jpe", ".jfif", ".png", ".tif", ".tiff", ".webp", ".heic", ".heif", ".hif",
        ".avif", ".gif", ".bmp", ".jxl", ".jp2", ".j2k", ".tga", ".psd", ".mpo", ".spider", ".dng",
        ".arw", ".cr2", ".cr3", ".nef", ".orf", ".rw2", ".raf", ".srw", ".pef", ".ico", ".qoi",
    }
)

_TRANSPOSE = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}

_plugins_ready = False


def _register_plugins() -> None:
    global _plugins_ready
    if not _plugins_ready:
        import pillow_heif
        import pillow_jxl  # noqa: F401  (registers the JPEG XL plugin)

        pillow_heif.register_heif_opener()
        _plugins_ready = True


def sniff(head: bytes) -> str | None:
    """The image format named by a file's first bytes, or None when it is not one we index:
    jpeg (MPO too), png, tiff, webp, heif, avif, jxl, gif, bmp."""
    if head.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if head[:4] in (b"II*\x00", b"MM\x00*"):
        return "tiff"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "webp"
    if head[4:8] == b"ftyp":
        brands = {head[8:12]} | {head[i : i + 4] for i in range(16, min(len(head), 48), 4)}
        if brands & _AVIF_BRANDS:
            return "avif"
        if brands & _HEIF_BRANDS:
            return "heif"
        return None
    if head[:2] == b"\xff\x0a" or head[4:12] == b"JXL \r\n\x87\n":
        return "jxl"
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return "gif"
    if head[:2] == b"BM" and len(head) >= 26:
        return "bmp"
    return None


# Images organizer recognises but does not decode (videos and RAW are read: see `source`).
_UNSUPPORTED = (
    (b"\x00\x00\x00\x0cjP  \r\n\x87\n", "JPEG 2000"), (b"\xffO\xffQ", "JPEG 2000"), (b"8BPS", "Photoshop"),
    (b"%!PS-Adobe", "PostScript"), (b"\xc5\xd0\xd3\xc6", "EPS"), (b"II\xbc", "JPEG XR"),
)


def unsupported(head: bytes) -> str | None:
    """What a file is when it is an image organizer recognises but does not read, else None."""
    for magic, name in _UNSUPPORTED:
        if head.startswith(magic):
            return name
    if head[4:8] == b"ftyp":  # ISO media that is neither HEIF/AVIF nor a video we read
        return "ISO media (" + head[8:12].decode("ascii", "replace").strip() + ")"
    return None


def describe(head: bytes) -> str:
    """A short word for content we do not index, for error messages."""
    if not head:
        return "empty file"
    if head[4:8] == b"ftyp":
        return "ISO media (" + head[8:12].decode("ascii", "replace") + ")"
    if head[4:12] == b"jP  \r\n\x87\n":
        return "JPEG 2000"
    return "unrecognised content"


def looks_like_image(name: str) -> bool:
    return os.path.splitext(name)[1].lower() in IMAGE_EXTENSIONS


class TooManyPixels(ValueError):
    """An image over the configured pixel limit (scan.max_megapixels)."""


# Above this many pixels, formats that can decode reduced do (a HEIF's embedded thumbnail, PNG
# bands); below it every format decodes as it always has.
LARGE_PIXELS = 40_000_000


@dataclass(frozen=True)
class Decoded:
    """One decode of a photo: the oriented, reduced RGB image and the original's facts."""

    image: Image.Image
    format: str
    width: int  # full size, after orientation
    height: int
    orientation: int


@contextlib.contextmanager
def _no_bomb_guard() -> Iterator[None]:
    """Pillow's global guard off while we open: the caller's own limit applies instead."""
    saved = Image.MAX_IMAGE_PIXELS
    Image.MAX_IMAGE_PIXELS = None
    try:
        yield
    finally:
        Image.MAX_IMAGE_PIXELS = saved


def decode(data: bytes | BinaryIO, fmt: str, min_side: int, max_megapixels: float | None = None) -> Decoded:
    """Decode once, reduced to the smallest size whose sides both stay >= `min_side` (or the
    original size when smaller): JPEG DCT scaling, a large HEIF's embedded thumbnail, a large PNG
    in bands, else a box reduction right after decoding. `data` is the file's bytes or a seekable
    file. Raises TooManyPixels over `max_megapixels`, and the decoders' errors on broken files."""
    _register_plugins()
    fh = io.BytesIO(data) if isinstance(data, (bytes, bytearray)) else data
    with _no_bomb_guard():
        img = Image.open(fh)
    width, height = img.size
    if max_megapixels is not None and width * height > max_megapixels * 1_000_000:
        raise TooManyPixels(f"{width}x{height} pixels, over the limit of {max_megapixels:g} megapixels "
                            "(scan.max_megapixels)")
    # before load, as TIFF's load drops it; a PNG's eXIf may follow its pixels: read after load
    late_exif = img.format == "PNG" and "exif" not in img.info  # Pillow's getexif would decode it all
    orientation = 1 if late_exif else _orientation(img.getexif().get(0x0112))
    banded = None
    if img.format in ("JPEG", "MPO") or (fmt in ("heif", "avif") and width * height > LARGE_PIXELS):
        img.draft("RGB", (min_side, min_side))
    elif width * height > LARGE_PIXELS and bands.eligible(img) and min(width, height) // min_side >= 2:
        banded = bands.decode(img, fh, min(width, height) // min_side)
    if banded is None:
        img.load()
        if late_exif:
            orientation = _orientation(img.getexif().get(0x0112))
    applied = img.info.get("original_orientation")  # pillow-heif has already turned the pixels
    if applied is not None:
        orientation, turn = _orientation(applied), 1
    elif img.format == "TIFF":  # Pillow's TIFF load turned the pixels and its size already
        turn = 1
    else:
        turn = orientation
    if banded is not None:
        img = banded
    elif getattr(img, "n_frames", 1) > 1:
        img.seek(0)
    img = _rgb(img)
    factor = min(img.size) // min_side
    if factor >= 2:  # formats without DCT scaling: a fast box reduction before any other work
        img = img.reduce(factor)
    if turn != 1:
        img = img.transpose(_TRANSPOSE[turn])
    if turn in (5, 6, 7, 8):
        width, height = height, width
    return Decoded(img, fmt, width, height, orientation)


def _rgb(img: Image.Image) -> Image.Image:
    if img.mode in ("I", "I;16", "I;16B", "I;16L", "I;16N"):  # 16-bit grey: keep the top 8 bits
        img = img.point(lambda v: v / 256).convert("L")
    if img.mode not in ("RGB", "L"):
        if img.mode in ("RGBA", "LA", "PA") or (img.mode == "P" and "transparency" in img.info):
            rgba = img.convert("RGBA")
            background = Image.new("RGB", rgba.size, (255, 255, 255))
            background.paste(rgba, mask=rgba.getchannel("A"))
            return background
        return img.convert("RGB")
    return img.convert("RGB") if img.mode == "L" else img


def _orientation(value: object) -> int:
    try:
        number = int(value)  # type: ignore[call-overload]
    except (TypeError, ValueError):
        return 1
    return number if 1 <= number <= 8 else 1
