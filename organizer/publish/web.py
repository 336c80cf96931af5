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
from pathlib import Path
from urllib.parse import quote

ASSETS = Path(__file__).parent / "assets"
SITE_DIR = "map"  # the output's own folder: assets, thumbnails, album pages


def text(value: str) -> str:
    """A string that can be written as UTF-8: a path that was not valid UTF-8 (held with
    surrogate escapes) shows its odd bytes as `\\xe9`."""
    try:
        value.encode("utf-8")
        return value
    except UnicodeEncodeError:
        return os.fsencode(value).decode("utf-8", "backslashreplace")


def esc(value: str) -> str:
    """HTML text or a double-quoted attribute value."""
    return html.escape(text(value), quote=True)


def href(relative: str) -> str:
    """A relative URL for a POSIX path relative to the page, each segment percent-encoded from its
    exact bytes (so `#`, `?`, `%` and non-UTF-8 names reach the right file), already safe for an
    attribute."""
    return "/".join(quote(os.fsencode(part), safe="") if part not in ("..", ".") else part
                    for part in relative.split("/"))


def script_json(data: object) -> str:
    """JSON that cannot end the <script> element it sits in, nor hold unwritable surrogates."""
    encoded = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    return (text(encoded).replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
            .replace("\u2028", "\\u2028").replace("\u2029", "\\u2029"))


def page_id(album_path: str) -> str:
    """A stable file name for an album's page, whatever its name holds."""
    return hashlib.blake2b(os.fsencode(album_path), digest_size=8).hexdigest()


def write_if_changed(path: Path, content: str) -> bool:
    """Write `content` (atomically: a temporary file renamed over) unless the file holds it
    already; True when written."""
    data = content.encode("utf-8")
    try:
        if path.stat().st_size == len(data) and path.read_bytes() == data:
            return False
    except OSError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_bytes(data)
    tmp.replace(path)
    return True
