"""What every page needs to put user strings into HTML safely, and to write files in place.

A user string (a file name, a folder, a place name from an online geocoder) reaches a page only
through `esc` (HTML text and quoted attributes), `href` (a relative URL, percent-encoded byte by
byte) or `script_json` (data in a script element): never into markup or code unescaped.
"""

from __future__ import annotations

import hashlib
import html
import json
import os
import re
from pathlib import Path
from urllib.parse import quote

from organizer.catalog import shown

ASSETS = Path(__file__).parent / "assets"
_PLAIN = re.compile(r"[A-Za-z0-9_.\-/]+")
SITE_DIR = "map"  # the output's own folder: assets, thumbnails, album pages


def esc(value: str) -> str:
    """HTML text or a double-quoted attribute value."""
    return html.escape(value if value.isascii() else shown(value), quote=True)


def href(relative: str) -> str:
    """A relative URL for a POSIX path relative to the page, each segment percent-encoded from its
    exact bytes (so `#`, `?`, `%` and non-UTF-8 names reach the right file), already safe for an
    attribute."""
    if _PLAIN.fullmatch(relative):
        return relative  # 'Timeline/2008/10/IMG_1234.jpg': nothing to encode
    return "/".join(quote(os.fsencode(part), safe="") if part not in ("..", ".") else part
                    for part in relative.split("/"))


def script_json(data: object) -> str:
    """JSON that cannot end the <script> element it sits in, nor hold unwritable surrogates."""
    encoded = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    return (shown(encoded).replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
            .replace("\u2028", "\\u2028").replace("\u2029", "\\u2029"))


def ext(path: str) -> str:
    """'.jpg' of '/a/IMG_1.JPG' ('' for none); cheaper than os.path.splitext, for every item."""
    name = path.rpartition("/")[2]
    return "." + name.rpartition(".")[2].lower() if "." in name else ""


def page_id(album_path: str) -> str:
    """A stable file name for an album's page, whatever its name holds."""
    return hashlib.blake2b(os.fsencode(album_path), digest_size=8).hexdigest()


def write_if_changed(path: Path, content: str | bytes) -> bool:
    """Write `content` (atomically: a temporary file renamed over; neither read nor written
    through a symlink) unless the file holds it already; True when written."""
    data = content.encode("utf-8") if isinstance(content, str) else content
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
        with os.fdopen(fd, "rb") as fh:
            if fh.read(len(data) + 1) == data:
                return False
    except OSError:
        pass
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW | os.O_CLOEXEC, 0o644)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, path)
    except BaseException:  # a full disk: no half-written file left to fill it further
        tmp.unlink(missing_ok=True)
        raise
    return True
