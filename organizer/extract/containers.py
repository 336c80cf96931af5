"""Where each image container keeps its metadata blocks: EXIF (a TIFF structure), XMP packets,
IPTC-IIM, PNG text. Reads a bytes-like buffer (the file in memory, or an mmap of a large one)
and touches only the metadata's own bytes; pixels are never read here."""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass, field

from organizer.extract import bmff
from organizer.extract.tiff import Buffer

_XMP_JPEG = b"http://ns.adobe.com/xap/1.0/\x00"
_PHOTOSHOP = b"Photoshop 3.0\x00"
_MAX_TEXT = 1 << 20  # a PNG text chunk inflated past 1 MB is not metadata


@dataclass
class Embedded:
    """Metadata blocks found in one file; `exif` is a TIFF structure (its header at offset 0)."""

    exif: Buffer | None = None
    xmp: list[bytes] = field(default_factory=list)
    iptc: bytes | None = None
    png_text: dict[str, str] = field(default_factory=dict)
    created: str | None = None  # an ISO-BMFF mvhd creation time (UTC), ISO 8601
    trailer_video: bool = False  # bytes follow the JPEG's end (a Motion Photo's MP4, maybe)


def find(buf: Buffer, fmt: str) -> Embedded:
    """The blocks of a file of format `fmt` (as decode.sniff names it, or "raw-tiff"/"cr3")."""
    if fmt == "jpeg":
        return _jpeg(buf)
    if fmt == "png":
        return _png(buf)
    if fmt == "webp":
        return _webp(buf)
    if fmt in ("tiff", "raw-tiff"):
        return Embedded(exif=buf)
    if fmt in ("heif", "avif", "cr3"):
        return _bmff(buf)
    if fmt == "jxl":
        return _jxl(buf)
    return Embedded()


def _jpeg(buf: Buffer) -> Embedded:
    out = Embedded()
    pos, end = 2, len(buf)
    while pos + 4 <= end:
        if buf[pos] != 0xFF:  # a segment length that lies: find the next marker, as ExifTool does
            pos = _next_marker(buf, pos)
            if pos < 0:
                break
        marker = buf[pos + 1]
        if marker == 0xFF:  # fill byte
            pos += 1
            continue
        if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7:
            pos += 2
            continue
        if marker in (0xDA, 0xD9):  # start of scan: no metadata after it
            break
        length = struct.unpack(">H", bytes(buf[pos + 2 : pos + 4]))[0]
        start, stop = pos + 4, pos + 2 + length
        if length < 2 or stop > end:
            break
        if marker == 0xE1:
            head = bytes(buf[start : start + len(_XMP_JPEG)])
            if head.startswith(b"Exif\x00") and out.exif is None:
                out.exif = bytes(buf[start + 6 : stop])
            elif head == _XMP_JPEG:
                out.xmp.append(bytes(buf[start + len(_XMP_JPEG) : stop]))
        elif marker == 0xED and bytes(buf[start : start + len(_PHOTOSHOP)]) == _PHOTOSHOP:
            out.iptc = out.iptc or photoshop_iptc(bytes(buf[start + len(_PHOTOSHOP) : stop]))
        pos = stop
    return out


def _next_marker(buf: Buffer, pos: int) -> int:
    window = bytes(buf[pos : pos + (1 << 16)])
    at = 0
    while (at := window.find(b"\xff", at)) >= 0 and at + 1 < len(window):
        if window[at + 1] >= 0xC0 and window[at + 1] != 0xFF:
            return pos + at
        at += 1
    return -1


def photoshop_iptc(data: bytes) -> bytes | None:
    """The IPTC-IIM block (resource 0x0404) among Photoshop's 8BIM image resources."""
    pos = 0
    while pos + 12 <= len(data) and data[pos : pos + 4] == b"8BIM":
        rid = struct.unpack(">H", data[pos + 4 : pos + 6])[0]
        name_len = data[pos + 6]
        pos += 6 + ((name_len + 2) & ~1)  # Pascal name padded to even
        if pos + 4 > len(data):
            return None
        size = struct.unpack(">I", data[pos : pos + 4])[0]
        pos += 4
        if rid == 0x0404:
            return data[pos : pos + size]
        pos += size + (size & 1)
    return None


