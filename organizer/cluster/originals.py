"""Which of several files is the original: the path albums link, and the copy to keep.

Pure: paths and numbers in, an order out.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from dataclasses import dataclass

# Folder names that say "this is a copy": 'Camera dump 2008 - copy', 'Backup', 'Kopie von x',
# 'Duplicates', 'old copies', 'x (1)'.
_COPY_FOLDER = re.compile(r"(\bcop(y|ies)\b|\bbackups?\b|\bduplicates?\b|\bdupes?\b|\bkopie\b|\bcopie\b|"
                          r"\bcopia\b|\bbak\b|\(\d+\)\s*$)", re.IGNORECASE)
RAW_FORMATS = frozenset({"dng", "cr2", "cr3", "crw", "nef", "nrw", "arw", "srf", "sr2", "raf", "rw2", "orf", "pef",
                         "srw", "iiq", "3fr", "mrw", "x3f", "erf", "kdc", "dcr", "mef", "mos", "raw", "rwl"})


def copy_like(path: str) -> bool:
    """Whether any folder on the path is named like a copy or a backup."""
    return any(_COPY_FOLDER.search(part) for part in path.split(os.sep)[:-1] if part)


def original_key(path: str, mtime_ns: int) -> tuple:
    """Sort key: originals first (not under copy-like folders), then the oldest file, then the
    shortest path, then the path itself (a total, stable order)."""
    return (copy_like(path), mtime_ns, len(path), path)


@dataclass(frozen=True)
class Copy:
    """One file of a duplicate group, with what the keeper rule weighs."""

    path: str
    photo: int
    format: str | None
    width: int
    height: int
    size: int
    mtime_ns: int

    @property
    def raw(self) -> bool:
        ext = os.path.splitext(self.path)[1].lower().lstrip(".")
        return (self.format or "").lower() in RAW_FORMATS or ext in RAW_FORMATS


def keeper_order(copies: Sequence[Copy]) -> list[Copy]:
    """The copies, the one to keep first: a RAW (never advise deleting a RAW for its JPEG), then
    the most pixels, then the larger file (less re-encoded), then the original path."""
    return sorted(copies, key=lambda c: (not c.raw, -(c.width * c.height), -c.size,
                                         original_key(c.path, c.mtime_ns)))
