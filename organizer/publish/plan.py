"""What to publish: the album kinds, each with its naming rule, planned from the catalog's groups.

Adding a kind of album is one function here and one entry in `KINDS`. Planners read a `Source`:
the whole library (a full publish), or only what a batch of photos touches (the daemon's quick
updates: the groups, months, tags and favourites those photos are or were in, each whole).
"""

from __future__ import annotations

import hashlib
import os
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from organizer.catalog import Catalog, FileRow, GroupRow
from organizer.cluster.events import TAKEN_SOURCES
from organizer.cluster import keeper
from organizer.cluster.originals import original_key
from organizer.geocode import Geocoder, PlaceName
from organizer.publish import naming

# The Timeline also files exports by when they were written (IFD0 DateTime); only an mtime (when a
# file was copied) leaves a photo Undated.
TIMELINE_SOURCES = TAKEN_SOURCES | {"exif-modified"}
UNDATED = "Undated"


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
    has_camera: bool = False  # EXIF names the camera and the time of capture (the keeper rule reads it)
    companions: list[str] = field(default_factory=list)  # the originals of its companions' files
    duration: float | None = None  # seconds (videos)

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


def load_photos(catalog: Catalog, ids: set[int] | None = None) -> dict[int, Photo]:
    """Every item with a present file (of `ids`, or all; companions are not items: they come with
    their primary)."""
    pairs_of = catalog.photos.companions()
    if ids is not None:
        ids = ids | {c for p in ids for c, _ in pairs_of.get(p, [])}
    files = catalog.files.present(ids)
    photos: dict[int, Photo] = {}
    companion_paths: dict[int, str] = {}
    for row in catalog.photos.facts(ids):
        if row.id not in files:
            continue
        paths = sorted(files[row.id], key=lambda f: original_key(f.path, f.mtime_ns))
        if row.primary_id is not None:
            companion_paths[row.id] = paths[0].path
            continue
        when = (datetime.fromisoformat(row.taken_local) if row.taken_local and row.taken_source in TIMELINE_SOURCES
                else None)
        photos[row.id] = Photo(row.digest, when, row.lat, row.lon, row.thumb, row.width or 0, row.height or 0,
                               row.format, paths, row.kind, row.rating,
                               bool(row.make or row.model) and row.taken_source == "exif", duration=row.duration)
    for primary, pairs in pairs_of.items():
        if primary in photos:
            photos[primary].companions = [companion_paths[c] for c, _ in pairs if c in companion_paths]
    return photos


def month_of(photo: Photo) -> str:
    return f"{photo.taken:%Y/%m}" if photo.taken else UNDATED


@dataclass
class Source:
    """What planners read. `months`, `tags` (by `naming.tag_key`) and `favorites` say which of
    those albums are whole in `photos` (None: all of them, a full publish)."""

    catalog: Catalog
    photos: dict[int, Photo]
    keys: dict[str, set[str]] | None = None  # group kind -> the keys in scope (None: every group)
    months: set[str] | None = None
    tags: set[str] | None = None
    favorites: bool = True

    def groups(self, kind: str) -> list[GroupRow]:
        if self.keys is None:
            return self.catalog.groups.rows(kind)
        return self.catalog.groups.rows(kind, self.keys.get(kind, ())) if self.keys.get(kind) else []

    def keywords(self) -> dict[int, list[str]]:
        words = self.catalog.photos.keywords()
        tags = self.tags
        return words if tags is None else {p: [w for w in ws if naming.tag_key(w) in tags] for p, ws in words.items()
                                           if p in self.photos}


def whole(catalog: Catalog) -> Source:
    return Source(catalog, load_photos(catalog))


