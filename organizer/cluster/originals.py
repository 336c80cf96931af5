"""Which of several files is the original: the path albums link (and the keeper rule's last word).

Pure: paths and numbers in, an order out.
"""

from __future__ import annotations

import os
import re

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
