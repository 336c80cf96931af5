"""Album and link names a person understands, safe on every filesystem and over Samba.

Album folder names carry no count: a name changes only when the group's identity changes, so
bookmarks, Samba shortcuts and media-server libraries keep working; a numbered suffix (" 2") only
tells apart two albums of the same name.
"""

from __future__ import annotations

import functools
import os
import re
import unicodedata
from collections.abc import Iterable
from datetime import datetime

MAX_NAME_BYTES = 180  # album titles: well under the 255-byte limit, leaving room for " 2"
LINK_NAME_BYTES = 255  # a file name's limit on every common file system
_NUMBER_ROOM = len(" (99999)")
# C0 and C1 controls, DEL, the characters Windows and Samba refuse, and the bidirectional
# overrides and isolates that make a name read differently from what it is (U+202A-U+202E,
# U+2066-U+2069)
_UNSAFE = re.compile('[\x00-\x1f\x7f-\x9f/\\\\:*?"<>|\u202a-\u202e\u2066-\u2069]')
_SPACES = re.compile(r"\s+")
_PLAIN = re.compile(r"[A-Za-z0-9_()\-]+(?:[. ][A-Za-z0-9_()\-]+)*")
_SPACED_EXT = re.compile(r" +(\.[^.\s]+)$")
_RESERVED = frozenset({"CON", "PRN", "AUX", "NUL", *(f"COM{i}" for i in range(1, 10)),
                       *(f"LPT{i}" for i in range(1, 10))})


def readable(name: str) -> str:
    """A name the file system gave as bytes that are not UTF-8 (surrogates in Python: old
    Windows zips, FTP uploads), read as Windows-1252, the likeliest encoding of such names."""
    try:
        name.encode("utf-8")
        return name
    except UnicodeEncodeError:
        return os.fsencode(name).decode("cp1252", "replace")


def _cut(text: str, limit: int) -> str:
    encoded = text.encode("utf-8")
    return encoded[:limit].decode("utf-8", "ignore") if len(encoded) > limit else text


@functools.lru_cache(maxsize=1 << 16)  # file names recur in every album of their photo
def safe(text: str, fallback: str = "Unnamed", limit: int = MAX_NAME_BYTES) -> str:
    """A folder or file name with no separators, control, bidi-override or Windows-reserved
    characters, no leading or trailing dots and spaces, at most `limit` bytes of UTF-8 (an
    extension is kept whole when the name is cut)."""
    if _PLAIN.fullmatch(text) and len(text) <= limit and text.upper().split(".")[0] not in _RESERVED:
        return text  # the common case, e.g. 'IMG_1234.jpg': nothing to change
    text = unicodedata.normalize("NFC", readable(text))
    text = _UNSAFE.sub(" ", text)
    text = _SPACES.sub(" ", text).strip(" .")
    text = _SPACED_EXT.sub(r"\1", text)  # 'x .jpg' (from '<x>.jpg') -> 'x.jpg'
    if len(text.encode("utf-8")) > limit:
        stem, dot, ext = text.rpartition(".")
        if dot and 0 < len(ext.encode()) <= 16:
            text = _cut(stem, limit - len(ext.encode()) - 1).rstrip(" .") + "." + ext
        else:
            text = _cut(text, limit).rstrip(" .")
    if text.upper().split(".")[0] in _RESERVED:
        text = "_" + text
    return text or fallback


def tag_key(keyword: str) -> str:
    """A keyword's album identity: its case and Unicode form ignored ('Family' and 'family', 'Café'
    composed or decomposed are one tag, as on a share that ignores case)."""
    return unicodedata.normalize("NFC", unicodedata.normalize("NFC", keyword).casefold())


def has_name(keyword: str) -> bool:
    """Whether a keyword keeps anything once a safe folder name: '.', '..' and '...' do not (they
    would all be 'Unnamed', beside a real 'Unnamed' tag); '---' or an emoji do."""
    return bool(safe(keyword, ""))


def event_title(start: datetime, end: datetime, place: str | None) -> str:
    """'2008-10-22 Arezzo', or '2024-07-12 - 2024-07-19 Lisbon' for several days."""
    span = start.strftime("%Y-%m-%d")
    if end.date() != start.date():
        span += " - " + end.strftime("%Y-%m-%d")
    return f"{span} {place}" if place else span


def numbered(titles: Iterable[tuple[str, str]]) -> dict[str, str]:
    """Folder names for (key, title), in key order: the title itself; a title that several groups
    share is 'title 2', 'title 3' in the order of their keys, so a group's name depends on its
    identity, never on its size or its position in a run."""
    seen: dict[str, int] = {}
    names = {}
    for key, title in sorted(titles):
        title = safe(title)
        n = seen.get(title.casefold(), 0) + 1
        seen[title.casefold()] = n
        names[key] = title if n == 1 else f"{title} {n}"
    return names


def link_names(paths: Iterable[str], titles: dict[str, str] | None = None) -> dict[str, str]:
    """A link name in an album for each target path: its file name (or `titles[path]`), made
    safe, numbered when two targets share one ('DSCN0010.jpg', 'DSCN0010 (2).jpg'), in path
    order; at most 255 bytes, the extension kept."""
    names: dict[str, str] = {}
    used: set[str] = set()
    for path in sorted(paths):
        base = titles.get(path) if titles else None
        base = safe(base or path.rsplit("/", 1)[-1], "photo", LINK_NAME_BYTES - _NUMBER_ROOM)
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
