"""Which copy of a duplicate group to keep.

The keeper: a RAW first (never advise deleting a RAW for its JPEG), then a copy that is not framed
(a screenshot, a bordered export), then the most pixels, then one that still carries its camera's
EXIF (exports and messaging apps drop it), then the original path (`originals.original_key`: not
under a folder named like copy/backup/duplicate, then the oldest mtime, then the shortest path),
the larger file last. A re-encode that grew the file (a PNG of a JPEG) is not preferred for its
size, as a rule of pixels, then size, would.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass

from organizer.cluster import originals

KEEPER = "keep"  # the note of the member of a duplicate group to keep (its copies' say how they differ)


def is_raw(fmt: str | None, path: str | None) -> bool:
    """A camera RAW, by format or by extension."""
    ext = os.path.splitext(path or "")[1].lower().lstrip(".")
    return (fmt or "").lower() in originals.RAW_FORMATS or ext in originals.RAW_FORMATS


@dataclass(frozen=True)
class Candidate:
    """What the keeper rule reads of one member of a group."""

    raw: bool
    framed: bool  # found inside a frame (screenshot, border)
    pixels: int  # full size, width x height
    has_camera: bool  # EXIF names the camera and the time of capture
    path: str  # its original path (originals.original_key's first)
    mtime_ns: int
    file_size: int


def keeper_key(c: Candidate) -> tuple:
    return (not c.raw, c.framed, -c.pixels, not c.has_camera, originals.original_key(c.path, c.mtime_ns),
            -c.file_size)


def choose_keeper(members: Sequence[Candidate]) -> int:
    """Index of the member to keep."""
    if not members:
        raise ValueError("an empty group")
    return min(range(len(members)), key=lambda i: keeper_key(members[i]))


@dataclass(frozen=True)
class File:
    """One file of a duplicate group, as `dupes` and the Duplicates albums list it."""

    path: str
    photo: int
    format: str | None
    width: int
    height: int
    size: int
    mtime_ns: int
    has_camera: bool = False
    note: str | None = None  # the finder's: KEEPER, or how this copy differs from the keeper

    @property
    def raw(self) -> bool:
        return is_raw(self.format, self.path)

    def candidate(self) -> Candidate:
        return Candidate(self.raw, False, self.width * self.height, self.has_camera, self.path, self.mtime_ns,
                         self.size)


def order(files: Sequence[File]) -> list[File]:
    """The files of a duplicate group, the one to keep first: the finder's keeper (its original
    file), then the others by the keeper rule."""
    return sorted(files, key=lambda f: (f.note != KEEPER, keeper_key(f.candidate())))