def touched_by(catalog: Catalog, output: str, touched: set[int], ctx: Context) -> Source:
    """The albums a batch of photos touches, each whole: the groups they are in, their months,
    their tags and Favorites, and every album recorded as holding one of them (for a photo gone)."""
    keys: dict[str, set[str]] = {}
    months: set[str] = set()
    tags: set[str] = set()
    favorites = False
    for path, kind, key in catalog.albums.holding(output, touched):
        if kind == "timeline":
            months.add(path.split("/", 1)[1])
        elif kind == "tag" and key:
            tags.add(naming.tag_key(key))  # a record from before tags ignored case holds the keyword
        elif kind == "favorite":
            favorites = True
        elif key:
            keys.setdefault(kind, set()).add(key)
    for kind in GROUP_KINDS:
        keys.setdefault(kind, set()).update(g.key for g in catalog.groups.rows_with(kind, touched))
    now = load_photos(catalog, set(touched))
    months.update(month_of(p) for p in now.values())
    for pid in now:
        tags.update(map(naming.tag_key, catalog.photos.keywords(pid).get(pid, [])))
    favorites = favorites or any(p.rating is not None and p.rating >= ctx.favorites_rating for p in now.values())
    ids = set(touched) | {m for kind, ks in keys.items() for g in catalog.groups.rows(kind, ks) for m in g.members}
    for month in months:
        if month == UNDATED:
            ids |= catalog.photos.undated(TIMELINE_SOURCES)
        else:
            year, mon = map(int, month.split("/"))
            end = f"{year + mon // 12:04d}-{mon % 12 + 1:02d}"
            ids |= catalog.photos.taken_between(f"{year:04d}-{mon:02d}", end)
    ids |= catalog.photos.tagged(w for w in catalog.photos.keyword_names() if naming.tag_key(w) in tags)
    if favorites:
        ids |= catalog.photos.rated(ctx.favorites_rating)
    return Source(catalog, load_photos(catalog, ids), keys, months, tags, favorites)


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


Planner = Callable[[Source, Context], dict[str, Album]]


def events(src: Source, ctx: Context) -> dict[str, Album]:
    photos = src.photos
    rows = [g for g in src.groups("event") if g.start and g.end]
    titles = []
    for g in rows:
        place = _city(ctx.geocoder.name(g.lat, g.lon)) if g.lat is not None and g.lon is not None else None
        titles.append((g.key, naming.event_title(datetime.fromisoformat(g.start), datetime.fromisoformat(g.end),
                                                 place)))
    names = naming.numbered(titles)
    return {f"Events/{names[g.key]}": Album("event", g.key, g.sorted_members(),
                                             _linked(g.sorted_members(), photos, ctx)) for g in rows}


def places(src: Source, ctx: Context) -> dict[str, Album]:
    photos = src.photos
    by_country: dict[str, list[tuple[str, str]]] = {}
    groups = {}
    for g in src.groups("place"):
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


def similar(src: Source, ctx: Context) -> dict[str, Album]:
    photos = src.photos
    titles, present = [], {}
    for g in src.groups("similar"):
        here = [m for m in g.sorted_members() if m in photos]
        if len(here) < 2:
            continue
        first = min((photos[m].path for m in here), key=os.path.basename)
        titles.append((g.key, os.path.splitext(os.path.basename(first))[0]))
        present[g.key] = here
    return {f"Similar/{folder}": Album("similar", key, present[key], _linked(present[key], photos, ctx))
            for key, folder in naming.numbered(titles).items()}


def people(src: Source, ctx: Context) -> dict[str, Album]:
    """People/<name>/ for a person a user named (`organizer people name`) or its faces' XMP regions
    name, People/Person, Person 2, ... (in the order of their stable keys) for the others; two
    persons of one name are Marie and Marie 2."""
    names = src.catalog.groups.shown_person_names()
    present = {g.key: [m for m in g.sorted_members() if m in src.photos] for g in src.groups("person")}
    titles = [(key, names.get(key, "Person")) for key, here in present.items() if here]
    return {f"People/{folder}": Album("person", key, present[key], _linked(present[key], src.photos, ctx))
            for key, folder in naming.numbered(titles).items()}


def duplicate_files(members: list[int], photos: dict[int, Photo], notes: dict[int, str]) -> list[keeper.File]:
    """Every file of a duplicate group, the one to keep first."""
    return keeper.order([keeper.File(f.path, m, photos[m].format, photos[m].width, photos[m].height, f.size,
                                     f.mtime_ns, photos[m].has_camera, notes.get(m))
                         for m in members if m in photos for f in photos[m].files])