def _png(buf: Buffer) -> Embedded:
    out = Embedded()
    pos, end = 8, len(buf)
    while pos + 12 <= end:
        length, ctype = struct.unpack(">I4s", bytes(buf[pos : pos + 8]))
        start = pos + 8
        if start + length > end or ctype == b"IEND":
            break
        if ctype == b"eXIf":
            out.exif = bytes(buf[start : start + length])
        elif ctype in (b"tEXt", b"zTXt", b"iTXt"):
            parsed = _png_text(ctype, bytes(buf[start : start + length]))
            if parsed is not None:
                key, value = parsed
                if key == "XML:com.adobe.xmp":
                    out.xmp.append(value.encode("utf-8"))
                elif key.lower() == "raw profile type exif" and out.exif is None:
                    exif = _raw_profile(value)
                    if exif is not None:
                        out.exif = exif[6:] if exif.startswith(b"Exif\x00\x00") else exif
                else:
                    out.png_text.setdefault(key, value)
        pos = start + length + 4
    return out


def _png_text(ctype: bytes, data: bytes) -> tuple[str, str] | None:
    key, sep, rest = data.partition(b"\x00")
    if not sep:
        return None
    try:
        if ctype == b"tEXt":
            return key.decode("latin-1"), rest.decode("latin-1")
        if ctype == b"zTXt":
            return key.decode("latin-1"), _inflate(rest[1:]).decode("latin-1")
        compressed, rest = rest[:1] == b"\x01", rest[2:]
        _lang, _, rest = rest.partition(b"\x00")
        _translated, _, text = rest.partition(b"\x00")
        return key.decode("latin-1"), (_inflate(text) if compressed else text).decode("utf-8", "replace")
    except (zlib.error, ValueError):
        return None


def _inflate(data: bytes) -> bytes:
    """zlib-inflate at most _MAX_TEXT bytes (a text chunk cannot be a decompression bomb)."""
    return zlib.decompressobj().decompress(data, _MAX_TEXT)


def _raw_profile(text: str) -> bytes | None:
    """ImageMagick's 'Raw profile type exif': a name line, a length line, then hex digits."""
    lines = text.strip().split("\n", 2)
    if len(lines) < 3:
        return None
    try:
        return bytes.fromhex("".join(lines[2].split()))
    except ValueError:
        return None


def _webp(buf: Buffer) -> Embedded:
    out = Embedded()
    pos, end = 12, len(buf)
    while pos + 8 <= end:
        ctype, length = struct.unpack("<4sI", bytes(buf[pos : pos + 8]))
        start = pos + 8
        if start + length > end:
            break
        if ctype == b"EXIF":
            skip = 6 if bytes(buf[start : start + 6]) == b"Exif\x00\x00" else 0
            out.exif = bytes(buf[start + skip : start + length])
        elif ctype == b"XMP ":
            out.xmp.append(bytes(buf[start : start + length]))
        pos = start + length + (length & 1)
    return out


def _bmff(buf: Buffer) -> Embedded:
    items = bmff.read(buf)
    return Embedded(exif=items.exif, xmp=list(items.xmp), created=items.created)


def _jxl(buf: Buffer) -> Embedded:
    """A JPEG XL container: ISO-BMFF boxes, EXIF in `Exif` (after a 4-byte offset), XMP in `xml `."""
    out = Embedded()
    if bytes(buf[4:8]) != b"JXL ":
        return out  # a bare codestream has no metadata
    for btype, start, end in bmff.boxes(buf, 0, len(buf)):
        if btype == b"Exif" and end - start > 4:
            skip = struct.unpack(">I", bytes(buf[start : start + 4]))[0] + 4
            out.exif = bytes(buf[start + skip : end]) if start + skip < end else None
        elif btype == b"xml ":
            out.xmp.append(bytes(buf[start:end]))
    return out
