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
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from organizer.catalog import Catalog
from organizer.config import Config
from organizer.errors import OrganizerError
from organizer.extract import vectors as vector_models
from organizer.extract import features
from organizer.publish import facecrops, gallery, mapview, pages, thumbs, web
from organizer.publish.albums import AlbumTree
from organizer.publish.dirfd import Unsafe
from organizer.publish.gallery import Album, Card, Item
from organizer.publish.plan import Album as Planned
from organizer.publish.plan import Photo

log = logging.getLogger(__name__)

MANIFEST_VERSION = 1
VIDEO_TYPES = frozenset({".mp4", ".m4v", ".mov", ".webm", ".mkv", ".avi", ".3gp", ".mts", ".m2ts"})
FOLDERS = (web.SITE_DIR, f"{web.SITE_DIR}/pages", f"{web.SITE_DIR}/{thumbs.FOLDER}")


@dataclass
class SiteReport:
    albums_rendered: int = 0
    pages_written: int = 0
    pages_removed: int = 0
    thumbs_copied: int = 0
    gallery: str | None = None
    map: str | None = None
    map_photos: int = 0
    unsafe: list[str] = field(default_factory=list)


class _Library:
    """Lookups shared by every album of one build."""

    def __init__(self, catalog: Catalog, config: Config, photos: Mapping[int, Photo]) -> None:
        self.catalog, self.photos = catalog, photos
        self.owner = {f.path: pid for pid, p in photos.items() for f in p.files}
        self.companion_of = {c: pid for pid, p in photos.items() for c in p.companions}
        self.size = {f.path: f.size for p in photos.values() for f in p.files}
        self._thumbs: dict[int, str | None] = {}
        self.model = _vector_model(config)
        self.cache_dir = config.catalog.cache_dir
        wanted = features.wanted(config).get("faces")
        self.faces_version = features.version("faces", wanted) if wanted is not None else None
        self.crops: dict[str, str] = {}  # face crops shown: name under map/thumbs/ -> cached file

    def thumb(self, pid: int) -> str | None:
        if pid not in self._thumbs:
            p = self.photos[pid]
            self._thumbs[pid] = thumbs.name(p.digest) if p.thumb and os.path.exists(p.thumb) else None
        return self._thumbs[pid]

    def face_cover(self, pids: list[int]) -> str | None:
        """A crop of the face of the person in these photos (see publish.facecrops), or None."""
        if self.faces_version is None:
            return None
        from organizer.extract.faces import RECORD  # the faces extra: asked for only where faces are on

        blobs = self.catalog.photos.feature_values("faces", self.faces_version, pids)
        found = facecrops.choose({pid: np.frombuffer(b, dtype=RECORD) for pid, b in blobs.items()
                                  if self.photos[pid].kind == "photo"})
        if found is None:
            return None
        pid, box = found
        photo = self.photos[pid]
        rel = facecrops.name(photo.digest, box)
        made = facecrops.make(self.cache_dir, rel, photo.path, photo.format, box)
        if made is None:
            return None
        self.crops[rel] = made
        return rel

    def vectors(self, pids: list[int]) -> np.ndarray | None:
        if self.model is None:
            return None
        blobs = [self.catalog.photos.vector(pid, self.model) for pid in pids]
        if any(b is None for b in blobs):
            return None
        return np.frombuffer(b"".join(blobs), dtype=np.float16).reshape(len(pids), -1).astype(np.float32)


def _vector_model(config: Config) -> str | None:
    try:
        spec = vector_models.spec(config.vectors)
        return vector_models.model_id(spec) if spec is not None else None
    except OrganizerError:  # a user's model that is gone: covers without vectors
        return None


def representative(vectors: np.ndarray) -> int:
    """The row nearest (by cosine) to the centre of the rows."""
    unit = vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
    return int(np.argmax(unit @ unit.mean(axis=0)))


