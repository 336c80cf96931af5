"""A small TIFF/EXIF structure walker: finds the blocks exifread does not give (XMP tag 700, IPTC
tag 33723, the raw maker note) and reads the few maker-note values organizer uses (Apple's Live
Photo content identifier, Canon's and Nikon's time zones). Works on any bytes-like buffer (an
mmap of a large file too); every offset is bounds-checked, so odd bytes give None, never an error.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import Union

Buffer = Union[bytes, bytearray, memoryview]

XMP_TAG = 700
IPTC_TAG = 33723
EXIF_IFD_TAG = 0x8769
MAKERNOTE_TAG = 0x927C
_TYPE_SIZES = {1: 1, 2: 1, 3: 2, 4: 4, 5: 8, 6: 1, 7: 1, 8: 2, 9: 4, 10: 8, 11: 4, 12: 8, 13: 4}
_MAX_ENTRIES = 1000


@dataclass(frozen=True)
class Entry:
    tag: int
    type: int
    count: int
    offset: int  # where the value's bytes start in the buffer
    size: int


class Ifds:
    """IFD reader over `buf`, whose TIFF header starts at `base` (offsets are relative to it)."""

    def __init__(self, buf: Buffer, base: int = 0, order: str | None = None) -> None:
        self.buf, self.base = buf, base
        head = bytes(buf[base : base + 2])
        self.order = order or {b"II": "<", b"MM": ">"}.get(head, "")

    def valid(self) -> bool:
        return bool(self.order) and self._u(self.base + 2, "H") in (42, 43, 0x4F52, 0x5352, 0x55)

    def _u(self, pos: int, fmt: str) -> int | None:
        size = struct.calcsize(fmt)
        if pos < 0 or pos + size > len(self.buf):
            return None
        return struct.unpack(self.order + fmt, bytes(self.buf[pos : pos + size]))[0]

    def first(self) -> int | None:
        """Absolute position of IFD0."""
        rel = self._u(self.base + 4, "I")
        return None if rel is None else self.base + rel

    def entries(self, pos: int | None, relative_to: int | None = None) -> dict[int, Entry]:
        """The entries of the IFD at absolute `pos`; value offsets relative to `relative_to`
        (default: the TIFF header)."""
        base = self.base if relative_to is None else relative_to
        count = None if pos is None else self._u(pos, "H")
        if count is None or count > _MAX_ENTRIES:
            return {}
        out: dict[int, Entry] = {}
        for i in range(count):
            at = pos + 2 + 12 * i  # type: ignore[operator]
            tag, typ, n = self._u(at, "H"), self._u(at + 2, "H"), self._u(at + 4, "I")
            if tag is None or typ is None or n is None or typ not in _TYPE_SIZES:
                continue
            size = _TYPE_SIZES[typ] * n
            offset = at + 8 if size <= 4 else base + (self._u(at + 8, "I") or 0)
            if offset + size <= len(self.buf):
                out[tag] = Entry(tag, typ, n, offset, size)
        return out

    def raw(self, entry: Entry | None) -> bytes | None:
        return None if entry is None else bytes(self.buf[entry.offset : entry.offset + entry.size])

    def ints(self, entry: Entry | None) -> tuple[int, ...]:
        if entry is None:
            return ()
        fmt = {1: "B", 3: "H", 4: "I", 6: "b", 8: "h", 9: "i", 7: "B", 13: "I"}.get(entry.type)
        if fmt is None:
            return ()
        n = entry.size // struct.calcsize(fmt)
        return struct.unpack(f"{self.order}{n}{fmt}", self.raw(entry) or b"")

    def text(self, entry: Entry | None) -> str | None:
        data = self.raw(entry)
        if not data:
            return None
        value = data.split(b"\x00", 1)[0].decode("utf-8", "replace").strip()
        return value or None


@dataclass(frozen=True)
class Blocks:
    """What the walker found in one TIFF structure."""

    xmp: bytes | None = None
    iptc: bytes | None = None
    content_id: str | None = None  # Apple's Live Photo key
    vendor_offset: int | None = None  # minutes, from Canon's or Nikon's time zone


def walk(buf: Buffer, base: int = 0) -> Blocks:
    """XMP and IPTC blocks from IFD0, and the maker-note facts, of the TIFF structure at `base`."""
    ifds = Ifds(buf, base)
    if not ifds.valid():
        return Blocks()
    ifd0 = ifds.entries(ifds.first())
    make = (ifds.text(ifd0.get(0x010F)) or "").lower()
    exif_ifd = ifds.ints(ifd0.get(EXIF_IFD_TAG))
    note = ifds.entries(base + exif_ifd[0]).get(MAKERNOTE_TAG) if exif_ifd else None
    content_id = vendor = None
    if note is not None:
        content_id = _apple_content_id(buf, note.offset)
        if make.startswith("canon"):
            vendor = canon_offset(ifds, note.offset)
        elif make.startswith("nikon"):
            vendor = _nikon_offset(buf, note.offset)
    return Blocks(ifds.raw(ifd0.get(XMP_TAG)), ifds.raw(ifd0.get(IPTC_TAG)), content_id, vendor)


def _apple_content_id(buf: Buffer, start: int) -> str | None:
    """Apple's maker note: 'Apple iOS\\0', version, 'MM', then an IFD whose offsets are relative to
    the note's start; tag 0x0011 is the content identifier that pairs a photo with its Live MOV."""
    if bytes(buf[start : start + 10]) != b"Apple iOS\x00":
        return None
    order = {b"MM": ">", b"II": "<"}.get(bytes(buf[start + 12 : start + 14]))
    if order is None:
        return None
    note = Ifds(buf, start, order)
    return note.text(note.entries(start + 14, relative_to=start).get(0x0011))


def canon_offset(ifds: Ifds, start: int) -> int | None:
    """Canon TimeInfo (0x0035, int32s[4]): [size, TimeZone minutes, city, DaylightSavings minutes]."""
    values = ifds.ints(ifds.entries(start).get(0x0035))
    if len(values) < 4:
        return None
    zone = struct.unpack("i", struct.pack("I", values[1] & 0xFFFFFFFF))[0]
    dst = values[3] if values[3] in (0, 60) else 0
    minutes = zone + dst
    return minutes if -12 * 60 <= minutes <= 14 * 60 else None


def _nikon_offset(buf: Buffer, start: int) -> int | None:
    """Nikon type-3 note ('Nikon\\0' + version + its own TIFF header); WorldTime (0x0024):
    int16s TimeZone minutes, int8 DaylightSavings (1 = one hour more)."""
    if bytes(buf[start : start + 6]) != b"Nikon\x00":
        return None
    note = Ifds(buf, start + 10)
    if not note.valid():
        return None
    entry = note.entries(note.first()).get(0x0024)
    data = note.raw(entry)
    if not data or len(data) < 3:
        return None
    minutes = struct.unpack(note.order + "h", data[:2])[0] + (60 if data[2] == 1 else 0)
    return minutes if -12 * 60 <= minutes <= 14 * 60 else None
