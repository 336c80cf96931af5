"""Publishing: the catalog's groups as folders of symlinks, the gallery and the map."""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from organizer.catalog import AlbumRecord, Catalog
from organizer.config import Config
from organizer.errors import OutputError
from organizer.geocode import Geocoder
from organizer.publish import site
from organizer.publish.albums import MARKER, AlbumTree, TreeReport
from organizer.publish.plan import Album, Context, plan, touched_by, whole

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
    gallery: str | None = None
    pages_written: int = 0
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
            verify: bool = True, touched: set[int] | None = None) -> PublishReport:
    """Mirror the catalog's groups into the output folder, and write the map (unless not
    `with_map`). With `verify`, every album folder is read and mended; without, only the albums
    whose links differ from what the catalog recorded as published are written, and with
    `touched` (photo ids a batch added, changed or lost) only the albums those photos are or were
    in are planned at all: the daemon's quick updates between reclusters, which leave the map,
    new names and the full check to the recluster."""
    started = time.monotonic()
    root = _root(catalog, output or config.output.path)
    out = str(root)
    ctx = Context(Geocoder(config.geocode, catalog), config.publish.companions, config.publish.favorites_rating)
    with AlbumTree(root) as tree:
        report = PublishReport(output=out)
        quick = touched is not None and not verify
        src = touched_by(catalog, out, touched, ctx) if quick and touched is not None else whole(catalog)
        d = _delta(catalog, out, plan(src, ctx), touched if quick else None, verify, tree.managed)
        albums, write, gone = d.albums, d.write, d.gone
        ours = catalog.albums.links(out, None if verify else write | gone | set(d.renames.values()))
        inside = _under(catalog.files.roots())
        result = tree.apply({path: albums[path].links() for path in write}, keep=set(albums) - write, ours=ours,
                            fallback=lambda rel, name, text: inside(str(root / rel), text), renames=d.renames,
                            remove=gone if quick else None)
        _report(report, result, albums)
        # what to record again: changed digests, folders written, and albums with no link record
        # yet (a catalog from before links were recorded; ours is loaded for every album in a full
        # publish), and albums recorded under another identity (a tag keyword before tags ignored
        # case); failed and unsafe albums keep their old record, so they are tried again
        stale = ({p for p in albums if d.recorded.get(p) != d.digests[p]} | result.changed | d.rekeyed
                 | {p for p in (albums if verify else write) if p not in ours}) - set(result.failed) - set(result.unsafe)
        _record(catalog, out, albums, d.digests, result.links, ours, stale, gone)
        with catalog.transaction():
            catalog.albums.set_device(out, os.stat(root).st_dev)
        try:
            pages = site.build(tree, catalog, config, albums, d.digests, src.photos, None if verify else write | gone,
                               with_map)
        except OSError as exc:  # a full or read-only disk: the album folders above are written and recorded
            raise OutputError(f"{exc.filename or root}: the gallery and the map could not be written "
                              f"({exc.strerror or exc}); the album folders are up to date") from None
        report.gallery, report.pages_written = pages.gallery, pages.pages_written
        report.map, report.map_photos, report.unsafe = pages.map, pages.map_photos, report.unsafe + pages.unsafe
    report.seconds = round(time.monotonic() - started, 3)
    catalog.finish_run(catalog.start_run("publish"), report.as_dict())
    if result.failed:  # every other album is written; these are tried again next time
        first, why = next(iter(sorted(result.failed.items())))
        raise OutputError(f"{root}: {len(result.failed)} albums could not be written ({first}: {why}); the others "
                          f"are up to date")
    return report


@dataclass
class _Delta:
    """What a publish changes: the planned albums by path, the recorded ones that are gone, the
    renamed ones (new path -> old), every album's digest, the folders to write, and the digests
    the catalog recorded before, and the albums recorded under another group key."""

    albums: dict[str, Album]
    gone: set[str]
    renames: dict[str, str]
    digests: dict[str, str]
    write: set[str]
    recorded: dict[str, str | None]
    rekeyed: set[str]


def _delta(catalog: Catalog, out: str, albums: dict[str, Album], touched: set[int] | None, verify: bool,
           managed: set[str]) -> _Delta:
    """Compare the plan with what was published. With `touched` (a quick update), albums keep
    the names they were last published under (new names wait for the full publish) and only the
    albums the touched photos were in can be gone."""
    recorded = catalog.albums.digests(out)
    previous = catalog.albums.paths_by_group(out)
    if touched is not None:
        albums = {previous.get((a.kind, a.key), path) if a.key is not None else path: a
                  for path, a in albums.items()}
        scope = {path for path, _, _ in catalog.albums.holding(out, touched)} | set(albums)
        gone = {path for path in scope if path in recorded} - set(albums)
        renames: dict[str, str] = {}
    else:
        gone = set(recorded) - set(albums)
        renames = {path: previous[(a.kind, a.key)] for path, a in albums.items()
                   if a.key is not None and previous.get((a.kind, a.key), path) != path}
    digests = {path: a.digest() for path, a in albums.items()}
    changed = set(albums) if verify else {path for path in albums if recorded.get(path) != digests[path]}
    write = changed | set(renames) | (set(albums) - managed)  # and any the tree lost (its marker gone)
    rekeyed = {path for path, a in albums.items()
               if path in recorded and a.key is not None and previous.get((a.kind, a.key)) != path}
    return _Delta(albums, gone, renames, digests, write, recorded, rekeyed)


def _root(catalog: Catalog, target: str) -> Path:
    """The output folder, resolved once; OutputOffline when it is on a disk that is not there."""
    if not target:
        raise OutputError("no output folder: give --output or set output.path")
    root = Path(os.path.realpath(os.path.expanduser(target)))
    why = offline(root, catalog.albums.device(str(root)))
    if why:
        raise OutputOffline(f"{root}: the album folder is {why}; nothing is written into it until it is back")
    return root


def _report(report: PublishReport, result: TreeReport, albums: dict[str, Album]) -> None:
    for album in albums.values():
        report.albums[album.kind] = report.albums.get(album.kind, 0) + 1
    report.written, report.unchanged, report.removed = result.written, result.unchanged, result.removed
    report.renamed, report.kept_foreign, report.unsafe = result.renamed, result.kept_foreign, result.unsafe
    report.failed = result.failed


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