def collect(path: str, planned: Planned, lib: _Library) -> Album:
    """One album as the gallery shows it: an item per photo or video with the links of its
    companions (a RAW, a Live Photo's MOV, sidecars: `Photo.companions`), in time order (a
    duplicates album: in publish's keeper order, the suggested keeper first), and its cover."""
    primaries: list[tuple[str, str, int]] = []
    loose: list[tuple[str, str]] = []
    for name, target in sorted(planned.links().items()):
        pid = lib.owner.get(target)
        if pid is None:
            loose.append((f"{path}/{name}", target))
        else:
            primaries.append((f"{path}/{name}", target, pid))
    here = {pid: i for i, (_, _, pid) in enumerate(primaries)}
    companions: dict[int, list[str]] = {}
    alone = []
    for link, target in loose:
        i = here.get(lib.companion_of.get(target, -1))
        if i is None:
            alone.append((link, target))  # a file of no photo here: shown on its own
        else:
            companions.setdefault(i, []).append(link)
    items: list[tuple[Item, int | None]] = []
    for i, (link, target, pid) in enumerate(primaries):
        p = lib.photos[pid]
        items.append((Item(link, target, lib.thumb(pid), p.taken, lib.size.get(target), p.width or None,
                           p.height or None, p.kind == "video" or web.ext(target) in VIDEO_TYPES,
                           companions=tuple(companions.get(i, ()))), pid))
    items += [(Item(link, target, video=web.ext(target) in VIDEO_TYPES), None)
              for link, target in alone]
    rule = gallery.kind(planned.kind)
    if planned.kind == "duplicate" and items:
        rank = {target: i for i, target in enumerate(planned.targets)}  # the one to keep first
        items = [(replace(it, keeper=rank.get(it.path) == 0), pid) for it, pid in items]
        items.sort(key=lambda x: rank.get(x[0].path, len(rank)))
    else:
        items.sort(key=lambda x: (x[0].taken is None, x[0].taken or 0, x[0].link))
    cover = _cover([it for it, _ in items], [pid for _, pid in items], rule.visual, lib)
    dated = [it.taken for it, _ in items if it.taken]
    folder = path.rsplit("/", 1)[-1]
    face = lib.face_cover([pid for _, pid in items if pid is not None]) if planned.kind == "person" else None
    return Album(planned.kind, path, rule.names.get(folder, folder), tuple(it for it, _ in items), cover,
                 min(dated) if dated else None, max(dated) if dated else None, face)


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


@dataclass(frozen=True)
class Shown:
    """What the gallery shows of an album: its card, its number of pages, and the digest of the
    planned album they were rendered from (`plan.Album.digest`; None: from before digests were
    kept)."""

    card: Card
    pages: int
    digest: str | None


def _load_cards(site: Path) -> dict[str, Shown]:
    try:
        data = json.loads((site / "pages" / "manifest.json").read_text(encoding="utf-8"))
        if data.get("version") != MANIFEST_VERSION:
            return {}
        return {path: Shown(Card(**entry["card"]), entry["pages"], entry.get("digest"))
                for path, entry in data["albums"].items()}
    except (OSError, ValueError, KeyError, TypeError):
        return {}  # none yet, or unreadable: every page is made again


def _save_cards(site: Path, cards: Mapping[str, Shown]) -> None:
    data = {"version": MANIFEST_VERSION,
            "albums": {path: {"card": s.card.__dict__, "pages": s.pages, "digest": s.digest}
                       for path, s in sorted(cards.items())}}
    web.write_if_changed(site / "pages" / "manifest.json", json.dumps(data, ensure_ascii=False, separators=(",", ":")))


def _remove_pages(folder: Path, names: Collection[str]) -> int:
    removed = 0
    for name in names:
        try:
            (folder / name).unlink()
            removed += 1
        except FileNotFoundError:
            pass
    return removed


def _folders(tree: AlbumTree) -> None:
    """Make the site's folders, none through a symlink (raises Unsafe for one that is)."""
    for rel in (*FOLDERS, *(f"{web.SITE_DIR}/{p.relative_to(web.ASSETS)}" for p in web.ASSETS.rglob("*")
                            if p.is_dir())):
        fd = tree.folder(rel, create=True)
        if fd is not None:
            os.close(fd)


def copy_assets(site: Path) -> None:
    """The shipped assets into `site` (the output's map/), each file replaced when it differs."""
    for path in web.ASSETS.rglob("*"):
        if path.is_file():
            target = site / path.relative_to(web.ASSETS)
            target.parent.mkdir(parents=True, exist_ok=True)  # made safely by `_folders` in a publish
            web.write_if_changed(target, path.read_bytes())


