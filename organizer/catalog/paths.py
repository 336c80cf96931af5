"""Paths in the catalog: stored as the exact bytes the file system gave, shown escaped.

A POSIX file name is a string of bytes, and shares fed by old Windows tools and zip files hold
names that are not UTF-8 (`caf\\xe9.jpg`). Python hands such names over as `str` with the invalid
bytes as lone surrogates (PEP 383), which SQLite's UTF-8 TEXT cannot hold. So path columns are
BLOBs of the path's bytes: lossless, compared and ordered byte by byte, and `substr()` on them
counts bytes, which is what prefix queries on folders need.
"""

from __future__ import annotations

import os
import re


def to_db(path: str) -> bytes:
    """The bytes stored for a path (the file system's own bytes)."""
    return os.fsencode(path)


def from_db(value: bytes | str) -> str:
    """A stored path back as the `str` the os functions take (invalid bytes as surrogates)."""
    return os.fsdecode(value)


def prefix_of(folder: str) -> bytes:
    """The stored prefix of everything under `folder`."""
    return to_db(folder.rstrip(os.sep) + os.sep)


def shown(path: str) -> str:
    """A path as text a terminal, JSON or a web page can carry: bytes that are not UTF-8 are
    written as `\\xe9` escapes; everything else is unchanged."""
    return os.fsencode(path).decode("utf-8", "backslashreplace")


_ESCAPE = re.compile(rb"\\x([0-9a-fA-F]{2})")


def unshown(text: str) -> str:
    """The path that `shown` wrote as `text` (so an escaped path can be typed back)."""
    raw = os.fsencode(text)
    return os.fsdecode(_ESCAPE.sub(lambda m: bytes([int(m[1], 16)]), raw))
