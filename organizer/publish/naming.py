"""Album and link names a person understands, safe on every filesystem and over Samba."""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Iterable
from datetime import datetime

MAX_NAME_BYTES = 180  # well under the 255-byte limit, leaving room for " 2 (12345)"
_UNSAFE = re.compile(r'[\x00-\x1f\x7f/\\:*?"<>|]')
_SPACES = re.compile(r"\s+")
_PLAIN = re.compile(r"[A-Za-z0-9_()\-]+(?:[. ][A-Za-z0-9_()\-]+)*")
_SPACED_EXT = re.compile(r" +(\.[^.\s]+)$")
_RESERVED = frozenset({"CON", "PRN", "AUX", "NUL", *(f"COM{i}" for i in range(1, 10)),
                       *(f"LPT{i}" for i in range(1, 10))})


@functools.lru_cache(maxsize=1 << 16)  # file names recur in every album of their photo
def safe(text: str, fallback: str = "Unnamed") -> str:
    """A folder or file name with no separators, control or Windows-reserved characters, no
    leading or trailing dots and spaces, and a bounded length in UTF-8 bytes."""
    if _PLAIN.fullmatch(text) and len(text) <= MAX_NAME_BYTES and text.upper().split(".")[0] not in _RESERVED:
        return text  # the common case, e.g. 'IMG_1234.jpg': nothing to change
    text = unicodedata.normalize("NFC", text)
    text = _UNSAFE.sub(" ", text)
    text = _SPACES.sub(" ", text).strip(" .")
    text = _SPACED_EXT.sub(r"\1", text)  # 'x .jpg' (from '<x>.jpg') -> 'x.jpg'
    encoded = text.encode("utf-8")
    if len(encoded) > MAX_NAME_BYTES:
        text = encoded[:MAX_NAME_BYTES].decode("utf-8", "ignore").rstrip(" .")
    if text.upper().split(".")[0] in _RESERVED:
        text = "_" + text
    return text or fallback


def event_title(start: datetime, end: datetime, place: str | None) -> str:
    """'2008-10-22 Arezzo', or '2024-07-12 - 2024-07-19 Lisbon' for several days."""
    span = start.strftime("%Y-%m-%d")
    if end.date() != start.date():
        span += " - " + end.strftime("%Y-%m-%d")
    return f"{span} {place}" if place else span


def numbered(titles: Iterable[tuple[str, str, int]]) -> dict[str, str]:
    """Folder names for (key, title, count), in key order: 'title (count)'; a title that several
    groups share is numbered 'title 2 (count)', 'title 3 (count)' in the order of their keys, so a
    group's name depends on its identity, not on its position in a run."""
    seen: dict[str, int] = {}
    names = {}
    for key, title, count in sorted(titles):
        title = safe(title)
        n = seen.get(title.casefold(), 0) + 1
        seen[title.casefold()] = n
        names[key] = f"{title} ({count})" if n == 1 else f"{title} {n} ({count})"
    return names


def link_names(paths: Iterable[str]) -> dict[str, str]:
    """A link name in an album for each target path: its file name, numbered when two targets
    share one ('DSCN0010.jpg', 'DSCN0010 (2).jpg'), in path order."""
    names: dict[str, str] = {}
    used: set[str] = set()
    for path in sorted(paths):
        base = safe(path.rsplit("/", 1)[-1], "photo")
        stem, dot, ext = base.rpartition(".")
        if not dot:
            stem, ext = base, ""
        name, n = base, 1
        while name.casefold() in used:
            n += 1
            name = f"{stem} ({n}).{ext}" if ext else f"{stem} ({n})"
        used.add(name.casefold())
        names[path] = name
    return names
