"""Publishing: the catalog's groups as folders of symlinks, and the map."""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from organizer.catalog import AlbumRecord, Catalog, shown
from organizer.config import Config
from organizer.errors import OutputError
from organizer.geocode import Geocoder
from organizer.publish import mapview, thumbs
from organizer.publish.albums import MARKER, AlbumTree, Unsafe
from organizer.publish.plan import KINDS, Album, Context, Photo, load_photos, plan

__all__ = ["AlbumTree", "OutputOffline", "PublishReport", "publish"]

log = logging.getLogger(__name__)


class OutputOffline(OutputError):
    """The output folder is on a disk that is not there (absent, or only its mount point)."""


@dataclass
class PublishReport:
    output: str = ""
    albums: dict[str, int] = field(default_factory=dict)
    written: int = 0
    unchanged: int = 0
    removed: int = 0
    renamed: int = 0
    kept_foreign: list[str] = field(default_factory=list)
    unsafe: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)
    map: str | None = None
    map_photos: int = 0
    seconds: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def offline(root: Path, recorded_dev: int | None) -> str | None:
    """Why an output folder published before must be left alone now, or None: absent while its
    nearest folder is on another device than the output was (an unplugged disk), or present
    without its marker on another device (the mount point of a disk that is not mounted)."""
    if recorded_dev is None:
        return None
    if not root.exists():
        parent = root.parent
        while not parent.exists():
            parent = parent.parent
        return "absent (on a disk that is not mounted?)" if os.stat(parent).st_dev != recorded_dev else None
    if not (root / MARKER).is_file() and os.stat(root).st_dev != recorded_dev:
        return "on another device and not organizer's (the mount point of a disk that is not mounted?)"
    return None


def _under(roots: list[str]) -> Callable[[str, str], bool]:
    prefixes = tuple(r.rstrip(os.sep) + os.sep for r in roots)
    return lambda folder, text: os.path.normpath(os.path.join(folder, text)).startswith(prefixes)


def publish(catalog: Catalog, config: Config, output: str | None = None, with_map: bool = True,
            verify: bool = True) -> PublishReport:
    """Mirror the catalog's groups into the output folder, and write the map (unless not
    `with_map`). With `verify`, every album folder is read and mended; without, only the albums
    whose links differ from what the catalog recorded as published are written (the daemon's quick
    updates between reclusters, which leave the map and the full check to the recluster)."""
    started = time.monotonic()
    target = output or config.output.path
    if not target:
        raise OutputError("no output folder: give --output or set output.path")
    root = Path(os.path.realpath(os.path.expanduser(target)))
    out = str(root)
    why = offline(root, catalog.albums.device(out))
    if why:
        raise OutputOffline(f"{root}: the album folder is {why}; nothing is written into it until it is back")
    with AlbumTree(root) as tree:
        report = PublishReport(output=out)
        photos = load_photos(catalog)
        albums = plan(catalog, photos, Context(Geocoder(config.geocode, catalog), config.publish.companions,
                                               config.publish.favorites_rating))
        for album in albums.values():
            report.albums[album.kind] = report.albums.get(album.kind, 0) + 1
        digests = {path: a.digest() for path, a in albums.items()}
        recorded = catalog.albums.digests(out)
        changed = set(albums) if verify else {path for path in albums if recorded.get(path) != digests[path]}
        previous = catalog.albums.paths_by_group(out)
        renames = {path: previous[(a.kind, a.key)] for path, a in albums.items()
                   if a.key is not None and previous.get((a.kind, a.key), path) != path}
        write = changed | set(renames) | (set(albums) - tree.managed)  # and any the tree lost (its marker gone)
        gone = set(recorded) - set(albums)
        ours = catalog.albums.links(out, None if verify else write | gone | set(renames.values()))
        inside = _under(catalog.files.roots())
        result = tree.apply({path: albums[path].links() for path in write}, keep=set(albums) - write, ours=ours,
                            fallback=lambda rel, name, text: inside(str(root / rel), text), renames=renames)
        report.written, report.unchanged, report.removed = result.written, result.unchanged, result.removed
        report.renamed, report.kept_foreign, report.unsafe = result.renamed, result.kept_foreign, result.unsafe
        stale = ({p for p in albums if recorded.get(p) != digests[p] or p not in ours} | result.changed) - set(
            result.failed) - set(result.unsafe)  # those keep their old record, so they are tried again
        _record(catalog, out, albums, digests, result.links, ours, stale, gone)
        if with_map:
            report.map, report.map_photos = _write_map(tree, albums, photos, report)
        with catalog.transaction():
            catalog.albums.set_device(out, os.stat(root).st_dev)
    report.seconds = round(time.monotonic() - started, 3)
    report.failed = result.failed
    run_id = catalog.start_run("publish")
    catalog.finish_run(run_id, report.as_dict())
    if result.failed:  # every other album is written; these are tried again next time
        first, why = next(iter(sorted(result.failed.items())))
        raise OutputError(f"{root}: {len(result.failed)} albums could not be written ({first}: {why}); the others "
                          f"are up to date")
    return report