def build(tree: AlbumTree, catalog: Catalog, config: Config, albums: Mapping[str, Planned],
          digests: Mapping[str, str], photos: Mapping[int, Photo], changed: Collection[str] | None = None,
          with_map: bool = True) -> SiteReport:
    """Write the gallery (and, `with_map`, the map) into the output. `digests`: each album's
    `digest()`. `changed`: the albums whose links changed since the last publish, or that are gone
    (a quick update, whose `albums` are only those it touched: those, and any whose pages were
    rendered from other links, as when a full disk stopped the last build, are rendered); None:
    all may have (every album is in `albums`; pages are rendered and written where their text
    differs)."""
    report = SiteReport()
    try:
        _folders(tree)
    except Unsafe as exc:
        log.warning("%s: a symlink or a file where organizer keeps its pages; the gallery and the map are "
                    "not written", tree.root / str(exc))
        report.unsafe.append(str(exc))
        return report
    site = tree.root / web.SITE_DIR
    folder = site / "pages"
    copy_assets(site)
    cards = _load_cards(site)
    full = changed is None or with_map
    todo = [p for p in sorted(albums) if full or p in changed or p not in cards  # type: ignore[operator]
            or cards[p].digest != digests[p]]
    lib = _Library(catalog, config, photos)
    shown: dict[str, Album] = {}
    for path in todo:
        album = shown[path] = collect(path, albums[path], lib)
        pid = web.page_id(path)
        names = pages.page_names(pid, pages.page_count(album.count))
        report.pages_written += sum(web.write_if_changed(folder / n, t)
                                    for n, t in zip(names, pages.album_pages(album, pid)))
        old = cards.get(path)
        if old is not None and old.pages > len(names):
            report.pages_removed += _remove_pages(folder, pages.page_names(pid, old.pages)[len(names):])
        cards[path] = Shown(Card.of(album, names[0]), len(names), digests[path])
    report.albums_rendered = len(todo)
    # a quick update plans only the albums it touched: of the others, those the catalog no longer
    # records (gone in this update, or in one whose build a full disk stopped) are gone
    gone = set(cards) - set(albums) if changed is None else set(cards) - set(albums) - set(
        catalog.albums.digests(str(tree.root)))
    for path in gone:
        report.pages_removed += _remove_pages(folder, pages.page_names(web.page_id(path), cards.pop(path).pages))
    shown_ids = lib.owner.values() if full else {lib.owner[i.path] for a in shown.values() for i in a.items
                                                 if i.path in lib.owner}
    wanted = {t: photos[pid].thumb for pid in shown_ids if (t := lib.thumb(pid))}
    wanted.update(lib.crops)  # a full publish renders every People album: every crop shown is here
    report.thumbs_copied = thumbs.sync(site / thumbs.FOLDER, wanted, prune=full)  # type: ignore[arg-type]
    web.write_if_changed(tree.root / "index.html", pages.index_page([s.card for s in cards.values()]))
    report.gallery = str(tree.root / "index.html")
    _save_cards(site, cards)
    if with_map:
        points, map_albums, areas = _map_data(albums, shown, lib, {p: s.card.page for p, s in cards.items()})
        report.map = str(mapview.write(tree.root, points, map_albums, areas))
        report.map_photos = len(points)
    return report


def _map_data(albums: Mapping[str, Planned], shown: Mapping[str, Album], lib: _Library,
              page_of: Mapping[str, str]) -> tuple[list[mapview.MapPhoto], list[mapview.MapAlbum],
                                                   list[mapview.MapArea]]:
    """Every geotagged photo with the link it opens (through its first album, events first), the
    albums it is listed in (not the timeline's; its People albums among them) and its event; each
    place as a circle."""
    order = sorted(shown, key=lambda p: (gallery.kind_order(shown[p].kind), p))
    index = {p: i for i, p in enumerate(order)}
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
            if album.kind != "timeline":
                member.setdefault(pid, []).append(index[path])
            if album.kind == "event":
                event.setdefault(pid, index[path])
    points = []
    for pid, p in lib.photos.items():
        if p.lat is None or p.lon is None or p.thumb is None or pid not in link:  # no pixels: not on the map
            continue
        href, name = link[pid]
        points.append(mapview.MapPhoto(p.lat, p.lon, lib.thumb(pid),
                                       p.taken.strftime("%Y-%m-%d %H:%M") if p.taken else None, name, href,
                                       tuple(sorted(set(member.get(pid, ())))), event.get(pid),
                                       (p.duration or 0.0) if p.kind == "video" else None))
    map_albums = [mapview.MapAlbum(p, shown[p].name, f"{web.SITE_DIR}/pages/{page_of[p]}", shown[p].kind == "person")
                  for p in order]
    areas = [mapview.MapArea(a.area[0], a.area[1], a.area[2], index[p]) for p, a in albums.items()
             if a.area is not None and p in index]
    return points, map_albums, areas
