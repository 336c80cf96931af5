"""ISO-BMFF (HEIF, AVIF, CR3, MP4/MOV) boxes organizer reads itself: the HEIF `Exif` and XMP
items (through `iinf` and `iloc`), the movie header's creation time, and Canon CR3's CMT boxes
(TIFF structures holding IFD0, the EXIF IFD, the maker note and GPS). Bounds-checked throughout."""

from __future__ import annotations

import struct
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from organizer.extract.tiff import Buffer

_CANON_UUID = bytes.fromhex("85c0b687820f11e08111f4ce462b6a48")
_MAC_EPOCH = datetime(1904, 1, 1)
_MAX_ITEM = 16 << 20  # an Exif or XMP item larger than 16 MB is not metadata
_CONTAINERS = {b"moov", b"trak", b"mdia", b"udta"}


@dataclass
class Items:
    exif: bytes | None = None  # a TIFF structure (the item's offset prefix removed)
    xmp: list[bytes] = field(default_factory=list)
    created: str | None = None  # mvhd creation time, UTC, ISO 8601
    cmt: dict[str, bytes] = field(default_factory=dict)  # CR3: CMT1..CMT4


def boxes(buf: Buffer, start: int, end: int) -> Iterator[tuple[bytes, int, int]]:
    """(type, payload start, payload end) of each box in buf[start:end]."""
    pos = start
    while pos + 8 <= end:
        size, btype = struct.unpack(">I4s", bytes(buf[pos : pos + 8]))
        head = 8
        if size == 1:
            if pos + 16 > end:
                return
            size, head = struct.unpack(">Q", bytes(buf[pos + 8 : pos + 16]))[0], 16
        elif size == 0:
            size = end - pos
        if size < head or pos + size > end:
            return
        yield btype, pos + head, pos + size
        pos += size


def read(buf: Buffer) -> Items:
    out = Items()
    for btype, start, end in boxes(buf, 0, len(buf)):
        if btype == b"meta":
            _meta(buf, start + 4, end, out)
        elif btype == b"moov":
            _moov(buf, start, end, out)
    return out


def _moov(buf: Buffer, start: int, end: int, out: Items) -> None:
    for btype, s, e in boxes(buf, start, end):
        if btype == b"mvhd" and out.created is None:
            out.created = _mvhd_created(bytes(buf[s : min(e, s + 20)]))
        elif btype == b"uuid" and bytes(buf[s : s + 16]) == _CANON_UUID:
            for sub, ss, se in boxes(buf, s + 16, e):
                if sub.startswith(b"CMT"):
                    out.cmt[sub.decode("ascii", "replace")] = bytes(buf[ss:se])
        elif btype == b"meta":
            _meta(buf, s + 4, e, out)


def _mvhd_created(data: bytes) -> str | None:
    if len(data) < 8:
        return None
    if data[0] == 1 and len(data) >= 12:
        seconds = struct.unpack(">Q", data[4:12])[0]
    else:
        seconds = struct.unpack(">I", data[4:8])[0]
    if seconds == 0:
        return None
    try:
        return (_MAC_EPOCH + timedelta(seconds=seconds)).isoformat() + "+00:00"
    except OverflowError:
        return None


def _meta(buf: Buffer, start: int, end: int, out: Items) -> None:
    kinds: dict[int, tuple[bytes, str]] = {}
    locations: dict[int, list[tuple[int, int]]] = {}
    for btype, s, e in boxes(buf, start, end):
        if btype == b"iinf":
            kinds = _iinf(buf, s, e)
        elif btype == b"iloc":
            locations = _iloc(bytes(buf[s:e]))
    for item, (itype, content) in kinds.items():
        extents = locations.get(item)
        if not extents or sum(length for _, length in extents) > _MAX_ITEM:
            continue
        data = b"".join(bytes(buf[off : off + length]) for off, length in extents if off + length <= len(buf))
        if itype == b"Exif" and out.exif is None and len(data) > 4:
            skip = struct.unpack(">I", data[:4])[0] + 4
            out.exif = data[skip:] if skip < len(data) else None
        elif itype == b"mime" and "rdf+xml" in content:
            out.xmp.append(data)


def _iinf(buf: Buffer, start: int, end: int) -> dict[int, tuple[bytes, str]]:
    version = buf[start] if start < end else 0
    first = start + (6 if version == 0 else 8)
    found: dict[int, tuple[bytes, str]] = {}
    for btype, s, e in boxes(buf, first, end):
        if btype != b"infe" or e - s < 12:
            continue
        data = bytes(buf[s:e])
        if data[0] < 2:
            continue
        if data[0] == 2:
            item, itype, rest = struct.unpack(">H", data[4:6])[0], data[8:12], data[12:]
        else:
            item, itype, rest = struct.unpack(">I", data[4:8])[0], data[10:14], data[14:]
        parts = rest.split(b"\x00")
        content = parts[1].decode("ascii", "replace") if itype == b"mime" and len(parts) > 1 else ""
        found[item] = (itype, content)
    return found


def _iloc(data: bytes) -> dict[int, list[tuple[int, int]]]:
    """item id -> [(absolute offset, length)] (construction method 0, file offsets, only)."""
    if len(data) < 8:
        return {}
    version = data[0]
    sizes = data[4], data[5]
    offset_size, length_size = sizes[0] >> 4, sizes[0] & 15
    base_size, index_size = sizes[1] >> 4, (sizes[1] & 15 if version in (1, 2) else 0)
    pos = 6

    def take(n: int) -> int:
        nonlocal pos
        if n == 0:
            return 0
        if pos + n > len(data) or n not in (2, 4, 8):
            raise ValueError("iloc out of bounds")
        value = int.from_bytes(data[pos : pos + n], "big")
        pos += n
        return value

    out: dict[int, list[tuple[int, int]]] = {}
    try:
        count = take(4 if version == 2 else 2)
        for _ in range(count):
            item = take(4 if version == 2 else 2)
            method = take(2) & 15 if version in (1, 2) else 0
            take(2)  # data reference index
            base = take(base_size)
            extents = []
            for _ in range(take(2)):
                take(index_size)
                extents.append((base + take(offset_size), take(length_size)))
            if method == 0:
                out[item] = extents
    except ValueError:
        pass
    return out
