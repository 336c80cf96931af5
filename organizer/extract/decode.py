"""Recognise image files by content and decode each one once, as small as its consumers allow."""

from __future__ import annotations

import io
import os
from dataclasses import dataclass

from PIL import Image

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


# Media organizer recognises but does not decode (yet): first bytes -> what they are.
_UNSUPPORTED = (
    (b"\x00\x00\x00\x0cjP  \r\n\x87\n", "JPEG 2000"), (b"\xffO\xffQ", "JPEG 2000"), (b"8BPS", "Photoshop"),
    (b"\x1aE\xdf\xa3", "Matroska/WebM video"), (b"0&\xb2u\x8ef\xcf\x11", "Windows Media video"),
    (b"FUJIFILMCCD-RAW", "Fujifilm RAF"), (b"IIRO", "Olympus ORF"), (b"IIU\x00", "Panasonic RW2"),
    (b"\x00MRM", "Minolta MRW"), (b"FOVb", "Sigma X3F"),
)


def unsupported(head: bytes) -> str | None:
    """What a file is when it is media organizer recognises but does not read, else None (`head`:
    the first 256 bytes)."""
    for magic, name in _UNSUPPORTED:
        if head.startswith(magic):
            return name
    if head[4:8] == b"ftyp":
        brand = head[8:12].decode("ascii", "replace").strip()
        return "Canon CR3" if brand == "crx" else f"video ({brand})"
    if head[:4] == b"RIFF" and head[8:12] == b"AVI ":
        return "AVI video"
    if head[4:8] in (b"moov", b"mdat", b"wide", b"free", b"skip"):
        return "QuickTime video"
    if len(head) >= 189 and head[0] == 0x47 and head[188] == 0x47:
        return "MPEG transport stream"
    if len(head) >= 197 and head[4] == 0x47 and head[196] == 0x47:
        return "MPEG transport stream (M2TS)"
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


@dataclass(frozen=True)
class Decoded:
    """One decode of a photo: the oriented, reduced RGB image and the original's facts."""

    image: Image.Image
    format: str
    width: int  # full size, after orientation
    height: int
    orientation: int
    exif: Image.Exif


def decode(data: bytes, fmt: str, min_side: int) -> Decoded:
    """Decode `data` once, reduced (JPEG DCT scaling, else a box reduction) to the smallest size
    whose sides both stay >= `min_side` (or the original size when smaller).

    Pillow's decompression-bomb guard stays on: an oversized image raises.
    """
    _register_plugins()
    img = Image.open(io.BytesIO(data))
    width, height = img.size
    if img.format in ("JPEG", "MPO"):
        img.draft("RGB", (min_side, min_side))
    img.load()
    exif = img.getexif()
    orientation = _orientation(exif.get(0x0112))
    applied = img.info.get("original_orientation")  # pillow-heif has already turned the pixels
    if applied is not None:
        orientation, turn = _orientation(applied), 1
    else:
        turn = orientation
    if getattr(img, "n_frames", 1) > 1:
        img.seek(0)
    if img.mode in ("I", "I;16", "I;16B", "I;16L", "I;16N"):  # 16-bit grey: keep the top 8 bits
        img = img.point(lambda v: v / 256).convert("L")
    if img.mode not in ("RGB", "L"):
        if img.mode in ("RGBA", "LA", "PA") or (img.mode == "P" and "transparency" in img.info):
            rgba = img.convert("RGBA")
            background = Image.new("RGB", rgba.size, (255, 255, 255))
            background.paste(rgba, mask=rgba.getchannel("A"))
            img = background
        else:
            img = img.convert("RGB")
    elif img.mode == "L":
        img = img.convert("RGB")
    factor = min(img.size) // min_side
    if factor >= 2:  # formats without DCT scaling: a fast box reduction before any other work
        img = img.reduce(factor)
    if turn != 1:
        img = img.transpose(_TRANSPOSE[turn])
    if turn in (5, 6, 7, 8):
        width, height = height, width
    return Decoded(img, fmt, width, height, orientation, exif)


def _orientation(value: object) -> int:
    try:
        number = int(value)  # type: ignore[call-overload]
    except (TypeError, ValueError):
        return 1
    return number if 1 <= number <= 8 else 1
