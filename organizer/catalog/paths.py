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


# what a terminal or a log line must not receive raw: C0 and C1 controls, DEL, line and
# paragraph separators, and bidi controls that reorder what follows ('gpj.exe' shown as 'exe.jpg')
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069]")


def printable(text: str) -> str:
    """`shown`, with every control character escaped (`\\x0a`, `\\u202e`): one line of a terminal
    or a log, whatever a file name holds (a newline in a name cannot forge a second line)."""
    return _CONTROL.sub(lambda m: f"\\x{ord(m[0]):02x}" if ord(m[0]) < 0x100 else f"\\u{ord(m[0]):04x}", shown(text))


_ESCAPE = re.compile(rb"\\x([0-9a-fA-F]{2})")


def unshown(text: str) -> str:
    """The path that `shown` wrote as `text` (so an escaped path can be typed back)."""
    raw = os.fsencode(text)
    return os.fsdecode(_ESCAPE.sub(lambda m: bytes([int(m[1], 16)]), raw))
