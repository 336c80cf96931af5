"""The gallery's data: what its pages show, as plain dataclasses, and the album kinds' rules.

`pages` renders these into HTML; `site` gathers them from publish's plan and the catalog. An
album kind publish adds (`plan.KINDS`) gets its tab, titled from its folder, sorted by name unless
`RULES` says otherwise.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from organizer.publish.plan import KINDS


@dataclass(slots=True)  # not frozen: a library's items are made by the 100,000, and frozen ones cost twice
class Item:
    """One photo or video of an album."""

    link: str  # the album's own link to it, relative to the output: "Events/2008-10-22 Arezzo/DSCN0010.jpg"
    path: str  # the original's full path
    thumb: str | None = None  # under map/thumbs/ ("ab/abcd....jpg"); None: no thumbnail
    taken: datetime | None = None
    size: int | None = None  # bytes
    width: int | None = None
    height: int | None = None
    video: bool = False
    keeper: bool = False  # the suggested copy to keep, in a duplicates album
    companions: tuple[str, ...] = ()  # links (relative to the output) of its RAW, Live Photo MOV, sidecars


@dataclass(frozen=True)
class Album:
    """One album folder, its items in the order shown."""

    kind: str  # "event", "place", "similar", "duplicate", "timeline", "tag", ...
    path: str  # its folder relative to the output: "Places/Italy/Arezzo"
    name: str  # as shown: "Arezzo"
    items: tuple[Item, ...]
    cover: int = 0  # index in `items` of the photo on its card
    start: datetime | None = None
    end: datetime | None = None
    cover_thumb: str | None = None  # a picture of its own on its card (a person's face), under map/thumbs/

    @property
    def count(self) -> int:
        return len(self.items)


@dataclass(frozen=True)
class Card:
    """An album as the index shows it (kept between runs, so that a quick update renders only the
    albums that changed)."""

    kind: str
    path: str
    name: str
    count: int
    start: str | None  # ISO dates
    end: str | None
    cover: str | None  # thumbnail under map/thumbs/
    page: str  # its first page, relative to map/pages/

    @classmethod
    def of(cls, album: Album, page: str) -> Card:
        cover = album.cover_thumb or (album.items[album.cover].thumb if album.items else None)
        return cls(album.kind, album.path, album.name, album.count,
                   album.start.date().isoformat() if album.start else None,
                   album.end.date().isoformat() if album.end else None, cover, page)


@dataclass(frozen=True)
class Kind:
    """How the gallery shows the albums of one kind."""

    kind: str
    newest_first: bool = False  # else by name
    visual: bool = False  # cover: the photo nearest the group's centre in vector space (else the middle one)
    names: dict[str, str] = field(default_factory=dict)  # folder name -> name shown (months)


_MONTHS = {f"{m:02d}": name for m, name in enumerate(
    ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
     "November", "December"], start=1)}

# how the kinds that are not sorted by name show; the tabs' order is publish's (`plan.KINDS`), and
# each kind's title its folder's name (Events, Places, ...)
RULES: dict[str, Kind] = {k.kind: k for k in (
    Kind("event", newest_first=True),
    Kind("favorite", newest_first=True),
    Kind("duplicate", visual=True),
    Kind("similar", visual=True),
    Kind("timeline", newest_first=True, names=_MONTHS),
)}


def kind(name: str) -> Kind:
    return RULES.get(name) or Kind(name)


def kind_order(name: str) -> tuple[int, str]:
    order = [k.kind for k in KINDS]
    return (order.index(name), name) if name in order else (len(order), name)
