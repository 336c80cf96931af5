"""One media file opened for extraction: its first bytes sniffed, its kind decided, its bytes held
in memory only when it is an image under the read-whole bound; everything else (videos, RAW) is
read through an mmap or by its decoder in small pieces, and the digest is streamed."""

from __future__ import annotations

import contextlib
import mmap
import os
from collections.abc import Iterator
from dataclasses import dataclass, field

import xxhash

from organizer.extract import decode
from organizer.extract.tiff import Buffer

HEAD_BYTES = 512
_CHUNK = 1 << 20

# RAW formats LibRaw reads, by extension (TIFF-based ones share TIFF's magic bytes).
RAW_EXTENSIONS = frozenset(
    {".dng", ".cr2", ".cr3", ".crw", ".nef", ".nrw", ".arw", ".srf", ".sr2", ".raf", ".rw2", ".rwl", ".orf",
     ".pef", ".srw", ".iiq", ".3fr", ".fff", ".mrw", ".x3f", ".erf", ".kdc", ".dcr", ".mos", ".mef"}
)
VIDEO_EXTENSIONS = frozenset(
    {".mov", ".mp4", ".m4v", ".3gp", ".3g2", ".mkv", ".webm", ".avi", ".mts", ".m2ts", ".ts", ".wmv",
     ".asf", ".mpg", ".mpeg", ".vob", ".mxf", ".flv"}
)
_VIDEO_BRANDS = {b"qt  ", b"isom", b"iso2", b"iso4", b"iso5", b"iso6", b"mp41", b"mp42", b"M4V ", b"M4VP", b"M4VH",
                 b"3gp4", b"3gp5", b"3gp6", b"3gp7", b"3g2a", b"3g2b", b"avc1", b"MSNV", b"XAVC", b"mp4v", b"dash",
                 b"f4v ", b"kddi", b"CAEP", b"niko", b"FACE", b"MQT "}
_QT_ATOMS = {b"moov", b"mdat", b"wide", b"free", b"skip", b"pnot"}


class NotMedia(ValueError):
    """Content that is neither an image, a video nor a RAW file organizer reads; `head` holds its
    first bytes (to say what it is)."""

    def __init__(self, message: str, head: bytes = b"") -> None:
        super().__init__(message)
        self.head = head


class TooLarge(ValueError):
    """An image over the read-whole bound."""


def sniff(head: bytes, name: str) -> tuple[str, str] | None:
    """(kind, format) from a file's first bytes (its extension only tells TIFF-based RAW from TIFF):
    kind photo | video | raw."""
    ext = os.path.splitext(name)[1].lower()
    raw = _raw(head, ext)
    if raw:
        return "raw", raw
    image = decode.sniff(head[:64])
    if image:
        return "photo", image
    video = _video(head)
    return ("video", video) if video else None


def _raw(head: bytes, ext: str) -> str | None:
    if head[4:12] == b"ftypcrx ":
        return "cr3"
    if head.startswith(b"FUJIFILMCCD-RAW"):
        return "raf"
    if head.startswith(b"\x00MRM"):
        return "mrw"
    if head.startswith(b"FOVb"):
        return "x3f"
    if head[:4] in (b"IIRO", b"IIRS", b"MMOR"):
        return "orf"
    if head[:4] == b"IIU\x00":
        return "rw2"
    if head[:4] in (b"II*\x00", b"MM\x00*") and ext in RAW_EXTENSIONS:
        return ext[1:]
    return None


def _video(head: bytes) -> str | None:
    if head[4:8] == b"ftyp":
        brands = {head[8:12]} | {head[i : i + 4] for i in range(16, min(len(head), 64), 4)}
        if brands & _VIDEO_BRANDS:
            return "mov" if head[8:12] == b"qt  " else "mp4"
        return None
    if head[4:8] in _QT_ATOMS:
        return "mov"
    if head.startswith(b"\x1a\x45\xdf\xa3"):
        return "webm" if b"webm" in head[:64] else "mkv"
    if head[:4] == b"RIFF" and head[8:12] == b"AVI ":
        return "avi"
    if head.startswith(bytes.fromhex("3026b2758e66cf11")):
        return "asf"
    if head[:4] == b"\x00\x00\x01\xba":
        return "mpeg"
    if len(head) > 196 and head[0] == 0x47 and head[188] == 0x47:
        return "mpegts"
    if len(head) > 200 and head[4] == 0x47 and head[196] == 0x47:
        return "m2ts"
    return None


def expected_kind(name: str) -> str | None:
    """The kind a file's extension announces (content that does not match is an error row)."""
    ext = os.path.splitext(name)[1].lower()
    if ext in RAW_EXTENSIONS:
        return "raw"
    if ext in VIDEO_EXTENSIONS:
        return "video"
    return "photo" if decode.looks_like_image(name) else None


@dataclass
class Source:
    name: str
    size: int
    kind: str
    format: str
    path: str | None = None
    data: bytes | None = None  # the whole file: images under the read-whole bound only
    _digest: str | None = field(default=None, repr=False)

    @contextlib.contextmanager
    def buffer(self) -> Iterator[Buffer]:
        """The file's bytes: in memory, else an mmap (pages are read only where parsers look)."""
        if self.data is not None:
            yield self.data
            return
        assert self.path is not None
        with open(self.path, "rb") as fh:
            if self.size == 0:
                yield b""
                return
            with mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as mm:
                yield mm

    def digest(self) -> str:
        """xxh3-128 of the bytes (the same value whether they were in memory or streamed)."""
        if self._digest is None:
            if self.data is not None:
                self._digest = xxhash.xxh3_128_hexdigest(self.data)
            else:
                assert self.path is not None
                hasher = xxhash.xxh3_128()
                with open(self.path, "rb") as fh:
                    while chunk := fh.read(_CHUNK):
                        hasher.update(chunk)
                self._digest = hasher.hexdigest()
        return self._digest


def from_bytes(data: bytes, name: str) -> Source:
    found = sniff(data[:HEAD_BYTES], name)
    if found is None:
        raise NotMedia(describe(data[:HEAD_BYTES], name))
    return Source(name, len(data), found[0], found[1], data=data)


def open_file(path: str, max_image_bytes: int) -> Source:
    """Sniff `path` and read it whole when it is an image of at most `max_image_bytes`.
    Raises NotMedia, TooLarge or OSError."""
    name = os.path.basename(path)
    with open(path, "rb") as fh:
        size = os.fstat(fh.fileno()).st_size
        head = fh.read(HEAD_BYTES)
        found = sniff(head, name)
        if found is None:
            raise NotMedia(describe(head, name), head)
        kind, fmt = found
        if kind != "photo":
            return Source(name, size, kind, fmt, path=path)
        if size > max_image_bytes:
            raise TooLarge(f"file too large ({size} bytes), not read")
        data = head + fh.read()
    return Source(name, len(data), kind, fmt, path=path, data=data)


def describe(head: bytes, name: str) -> str:
    """The error for content we do not read, worded for the kind its name announces."""
    what = {"raw": "RAW file", "video": "video"}.get(expected_kind(name) or "", "image")
    return f"not a supported {what} ({decode.describe(head[:64])})"