def duplicates(src: Source, ctx: Context) -> dict[str, Album]:
    """Every copy is linked, named by its rank, how it differs from the keeper and the folder it
    lives in ('1 keep - DSCN0010 (Pictures 2008).jpg', '2 smaller, cropped - DSCN0010 (Camera dump
    - copy).jpg'), so a user sees which to keep and where each copy is without opening them."""
    titles, groups = [], {}
    notes = src.catalog.groups.notes("duplicate")
    for g in src.groups("duplicate"):
        copies = duplicate_files(g.sorted_members(), src.photos, notes.get(g.key, {}))
        if len(copies) < 2:
            continue
        titles.append((g.key, os.path.splitext(os.path.basename(copies[0].path))[0]))
        groups[g.key] = (g.sorted_members(), copies)
    albums = {}
    for key, folder in naming.numbered(titles).items():
        members, copies = groups[key]
        albums[f"Duplicates/{folder}"] = Album("duplicate", key, members, [c.path for c in copies],
                                               {c.path: copy_title(i + 1, c) for i, c in enumerate(copies)})
    return albums


def copy_title(rank: int, copy: keeper.File) -> str:
    """'1 keep - DSCN0010 (Pictures 2008).jpg', '2 smaller - DSCN0010 (Camera dump - copy).jpg'."""
    stem, ext = os.path.splitext(os.path.basename(copy.path))
    folder = os.path.basename(os.path.dirname(copy.path)) or "/"
    how = " keep" if rank == 1 else f" {copy.note}" if copy.note and copy.note != keeper.KEEPER else ""
    return f"{rank}{how} - {stem} ({folder}){ext}"


def timeline(src: Source, ctx: Context) -> dict[str, Album]:
    months: dict[str, list[int]] = {}
    for pid, photo in src.photos.items():
        month = month_of(photo)
        if src.months is None or month in src.months:
            months.setdefault(f"Timeline/{month}", []).append(pid)
    return {folder: Album("timeline", None, sorted(ids), _linked(sorted(ids), src.photos, ctx))
            for folder, ids in months.items()}


def tags(src: Source, ctx: Context) -> dict[str, Album]:
    """Tags/<keyword>/ for every keyword (XMP dc:subject, Lightroom's hierarchy's leaves, digiKam's
    TagsList, IPTC Keywords) with a letter or a digit: one album per keyword ignoring case and
    Unicode form (its identity, `naming.tag_key`), named by its most frequent spelling (of a tie,
    the first in sort order)."""
    members: dict[str, set[int]] = {}
    spellings: dict[str, Counter[str]] = {}
    for pid, words in src.keywords().items():
        if pid in src.photos:
            for word in filter(naming.has_name, words):
                key = naming.tag_key(word)
                members.setdefault(key, set()).add(pid)
                spellings.setdefault(key, Counter())[word] += 1
    names = naming.numbered((key, min(count, key=lambda w: (-count[w], w))) for key, count in spellings.items())
    return {f"Tags/{names[key]}": Album("tag", key, sorted(ids), _linked(sorted(ids), src.photos, ctx))
            for key, ids in members.items()}


def favorites(src: Source, ctx: Context) -> dict[str, Album]:
    """Favorites/: the photos rated at least `publish.favorites_rating`."""
    if not src.favorites:
        return {}
    ids = sorted(pid for pid, p in src.photos.items() if p.rating is not None and p.rating >= ctx.favorites_rating)
    return {"Favorites": Album("favorite", "favorites", ids, _linked(ids, src.photos, ctx))} if ids else {}


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
    AlbumKind("person", "People", people),
    AlbumKind("timeline", "Timeline", timeline),
    AlbumKind("tag", "Tags", tags),
    AlbumKind("favorite", "Favorites", favorites),
)
GROUP_KINDS = ("event", "place", "duplicate", "similar", "person")  # the kinds whose albums are the clusterers' groups


def plan(src: Source, ctx: Context) -> dict[str, Album]:
    """Every album to publish (of `src`'s scope): relative folder path -> what it holds."""
    albums: dict[str, Album] = {}
    for kind in KINDS:
        albums.update(kind.plan(src, ctx))
    return albums
