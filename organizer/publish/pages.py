"""The gallery's HTML: `index.html` (every album as a card, a tab per kind) and each album's
pages (a grid of thumbnails; a lightbox in `gallery.js`). Pure: dataclasses in, text out.

Every user string goes through `web.esc` or `web.href`; the pages hold no inline script and a
Content-Security-Policy that allows only the shipped script, so a name cannot run as code.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from datetime import datetime

from organizer.publish import gallery, web
from organizer.publish.gallery import Album, Card, Item

PAGE_SIZE = 2000  # items per album page; a larger album gets pages 2, 3, ...
IMAGE_TYPES = frozenset({".jpg", ".jpeg", ".png", ".gif", ".webp", ".avif", ".bmp"})  # a browser shows these

_CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; media-src 'self'; "
        "base-uri 'none'; form-action 'none'")


def _head(title: str, up: str) -> str:
    return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
            f'<meta http-equiv="Content-Security-Policy" content="{_CSP}">'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>{web.esc(title)}</title>"
            f'<link rel="stylesheet" href="{up}{web.SITE_DIR}/gallery/gallery.css">'
            f'<script defer src="{up}{web.SITE_DIR}/gallery/gallery.js"></script></head>\n')


def dates(start: str | datetime | None, end: str | datetime | None) -> str:
    first = start.date().isoformat() if isinstance(start, datetime) else start
    last = end.date().isoformat() if isinstance(end, datetime) else end
    if not first:
        return "undated"
    return first if not last or last == first else f"{first} – {last}"


def _count(n: int) -> str:
    return f"{n:,} photo" if n == 1 else f"{n:,} photos"


def human_size(size: int | None) -> str:
    if size is None:
        return ""
    for unit in ("bytes", "KB", "MB", "GB"):
        if size < 1000 or unit == "GB":
            return f"{size} {unit}" if unit == "bytes" else f"{size:.1f} {unit}"
        size /= 1000  # type: ignore[assignment]
    return ""


# --- the index -----------------------------------------------------------------------------------

def _card(card: Card) -> str:
    cover = (f'<img src="{web.SITE_DIR}/thumbs/{web.href(card.cover)}" alt="" loading="lazy" decoding="async">'
             if card.cover else '<span class="nocover"></span>')
    return (f'<li class="card"><a href="{web.SITE_DIR}/pages/{web.href(card.page)}">{cover}'
            f'<span class="name"><bdi>{web.esc(card.name)}</bdi></span>'
            f'<span class="meta">{dates(card.start, card.end)} · {_count(card.count)}</span></a></li>')


def _heading(card: Card) -> str:
    """The group a card is shown under: the folders between the kind's and the album's
    (`Places/Italy/Arezzo`: Italy; `Timeline/2008/10`: 2008)."""
    return "/".join(card.path.split("/")[1:-1])


def _section(kind: str, cards: list[Card]) -> str:
    rule = gallery.kind(kind)
    if rule.newest_first:
        cards.sort(key=lambda c: (c.start or "", c.name.casefold()), reverse=True)
    else:
        cards.sort(key=lambda c: c.name.casefold())
    groups: dict[str, list[Card]] = {}
    for card in cards:
        groups.setdefault(_heading(card), []).append(card)
    # headings by name (years newest first), the albums under no heading (Timeline/Undated) last
    order = sorted((g for g in groups if g), key=str.casefold, reverse=rule.newest_first)
    order += [""] if "" in groups else []
    title = cards[0].path.split("/")[0]
    parts = [f'<section class="kind" id="kind-{web.esc(kind)}" data-title="{web.esc(title)}">'
             f"<h2><bdi>{web.esc(title)}</bdi></h2>"]
    for heading in order:
        if heading:
            parts.append(f'<h3><bdi>{web.esc(heading)}</bdi></h3>')
        parts.append('<ul class="cards">' + "".join(_card(c) for c in groups[heading]) + "</ul>")
    parts.append("</section>")
    return "".join(parts)


def index_page(cards: Sequence[Card], title: str = "Photo albums") -> str:
    """`index.html`: a tab per album kind present (in `gallery.KINDS` order), its albums as cards."""
    by_kind: dict[str, list[Card]] = {}
    for card in cards:
        by_kind.setdefault(card.kind, []).append(card)
    kinds = sorted(by_kind, key=gallery.kind_order)
    tabs = "".join(
        f'<a href="#kind-{web.esc(k)}"><bdi>{web.esc(by_kind[k][0].path.split("/")[0])}</bdi> '
        f'<span class="n">{len(by_kind[k]):,}</span></a>' for k in kinds)
    body = "".join(_section(k, by_kind[k]) for k in kinds) or '<p class="empty">No albums yet.</p>'
    return (_head(title, "") + '<body class="index"><header class="top">'
            f'<h1>{web.esc(title)}</h1><a class="button" href="map.html">Map</a>'
            '<input type="search" id="find" placeholder="Find an album" aria-label="Find an album">'
            f'</header><nav class="tabs">{tabs}</nav><main>{body}</main></body></html>\n')


# --- album pages ---------------------------------------------------------------------------------

def _info(item: Item) -> str:
    parts = [item.taken.isoformat(" ", "minutes")[:16] if item.taken else "undated"]
    if item.width and item.height:
        parts.append(f"{item.width} × {item.height}")
    if item.size is not None:
        parts.append(human_size(item.size))
    return " · ".join(parts)


def _tile(item: Item, n: int, folder: tuple[str, str]) -> str:
    """`folder`: the album's path and its href, encoded once for all its links."""
    path, encoded = folder
    link = "../../" + (encoded + "/" + web.href(item.link[len(path) + 1:]) if item.link.startswith(path + "/")
                       else web.href(item.link))
    name = os.path.basename(item.path)  # the original's own name (a link's may be numbered or cleaned)
    ext = web.ext(name)
    thumb = f"../thumbs/{item.thumb}" if item.thumb else ""  # thumbs.name(): hex digits, nothing to encode
    if item.video:
        show, full = "video", link
    elif ext in IMAGE_TYPES or not thumb:
        show, full = "image", link
    else:  # RAW, HEIC, TIFF...: the browser cannot show it; the lightbox shows the thumbnail
        show, full = "preview", thumb
    companions = ""
    if item.companions:
        companions = (f' data-companions="{web.esc(json.dumps([[os.path.basename(c), "../../" + web.href(c)] for c in item.companions], ensure_ascii=False))}"')
    size = f' width="{item.width}" height="{item.height}"' if item.width and item.height else ""
    shown = web.esc(name)
    picture = (f'<img src="{thumb}" alt="{shown}" loading="lazy" decoding="async"{size}>' if thumb
               else f'<span class="nothumb"><bdi>{shown}</bdi></span>')
    badge = '<span class="badge">▶</span>' if item.video else ""
    if item.companions:
        badge += f'<span class="badge plus">+{len(item.companions)}</span>'
    return (f'<a class="tile" href="{link}" data-n="{n}" data-name="{shown}" data-show="{show}" data-full="{full}" '
            f'data-info="{web.esc(_info(item))}"{companions}>{picture}{badge}</a>')


