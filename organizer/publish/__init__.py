"""Publishing: the catalog's groups as folders of symlinks, and the map."""

from __future__ import annotations

import hashlib
import logging
import os
import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from organizer.catalog import Catalog
from organizer.cluster.events import TAKEN_SOURCES
from organizer.config import Config
from organizer.errors import OutputError
from organizer.geocode import Geocoder, PlaceName
from organizer.publish import naming, site
from organizer.publish.albums import AlbumTree

__all__ = ["AlbumTree", "PublishReport", "plan", "publish"]

log = logging.getLogger(__name__)


@dataclass
class PublishReport:
    output: str = ""
    albums: dict[str, int] = field(default_factory=dict)
    written: int = 0
    unchanged: int = 0
    removed: int = 0
    kept_foreign: list[str] = field(default_factory=list)
    gallery: str | None = None
    pages_written: int = 0
    map: str | None = None
    map_photos: int = 0
    seconds: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass
class _Photo:
    digest: str
    taken: datetime | None  # None: no date fit for the timeline (none, or only an mtime)
    lat: float | None
    lon: float | None
    thumb: str | None
    paths: list[str] = field(default_factory=list)


@dataclass
class _Album:
    kind: str
    key: str | None
    photos: list[int]
    targets: list[str]  # the files it links to

    def links(self) -> dict[str, str]:
        """Link name -> target."""
        return {name: path for path, name in naming.link_names(self.targets).items()}

    def digest(self) -> str:
        """Identifies the links (names are a function of the targets) and the photos recorded for
        the album, without naming the links."""
        text = "\0".join(sorted(self.targets)) + "\n" + ",".join(map(str, sorted(self.photos)))
        return hashlib.blake2b(text.encode(), digest_size=16).hexdigest()


def _load_photos(catalog: Catalog) -> dict[int, _Photo]:
    photos: dict[int, _Photo] = {}
    for pid, digest, taken, source, lat, lon, thumb, path in catalog.publish_rows():
        photo = photos.get(pid)
        if photo is None:
            when = datetime.fromisoformat(taken) if taken and source in TAKEN_SOURCES else None
            photo = photos[pid] = _Photo(digest, when, lat, lon, thumb)
        photo.paths.append(path)
    return photos


def _first_paths(ids: list[int], photos: dict[int, _Photo]) -> list[str]:
    """One link per photo: to its first path."""
    return [photos[i].paths[0] for i in ids if i in photos]


def _city(name: PlaceName) -> str | None:
    return name.city or name.region


def plan(catalog: Catalog, photos: dict[int, _Photo], geocoder: Geocoder) -> dict[str, _Album]:
    """Every album to publish: relative folder path -> what it holds."""
    albums: dict[str, _Album] = {}

    events = catalog.group_rows("event")
    titles = []
    for key, start, end, lat, lon, _, members in events:
        place = _city(geocoder.name(lat, lon)) if lat is not None else None
        titles.append((key, naming.event_title(datetime.fromisoformat(start), datetime.fromisoformat(end), place),
                       len(members)))
    names = naming.numbered(titles)
    for key, _, _, _, _, _, members in events:
        albums[f"Events/{names[key]}"] = _Album("event", key, members, _first_paths(members, photos))

    by_country: dict[str, list[tuple[str, str, int]]] = {}
    place_rows = {}
    for key, _, _, lat, lon, _, members in catalog.group_rows("place"):
        name = geocoder.name(lat, lon)
        country = naming.safe(name.country or "Unknown country")
        by_country.setdefault(country, []).append((key, _city(name) or f"{lat:.3f}, {lon:.3f}", len(members)))
        place_rows[key] = (country, members)
    for country, titled in by_country.items():
        for key, folder in naming.numbered(titled).items():
            members = place_rows[key][1]
            albums[f"Places/{country}/{folder}"] = _Album("place", key, members, _first_paths(members, photos))

    sim_titles, sim_members = [], {}
    for key, _, _, _, _, _, members in catalog.group_rows("similar"):
        present = [m for m in members if m in photos]
        if len(present) < 2:
            continue
        first = min((photos[m].paths[0] for m in present), key=os.path.basename)
        sim_titles.append((key, os.path.splitext(os.path.basename(first))[0], len(present)))
        sim_members[key] = present
    for key, folder in naming.numbered(sim_titles).items():
        members = sim_members[key]
        albums[f"Similar/{folder}"] = _Album("similar", key, members, _first_paths(members, photos))

    dup_titles, dup_links = [], {}
    for key, _, _, _, _, _, members in catalog.group_rows("duplicate"):
        paths = [p for m in members if m in photos for p in photos[m].paths]
        if len(paths) < 2:
            continue
        first = min(paths, key=lambda p: os.path.basename(p))
        dup_titles.append((key, os.path.splitext(os.path.basename(first))[0], len(paths)))
        dup_links[key] = (members, paths)
    for key, folder in naming.numbered(dup_titles).items():
        members, paths = dup_links[key]
        albums[f"Duplicates/{folder}"] = _Album("duplicate", key, members, paths)

    timeline: dict[str, list[int]] = {}
    for pid, photo in photos.items():
        folder = f"Timeline/{photo.taken:%Y/%m}" if photo.taken else "Timeline/Undated"
        timeline.setdefault(folder, []).append(pid)
    for folder, members in timeline.items():
        albums[folder] = _Album("timeline", None, members, _first_paths(sorted(members), photos))
    return albums


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
    with AlbumTree(target) as tree:
        report = PublishReport(output=str(tree.root))
        geocoder = Geocoder(config.geocode, catalog)
        photos = _load_photos(catalog)
        albums = plan(catalog, photos, geocoder)
        for album in albums.values():
            report.albums[album.kind] = report.albums.get(album.kind, 0) + 1
        digests = {path: a.digest() for path, a in albums.items()}
        recorded = {} if verify else catalog.album_digests(str(tree.root))
        changed = {path for path in albums if recorded.get(path) != digests[path]}
        write = changed | (set(albums) - tree.managed)  # and any the tree lost (its marker gone)
        result = tree.apply({path: albums[path].links() for path in write}, keep=set(albums) - write)
        report.written, report.unchanged, report.removed = result.written, result.unchanged, result.removed
        report.kept_foreign = result.kept_foreign
        catalog.set_albums(str(tree.root),
                           {path: (albums[path].kind, albums[path].key, albums[path].photos, digests[path])
                            for path in changed},
                           removed=None if verify else set(recorded) - set(albums))

        pages = site.build(tree.root, catalog, config, albums, photos, None if verify else write, with_map)
        report.gallery, report.pages_written = str(tree.root / "index.html"), pages.pages_written
        report.map, report.map_photos = pages.map, pages.map_photos
    report.seconds = round(time.monotonic() - started, 3)
    run_id = catalog.start_run("publish")
    catalog.finish_run(run_id, report.as_dict())
    return report

