"""What to publish: the album kinds, each with its naming rule, planned from the catalog's groups.

Adding a kind of album is one function here and one entry in `KINDS`.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from organizer.catalog import Catalog, FileRow
from organizer.cluster.events import TAKEN_SOURCES

# The Timeline also files exports by when they were written (IFD0 DateTime); only an mtime (when a
# file was copied) leaves a photo Undated.
TIMELINE_SOURCES = TAKEN_SOURCES | {"exif-modified"}
from organizer.cluster.originals import Copy, keeper_order, original_key
from organizer.geocode import Geocoder, PlaceName
from organizer.publish import naming


@dataclass
class Photo:
    digest: str
    taken: datetime | None  # None: no date fit for the timeline (none, or only an mtime)
    lat: float | None
    lon: float | None
    thumb: str | None
    width: int
    height: int
    format: str | None
    files: list[FileRow] = field(default_factory=list)  # the original first (see `originals`)
    kind: str = "photo"  # photo | video | raw
    rating: int | None = None
    companions: list[str] = field(default_factory=list)  # the originals of its companions' files

    @property
    def path(self) -> str:
        """The file albums link: the original, not a copy."""
        return self.files[0].path


@dataclass(frozen=True)
class Context:
    """What planners need besides the catalog and the photos."""

    geocoder: Geocoder
    companions: bool = True  # link an item's companions beside it
    favorites_rating: int = 4


@dataclass
class Album:
    kind: str
    key: str | None
    photos: list[int]
    targets: list[str]  # the files it links to
    titles: dict[str, str] = field(default_factory=dict)  # target -> its link's name (default: the file name)
    area: tuple[float, float, float] | None = None  # a place's centre and radius in metres, for the map

    def links(self) -> dict[str, str]:
        """Link name -> target."""
        return {name: path for path, name in naming.link_names(self.targets, self.titles).items()}

    def digest(self) -> str:
        """Identifies the links (names are a function of the targets and titles) and the photos
        recorded for the album, without naming the links."""
        text = ("\0".join(sorted(self.targets)) + "\n" + ",".join(map(str, sorted(self.photos))) + "\n"
                + "\0".join(f"{k}={v}" for k, v in sorted(self.titles.items())))
        return hashlib.blake2b(text.encode("utf-8", "surrogateescape"), digest_size=16).hexdigest()


def load_photos(catalog: Catalog) -> dict[int, Photo]:
    """Every item with a present file (companions are not items: they come with their primary)."""
    files = catalog.files.present()
    photos: dict[int, Photo] = {}
    companion_paths: dict[int, str] = {}
    for row in catalog.photos.facts():
        if row.id not in files:
            continue
        paths = sorted(files[row.id], key=lambda f: original_key(f.path, f.mtime_ns))
        if row.primary_id is not None:
            companion_paths[row.id] = paths[0].path
            continue
        when = (datetime.fromisoformat(row.taken_local) if row.taken_local and row.taken_source in TIMELINE_SOURCES
                else None)
        photos[row.id] = Photo(row.digest, when, row.lat, row.lon, row.thumb, row.width or 0, row.height or 0,
                               row.format, paths, row.kind, row.rating)
    for primary, pairs in catalog.photos.companions().items():
        if primary in photos:
            photos[primary].companions = [companion_paths[c] for c, _ in pairs if c in companion_paths]
    return photos


def _linked(ids: list[int], photos: dict[int, Photo], ctx: Context) -> list[str]:
    """The links of an album: each photo's original, and its companions beside it."""
    out = []
    for i in ids:
        if i in photos:
            out.append(photos[i].path)
            if ctx.companions:
                out += photos[i].companions
    return out


def _city(name: PlaceName) -> str | None:
    return name.city or name.region


Planner = Callable[[Catalog, dict[int, Photo], Context], dict[str, Album]]


def events(catalog: Catalog, photos: dict[int, Photo], ctx: Context) -> dict[str, Album]:
    rows = [g for g in catalog.groups.rows("event") if g.start and g.end]
    titles = []
    for g in rows:
        place = _city(ctx.geocoder.name(g.lat, g.lon)) if g.lat is not None and g.lon is not None else None
        titles.append((g.key, naming.event_title(datetime.fromisoformat(g.start), datetime.fromisoformat(g.end),
                                                 place)))
    names = naming.numbered(titles)
    return {f"Events/{names[g.key]}": Album("event", g.key, g.sorted_members(),
                                             _linked(g.sorted_members(), photos, ctx)) for g in rows}


def places(catalog: Catalog, photos: dict[int, Photo], ctx: Context) -> dict[str, Album]:
    by_country: dict[str, list[tuple[str, str]]] = {}
    groups = {}
    for g in catalog.groups.rows("place"):
        if g.lat is None or g.lon is None:
            continue
        name = ctx.geocoder.name(g.lat, g.lon)
        country = naming.safe(name.country or "Unknown country")
        by_country.setdefault(country, []).append((g.key, _city(name) or f"{g.lat:.3f}, {g.lon:.3f}"))
        groups[g.key] = g
    return {f"Places/{country}/{folder}": Album("place", key, groups[key].sorted_members(),
                                                _linked(groups[key].sorted_members(), photos, ctx),
                                                area=(groups[key].lat, groups[key].lon, groups[key].radius_m or 0.0))
            for country, titled in by_country.items() for key, folder in naming.numbered(titled).items()}