def _copy(item: Item, n: int, folder: tuple[str, str]) -> str:
    """A duplicates album's file: its picture, full path, size and resolution side by side."""
    keeper = '<p class="keeper">Suggested keeper</p>' if item.keeper else ""
    dims = f"{item.width} × {item.height}" if item.width and item.height else "unknown"
    return (f'<article class="copy{" keep" if item.keeper else ""}">{_tile(item, n, folder)}{keeper}<dl>'
            f'<dt>Path</dt><dd class="path"><bdi>{web.esc(item.path)}</bdi></dd>'
            f'<dt>Size</dt><dd>{human_size(item.size) or "unknown"}</dd>'
            f'<dt>Resolution</dt><dd>{dims}</dd>'
            f'<dt>Date</dt><dd>{item.taken.strftime("%Y-%m-%d %H:%M") if item.taken else "undated"}</dd>'
            "</dl></article>")


def page_count(items: int) -> int:
    return max(1, -(-items // PAGE_SIZE))


def page_names(page: str, n: int) -> list[str]:
    """The file names of an album's `n` pages: `ID.html`, `ID-2.html`, ..."""
    return [f"{page}.html" if i == 0 else f"{page}-{i + 1}.html" for i in range(n)]


def _pager(names: list[str], current: int) -> str:
    if len(names) == 1:
        return ""
    links = "".join(f'<span class="here">{i + 1}</span>' if i == current else f'<a href="{name}">{i + 1}</a>'
                    for i, name in enumerate(names))
    return f'<nav class="pager">Page {links}</nav>'


def album_pages(album: Album, page: str) -> list[str]:
    """The HTML of each of the album's pages (named by `page_names`)."""
    names = page_names(page, page_count(album.count))
    title = web.esc(album.name)
    back = f"../../index.html#kind-{web.esc(album.kind)}"
    meta = (f'{dates(album.start, album.end)} · {_count(album.count)} · '
            f'<a href="../../{web.href(album.path)}/">folder</a>')
    render = _copy if album.kind == "duplicate" else _tile
    out = []
    for i, _ in enumerate(names):
        chunk = album.items[i * PAGE_SIZE:(i + 1) * PAGE_SIZE]
        folder = (album.path, web.href(album.path))
        grid = "".join(render(item, i * PAGE_SIZE + k, folder) for k, item in enumerate(chunk))
        out.append(
            _head(album.name, "../../") + f'<body class="album kind-{web.esc(album.kind)}"><header class="top">'
            f'<a class="button" href="{back}">← Albums</a><a class="button" href="../../map.html">Map</a>'
            f'<h1><bdi>{title}</bdi></h1><p class="meta">{meta}</p></header>{_pager(names, i)}'
            f'<main class="{"copies" if album.kind == "duplicate" else "grid"}">{grid}</main>'
            f"{_pager(names, i)}</body></html>\n")
    return out

