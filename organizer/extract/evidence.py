"""Every metadata block of one file and its sidecars, read but not yet judged: the raw material
of dates.resolve and describe.resolve. Reading never needs the pixels, so a file whose pixels
cannot be decoded still has its date, camera and place."""

from __future__ import annotations

import logging
import os
import stat
from dataclasses import dataclass, field

from organizer.extract import containers, iptc, metadata, takeout, tiff, xmp
from organizer.extract.iptc import Iptc
from organizer.extract.metadata import Meta
from organizer.extract.takeout import Takeout
from organizer.extract.xmp import Xmp
from organizer.extract.tiff import Buffer

log = logging.getLogger(__name__)

SIDECAR_MAX_BYTES = 4 << 20


def _read_regular(path: str) -> bytes | None:
    """Up to SIDECAR_MAX_BYTES + 1 bytes of a regular file; None for anything else. Opened
    without blocking, so a FIFO under a sidecar's name cannot hang the worker."""
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return None
        os.set_blocking(fd, True)
        with os.fdopen(os.dup(fd), "rb") as fh:
            return fh.read(SIDECAR_MAX_BYTES + 1)
    finally:
        os.close(fd)


@dataclass
class Evidence:
    exif: Meta = field(default_factory=Meta)
    xmp: Xmp = field(default_factory=Xmp)  # embedded packets
    sidecar: Xmp = field(default_factory=Xmp)  # XMP sidecar files
    iptc: Iptc = field(default_factory=Iptc)
    takeout: Takeout | None = None
    png_text: dict[str, str] = field(default_factory=dict)
    quicktime: dict[str, str] = field(default_factory=dict)  # container tags (videos, ISO-BMFF images)
    vendor_offset: int | None = None  # minutes, from a maker note's time zone
    content_id: str | None = None  # Apple's Live Photo key
    motion_video: int | None = None  # bytes of a Motion Photo's MP4 at the end of the file


def from_buffer(buf: Buffer, fmt: str, warnings: list[str]) -> Evidence:
    """The embedded metadata of an image or TIFF-based RAW held in `buf`."""
    found = containers.find(buf, fmt)
    ev = Evidence(png_text=found.png_text)
    packets = list(found.xmp)
    if fmt == "cr3":
        _cr3(buf, ev, warnings)
    elif found.exif is not None:
        ev.exif = _exif(found.exif, warnings)
        blocks = tiff.walk(found.exif)
        ev.content_id, ev.vendor_offset = blocks.content_id, blocks.vendor_offset
        if blocks.xmp:
            packets.append(blocks.xmp)
        if blocks.iptc and found.iptc is None:
            found.iptc = blocks.iptc
    elif fmt in ("jpeg", "png", "webp"):  # no EXIF block: let exifread look anyway (odd layouts)
        ev.exif = _exif(buf, warnings, whole_file=True)
    if found.iptc:
        ev.iptc = iptc.parse(found.iptc)
    if found.created:
        ev.quicktime["creation_time"] = found.created
    ev.xmp = xmp.merge(packets, warnings)
    if fmt in ("jpeg", "heif"):
        ev.motion_video = _motion_video(buf, ev.xmp)
    return ev


def _exif(block: Buffer, warnings: list[str], whole_file: bool = False) -> Meta:
    try:
        pil = metadata.pillow_exif(None if whole_file else block)
    except Exception as exc:  # Pillow raises many types on broken IFDs
        warnings.append(f"Pillow's EXIF reader failed ({type(exc).__name__}: {exc})")
        pil = metadata.pillow_exif(None)
    return metadata.read(block, pil, warnings)


def _cr3(buf: Buffer, ev: Evidence, warnings: list[str]) -> None:
    from organizer.extract import bmff

    items = bmff.read(buf)
    ev.exif = metadata.from_cr3(items.cmt)
    note = items.cmt.get("CMT3")
    if note:
        ifds = tiff.Ifds(note)
        if ifds.valid():
            ev.vendor_offset = tiff.canon_offset(ifds, ifds.first() or 0)
    if items.created:
        ev.quicktime["creation_time"] = items.created
    if not items.cmt:
        warnings.append("CR3 without CMT boxes: no EXIF")


def _motion_video(buf: Buffer, found: Xmp) -> int | None:
    """The length of a Motion Photo's video (Google MicroVideo / MotionPhoto XMP), when the bytes
    at that distance from the end really start an MP4."""
    length = found.motion_video_length()
    if not length or length >= len(buf):
        return None
    start = len(buf) - length
    return length if bytes(buf[start + 4 : start + 8]) == b"ftyp" else None


def read_sidecars(paths: tuple[str, ...], ev: Evidence, refused: list[tuple[str, str]]) -> None:
    """XMP sidecars (merged, the first listed wins per property) and a Takeout JSON sidecar.
    Only regular files are read, at most SIDECAR_MAX_BYTES of each (never a device, a FIFO or a
    socket a name points at); each one not read is (path, why) in `refused`."""
    packets = []
    for path in paths:
        name = os.path.basename(path)
        try:
            data = _read_regular(path)
        except OSError as exc:
            refused.append((path, f"cannot read sidecar {name}: {exc.strerror or exc}"))
            continue
        if data is None:
            refused.append((path, f"sidecar {name} is not a regular file: not read"))
            continue
        if len(data) > SIDECAR_MAX_BYTES:
            refused.append((path, f"sidecar {name} over {SIDECAR_MAX_BYTES} bytes: not read"))
            continue
        if path.lower().endswith(".json"):
            try:
                ev.takeout = ev.takeout or takeout.parse(data)
            except ValueError as exc:
                refused.append((path, f"sidecar {name} is not Takeout JSON ({exc})"))
        else:
            try:
                packets.append(xmp.parse(data))
            except xmp.XmpError as exc:
                refused.append((path, f"sidecar {name}: {exc}"))
    if packets:
        ev.sidecar = xmp.combine(packets)
