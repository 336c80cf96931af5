"""Which copy of a duplicate group to keep, and which of a photo's paths is its original.

The keeper: a RAW first (never advise deleting a RAW for its JPEG), then a copy that is not framed
(a screenshot, a bordered export), then the most pixels, then one that still carries its camera's
EXIF (exports and messaging apps drop it), then the original path: not under a folder named like
copy/backup/duplicate, then the oldest mtime, then the shortest path; the larger file last.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from dataclasses import dataclass

RAW_EXTENSIONS = frozenset({".dng", ".arw", ".cr2", ".cr3", ".crw", ".nef", ".nrw", ".orf", ".rw2", ".raf", ".srw",
                            ".pef", ".raw", ".rwl", ".3fr", ".erf", ".kdc", ".mrw", ".x3f", ".iiq"})
RAW_FORMATS = frozenset({"dng", "raw"})
_COPY_WORDS = ("copy", "copies", "backup", "backups", "bak", "duplicate", "duplicates", "dupe", "dupes", "kopie",
               "copia", "copie", "sauvegarde", "sicherung")
COPY_FOLDER = re.compile(r"(?:^|[^a-z])(?:" + "|".join(_COPY_WORDS) + r")(?:$|[^a-z])", re.IGNORECASE)


def is_raw(fmt: str | None, path: str | None) -> bool:
    """A camera RAW, by format or by extension."""
    return (fmt or "").lower() in RAW_FORMATS or os.path.splitext(path or "")[1].lower() in RAW_EXTENSIONS


def under_copy_folder(path: str) -> bool:
    """A folder on the path is named like a copy or a backup ("Camera dump - copy", "Backup 2019", "dupes")."""
    folders = os.path.dirname(path).replace("\\", "/").split("/")
    return any(COPY_FOLDER.search(folder) for folder in folders if folder)


def path_rank(path: str, mtime: float) -> tuple[bool, float, int, str]:
    """Sort key of a photo's paths, the original first: not under a copy folder, oldest, shortest."""
    return under_copy_folder(path), mtime, len(path), path


def best_path(paths: Sequence[tuple[str, float]]) -> int:
    """Index of the original among (path, mtime) pairs of one photo."""
    if not paths:
        raise ValueError("a photo without paths")
    return min(range(len(paths)), key=lambda i: path_rank(*paths[i]))


@dataclass(frozen=True)
class Candidate:
    """What the keeper rule reads of one member of a group."""

    raw: bool
    framed: bool  # found inside a frame (screenshot, border)
    pixels: int  # full size, width x height
    has_camera: bool  # EXIF names the camera and the time of capture
    path: str  # its original path (best_path)
    mtime: float
    file_size: int


def keeper_key(c: Candidate) -> tuple:
    return (not c.raw, c.framed, -c.pixels, not c.has_camera, *path_rank(c.path, c.mtime), -c.file_size)


def choose_keeper(members: Sequence[Candidate]) -> int:
    """Index of the member to keep."""
    if not members:
        raise ValueError("an empty group")
    return min(range(len(members)), key=lambda i: keeper_key(members[i]))