def _record(catalog: Catalog, out: str, albums: dict[str, Album], digests: dict[str, str],
            seen: dict[str, dict[str, str]], ours: dict[str, dict[str, str]], changed: set[str],
            gone: set[str]) -> None:
    """Record what each `changed` album holds (its links as the tree saw or wrote them), and drop
    the records of `gone` ones; an album that could not be written keeps its old record."""
    records = {}
    for path in changed:
        links = seen.get(path, ours.get(path))
        if links is None:
            continue
        a = albums[path]
        records[path] = AlbumRecord(a.kind, a.key, tuple(a.photos), digests[path], links)
    with catalog.transaction():
        catalog.albums.record(out, records, removed=gone)


def _write_map(tree: AlbumTree, albums: dict[str, Album], photos: dict[int, Photo],
               report: PublishReport) -> tuple[str | None, int]:
    try:
        for folder in (mapview.MAP_DIR, f"{mapview.MAP_DIR}/thumbs"):
            fd = tree.folder(folder, create=True)
            if fd is not None:
                os.close(fd)
    except Unsafe as exc:
        log.warning("%s: a symlink or a file where the map's folder should be; the map is not written",
                    tree.root / str(exc))
        report.unsafe.append(str(exc))
        return None, 0
    points, thumb_files, lines, areas = _map_items(albums, photos)
    thumbs.sync(tree.root / mapview.MAP_DIR / "thumbs", thumb_files)
    mapview.copy_assets(tree.root / mapview.MAP_DIR)
    tree.write_file("map.html", mapview.render(points, lines, areas))
    return str(tree.root / "map.html"), len(points)


def _map_items(albums: dict[str, Album], photos: dict[int, Photo]) -> tuple[
        list[mapview.MapPhoto], dict[str, str], list[mapview.MapLine], list[mapview.MapArea]]:
    in_albums: dict[int, list[str]] = {}
    for path, album in albums.items():
        if album.kind != "timeline":
            for pid in album.photos:
                in_albums.setdefault(pid, []).append(path)
    points, thumb_files = [], {}
    for pid, p in photos.items():
        if p.lat is None or p.lon is None or p.thumb is None:  # no pixels (they failed to decode): not on the map
            continue
        thumb = None
        if p.thumb and os.path.exists(p.thumb):
            thumb = p.digest
            thumb_files[thumb + ".jpg"] = p.thumb
        points.append(mapview.MapPhoto(p.lat, p.lon, thumb, p.taken.isoformat(sep=" ") if p.taken else None,
                                       shown(os.path.basename(p.path)), sorted(in_albums.get(pid, []))))
    lines, areas = [], []
    layers = {k.kind: k.map_layer for k in KINDS}
    for path, album in sorted(albums.items()):
        title = path.split("/", 1)[-1]
        if layers.get(album.kind) == "line":
            located = sorted((photos[m] for m in album.photos if m in photos and photos[m].lat is not None),
                             key=lambda p: p.taken or datetime.min)
            lines.append(mapview.MapLine(title, [(p.lat, p.lon) for p in located]))  # type: ignore[misc]
        elif layers.get(album.kind) == "area" and album.area is not None:
            areas.append(mapview.MapArea(title, *album.area))
    return points, thumb_files, lines, areas