def similar(catalog: Catalog, photos: dict[int, Photo], ctx: Context) -> dict[str, Album]:
    titles, present = [], {}
    for g in catalog.groups.rows("similar"):
        here = [m for m in g.sorted_members() if m in photos]
        if len(here) < 2:
            continue
        first = min((photos[m].path for m in here), key=os.path.basename)
        titles.append((g.key, os.path.splitext(os.path.basename(first))[0]))
        present[g.key] = here
    return {f"Similar/{folder}": Album("similar", key, present[key], _linked(present[key], photos, ctx))
            for key, folder in naming.numbered(titles).items()}


def duplicate_copies(members: list[int], photos: dict[int, Photo]) -> list[Copy]:
    """Every file of a duplicate group, the one to keep first."""
    return keeper_order([Copy(f.path, m, photos[m].format, photos[m].width, photos[m].height, f.size, f.mtime_ns)
                         for m in members if m in photos for f in photos[m].files])


def duplicates(catalog: Catalog, photos: dict[int, Photo], ctx: Context) -> dict[str, Album]:
    """Every copy is linked, named by its rank and the folder it lives in ('1 keep - DSCN0010
    (Pictures 2008).jpg', '2 - DSCN0010 (Camera dump - copy).jpg'), so a user sees where each copy
    is and which to keep without opening them."""
    titles, groups = [], {}
    for g in catalog.groups.rows("duplicate"):
        copies = duplicate_copies(g.sorted_members(), photos)
        if len(copies) < 2:
            continue
        titles.append((g.key, os.path.splitext(os.path.basename(copies[0].path))[0]))
        groups[g.key] = (g.sorted_members(), copies)
    albums = {}
    for key, folder in naming.numbered(titles).items():
        members, copies = groups[key]
        albums[f"Duplicates/{folder}"] = Album("duplicate", key, members, [c.path for c in copies],
                                               {c.path: copy_title(i + 1, c.path) for i, c in enumerate(copies)})
    return albums


def copy_title(rank: int, path: str) -> str:
    """'1 keep - DSCN0010 (Pictures 2008).jpg', '2 - DSCN0010 (Camera dump - copy).jpg'."""
    stem, ext = os.path.splitext(os.path.basename(path))
    folder = os.path.basename(os.path.dirname(path)) or "/"
    return f"{rank}{' keep' if rank == 1 else ''} - {stem} ({folder}){ext}"


def timeline(catalog: Catalog, photos: dict[int, Photo], ctx: Context) -> dict[str, Album]:
    months: dict[str, list[int]] = {}
    for pid, photo in photos.items():
        months.setdefault(f"Timeline/{photo.taken:%Y/%m}" if photo.taken else "Timeline/Undated", []).append(pid)
    return {folder: Album("timeline", None, sorted(ids), _linked(sorted(ids), photos, ctx))
            for folder, ids in months.items()}


def tags(catalog: Catalog, photos: dict[int, Photo], ctx: Context) -> dict[str, Album]:
    """Tags/<keyword>/ for every keyword (XMP dc:subject, Lightroom's hierarchy's leaves, digiKam's
    TagsList, IPTC Keywords); the keyword is the album's identity."""
    by_keyword: dict[str, list[int]] = {}
    for pid, words in catalog.photos.keywords().items():
        if pid in photos:
            for word in words:
                by_keyword.setdefault(word, []).append(pid)
    names = naming.numbered((word, word) for word in by_keyword)
    return {f"Tags/{names[word]}": Album("tag", word, sorted(ids), _linked(sorted(ids), photos, ctx))
            for word, ids in by_keyword.items()}


def favorites(catalog: Catalog, photos: dict[int, Photo], ctx: Context) -> dict[str, Album]:
    """Favorites/: the photos rated at least `publish.favorites_rating`."""
    ids = sorted(pid for pid, p in photos.items() if p.rating is not None and p.rating >= ctx.favorites_rating)
    return {"Favorites": Album("favorite", "favorites", ids, _linked(ids, photos, ctx))} if ids else {}


@dataclass(frozen=True)
class AlbumKind:
    """A kind of album: the group kind it publishes (None: made from the photos themselves), its
    top folder, its planner and whether the map draws its groups."""

    kind: str
    folder: str
    plan: Planner
    map_layer: str | None = None


KINDS: tuple[AlbumKind, ...] = (
    AlbumKind("event", "Events", events, map_layer="line"),
    AlbumKind("place", "Places", places, map_layer="area"),
    AlbumKind("duplicate", "Duplicates", duplicates),
    AlbumKind("similar", "Similar", similar),
    AlbumKind("timeline", "Timeline", timeline),
    AlbumKind("tag", "Tags", tags),
    AlbumKind("favorite", "Favorites", favorites),
)
def plan(catalog: Catalog, photos: dict[int, Photo], ctx: Context) -> dict[str, Album]:
    """Every album to publish: relative folder path -> what it holds."""
    albums: dict[str, Album] = {}
    for kind in KINDS:
        albums.update(kind.plan(catalog, photos, ctx))
    return albums
