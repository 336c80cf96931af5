"""The gallery and the map of one output folder, from what `publish` planned and the catalog.

`build` is publish's one call: it gathers each album's items (`gallery.Album`), writes the pages
of the albums that changed (all of them on a full publish, which leaves a page file untouched
when its text is the same), the index from every album's card (kept in `map/pages/manifest.json`
between runs), the thumbnails the pages show, and the map.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Collection, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from organizer.catalog import Catalog, FileFacts
from organizer.config import Config
from organizer.errors import OrganizerError
from organizer.publish import gallery, mapview, pages, thumbs, web
from organizer.publish.gallery import Album, Card, Item

log = logging.getLogger(__name__)

MANIFEST_VERSION = 1
VIDEO_TYPES = frozenset({".mp4", ".m4v", ".mov", ".webm", ".mkv", ".avi", ".3gp", ".mts", ".m2ts"})
RAW_TYPES = frozenset({".dng", ".cr2", ".cr3", ".nef", ".nrw", ".arw", ".raf", ".orf", ".rw2", ".pef", ".srw"})


class PlannedAlbum(Protocol):  # publish's _Album
    kind: str
    key: str | None
    photos: list[int]

    def links(self) -> dict[str, str]: ...


class PlannedPhoto(Protocol):  # publish's _Photo
    digest: str
    taken: Any  # datetime | None
    lat: float | None
    lon: float | None
    thumb: str | None
    paths: list[str]


@dataclass
class SiteReport:
    albums_rendered: int = 0
    pages_written: int = 0
    pages_removed: int = 0
    thumbs_copied: int = 0
    map: str | None = None
    map_photos: int = 0


class _Library:
    """Lookups shared by every album of one build."""

    def __init__(self, catalog: Catalog, config: Config, photos: Mapping[int, PlannedPhoto]) -> None:
        self.catalog, self.photos = catalog, photos
        self.owner = {path: pid for pid, p in photos.items() for path in p.paths}
        self.facts: dict[str, FileFacts] = {}
        self._thumbs: dict[int, str | None] = {}
        self.model = _vector_model(config)

    def thumb(self, pid: int) -> str | None:
        if pid not in self._thumbs:
            p = self.photos[pid]
            self._thumbs[pid] = thumbs.name(p.digest) if p.thumb and os.path.exists(p.thumb) else None
        return self._thumbs[pid]

    def vectors(self, pids: list[int]) -> np.ndarray | None:
        if self.model is None:
            return None
        blobs = [self.catalog.vector(pid, self.model) for pid in pids]
        if any(b is None for b in blobs):
            return None
        return np.frombuffer(b"".join(blobs), dtype=np.float16).reshape(len(pids), -1).astype(np.float32)


def _vector_model(config: Config) -> str | None:
    from organizer.extract import vectors
    from organizer.index import vector_spec

    try:
        spec = vector_spec(config)
    except OrganizerError:
        return None
    return vectors.model_id(spec) if spec is not None else None


def representative(vectors: np.ndarray) -> int:
    """The row nearest (by cosine) to the centre of the rows."""
    unit = vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
    return int(np.argmax(unit @ unit.mean(axis=0)))


def _stem(path: str) -> tuple[str, str]:
    head, tail = os.path.split(path)
    return head, tail.split(".", 1)[0].casefold()


def _keeper_rank(item: Item) -> tuple:
    """The copy to suggest keeping first: a RAW, then the most pixels, the largest file, the
    shortest path."""
    ext = os.path.splitext(item.path)[1].lower()
    return (ext not in RAW_TYPES, -((item.width or 0) * (item.height or 0)), -(item.size or 0), len(item.path),
            item.path)


def collect(path: str, planned: PlannedAlbum, lib: _Library) -> Album:
    """One album as the gallery shows it: an item per photo (its companions with it), in time
    order (a duplicates album: the suggested keeper first), and its cover."""
    primaries: list[tuple[str, str, int]] = []
    loose: list[tuple[str, str]] = []
    for name, target in sorted(planned.links().items()):
        pid = lib.owner.get(target)
        if pid is None:
            loose.append((f"{path}/{name}", target))
        else:
            primaries.append((f"{path}/{name}", target, pid))
    stems = {_stem(target): i for i, (_, target, _) in enumerate(primaries)}
    companions: dict[int, list[str]] = {}
    alone = []
    for link, target in loose:
        i = stems.get(_stem(target))
        if i is None:
            alone.append((link, target))
        else:
            companions.setdefault(i, []).append(link)
    items: list[tuple[Item, int | None]] = []
    for i, (link, target, pid) in enumerate(primaries):
        f = lib.facts.get(target) or FileFacts(None, None, None, None)
        items.append((Item(link, target, lib.thumb(pid), lib.photos[pid].taken, f.size, f.width, f.height,
                           os.path.splitext(target)[1].lower() in VIDEO_TYPES,
                           companions=tuple(companions.get(i, ()))), pid))
    items += [(Item(link, target, video=os.path.splitext(target)[1].lower() in VIDEO_TYPES), None)
              for link, target in alone]
    rule = gallery.kind(planned.kind)
    if planned.kind == "duplicate" and items:
        best = min(items, key=lambda x: _keeper_rank(x[0]))[0]
        items = [(replace(it, keeper=it is best), pid) for it, pid in items]
        items.sort(key=lambda x: (not x[0].keeper, x[0].taken is None, x[0].taken or 0, x[0].link))
    else:
        items.sort(key=lambda x: (x[0].taken is None, x[0].taken or 0, x[0].link))
    cover = _cover([it for it, _ in items], [pid for _, pid in items], rule.visual, lib)
    dated = [it.taken for it, _ in items if it.taken]
    folder = path.rsplit("/", 1)[-1]
    return Album(planned.kind, path, rule.names.get(folder, folder), tuple(it for it, _ in items), cover,
                 min(dated) if dated else None, max(dated) if dated else None)


def _cover(items: list[Item], pids: list[int | None], visual: bool, lib: _Library) -> int:
    """Nearest the group's centre in vector space (visual groups with vectors), else the middle
    item; an item with a thumbnail when there is one."""
    with_thumb = [i for i, it in enumerate(items) if it.thumb]
    if not with_thumb:
        return len(items) // 2 if items else 0
    if visual:
        ids = [pids[i] for i in with_thumb]
        if all(pid is not None for pid in ids):
            vecs = lib.vectors(ids)  # type: ignore[arg-type]
            if vecs is not None:
                return with_thumb[representative(vecs)]
    middle = len(items) // 2
    return min(with_thumb, key=lambda i: (abs(i - middle), i))


def _load_cards(site: Path) -> dict[str, tuple[Card, int]]:
    try:
        data = json.loads((site / "pages" / "manifest.json").read_text(encoding="utf-8"))
        if data.get("version") != MANIFEST_VERSION:
            return {}
        return {path: (Card(**entry["card"]), entry["pages"]) for path, entry in data["albums"].items()}
    except (OSError, ValueError, KeyError, TypeError):
        return {}  # none yet, or unreadable: every page is made again


def _save_cards(site: Path, cards: Mapping[str, tuple[Card, int]]) -> None:
    data = {"version": MANIFEST_VERSION,
            "albums": {path: {"card": card.__dict__, "pages": n} for path, (card, n) in sorted(cards.items())}}
    web.write_if_changed(site / "pages" / "manifest.json", json.dumps(data, ensure_ascii=False, indent=0))


def _remove_pages(folder: Path, names: Collection[str]) -> int:
    removed = 0
    for name in names:
        try:
            (folder / name).unlink()
            removed += 1
        except FileNotFoundError:
            pass
    return removed


def build(root: Path, catalog: Catalog, config: Config, albums: Mapping[str, PlannedAlbum],
          photos: Mapping[int, PlannedPhoto], changed: Collection[str] | None = None,
          with_map: bool = True) -> SiteReport:
    """Write the gallery (and, `with_map`, the map) into `root`. `changed`: the albums whose
    links changed since the last publish (a quick update); None: all may have (their pages are
    rendered and written where their text differs)."""
    from organizer.publish.albums import copy_assets

    site = root / web.SITE_DIR
    folder = site / "pages"
    folder.mkdir(parents=True, exist_ok=True)
    copy_assets(web.ASSETS, site)
    report = SiteReport()
    cards = _load_cards(site)
    full = changed is None or with_map
    todo = [p for p in sorted(albums) if full or p in changed or p not in cards]  # type: ignore[operator]
    lib = _Library(catalog, config, photos)
    lib.facts = catalog.file_facts(t for p in todo for t in albums[p].links().values())
    shown: dict[str, Album] = {}
    for path in todo:
        album = shown[path] = collect(path, albums[path], lib)
        pid = web.page_id(path)
        texts = pages.album_pages(album, pid)
        names = pages.page_names(pid, pages.page_count(album.count))
        report.pages_written += sum(web.write_if_changed(folder / n, t) for n, t in zip(names, texts))
        old = cards.get(path)
        if old is not None and old[1] > len(names):
            report.pages_removed += _remove_pages(folder, pages.page_names(pid, old[1])[len(names):])
        cards[path] = (Card.of(album, names[0]), len(names))
    report.albums_rendered = len(todo)
    for path in set(cards) - set(albums):
        report.pages_removed += _remove_pages(folder, pages.page_names(web.page_id(path), cards.pop(path)[1]))
    wanted = {t: photos[pid].thumb for pid in (lib.owner.values() if full else
              {lib.owner[i.path] for a in shown.values() for i in a.items if i.path in lib.owner})
              if (t := lib.thumb(pid))}
    report.thumbs_copied = thumbs.sync(site / thumbs.FOLDER, wanted, prune=full)  # type: ignore[arg-type]
    web.write_if_changed(root / "index.html", pages.index_page([c for c, _ in cards.values()]))
    _save_cards(site, cards)
    if with_map:
        points, map_albums, areas = _map_data(catalog, albums, shown, lib, {p: c.page for p, (c, _) in cards.items()})
        report.map = str(mapview.write(root, points, map_albums, areas))
        report.map_photos = len(points)
    return report


def _map_data(catalog: Catalog, albums: Mapping[str, PlannedAlbum], shown: Mapping[str, Album], lib: _Library,
              page_of: Mapping[str, str]) -> tuple[list[mapview.MapPhoto], list[mapview.MapAlbum],
                                                   list[mapview.MapArea]]:
    """Every geotagged photo with the link it opens (through its first album, events first), its
    albums (not the timeline) and its event; each place as a circle."""
    order = sorted(shown, key=lambda p: (gallery.kind_order(shown[p].kind), p))
    listed = [p for p in order if shown[p].kind != "timeline"]
    index = {p: i for i, p in enumerate(listed)}
    link: dict[int, tuple[str, str]] = {}
    member: dict[int, list[int]] = {}
    event: dict[int, int] = {}
    for path in order:
        album = shown[path]
        for item in album.items:
            pid = lib.owner.get(item.path)
            if pid is None:
                continue
            link.setdefault(pid, (item.link, os.path.basename(item.path)))
            if path in index:
                member.setdefault(pid, []).append(index[path])
                if album.kind == "event":
                    event.setdefault(pid, index[path])
    points = []
    for pid, p in lib.photos.items():
        if p.lat is None or p.lon is None or pid not in link:
            continue
        href, name = link[pid]
        points.append(mapview.MapPhoto(p.lat, p.lon, lib.thumb(pid),
                                       p.taken.strftime("%Y-%m-%d %H:%M") if p.taken else None, name, href,
                                       tuple(sorted(set(member.get(pid, ())))), event.get(pid)))
    map_albums = [mapview.MapAlbum(p, shown[p].name, f"{web.SITE_DIR}/pages/{page_of[p]}") for p in listed]
    by_key = {(a.kind, a.key): p for p, a in albums.items()}
    areas = []
    for key, _, _, lat, lon, radius, _ in catalog.group_rows("place"):
        path = by_key.get(("place", key))
        if path in index and lat is not None:
            areas.append(mapview.MapArea(lat, lon, radius or 0.0, index[path]))
    return points, map_albums, areas
