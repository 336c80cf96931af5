"""`map.html`: every geotagged photo on a map that works with no internet.

folium builds the page (a Leaflet map with OpenStreetMap's tiles); everything else is shipped
under `map/`: Leaflet, supercluster (clusters made in the page from one JSON array, each showing
the newest photo's thumbnail), Natural Earth's land and country outlines (drawn under the tiles,
alone when they do not load), and `organizer/map.js` (popups, event tracks, the year slider).
Every user string reaches the page as JSON data and is shown with `textContent`, never as HTML or
code: a file named `<img src=x onerror=alert(1)>.jpg` or a place called `${alert(1)}` is text.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import folium
from branca.element import MacroElement
from folium.elements import JSCSSMixin
from jinja2 import Template

from organizer.catalog import shown
from organizer.publish import web

MAP_DIR = web.SITE_DIR
DATA_PLACEHOLDER = "@@organizer-data@@"  # no Jinja syntax, no JSON: it cannot occur in the page otherwise


@dataclass(frozen=True)
class MapPhoto:
    lat: float
    lon: float
    thumb: str | None  # under map/thumbs/ ("ab/abcd....jpg")
    taken: str | None  # local time, "YYYY-MM-DD HH:MM"
    name: str  # the original's file name
    link: str  # the original through an album's link, relative to the output
    albums: Sequence[int]  # indices into the map's albums
    event: int | None = None  # index of its event among the map's albums
    video: float | None = None  # a video's duration in seconds (0.0 when unknown); None: a photo


@dataclass(frozen=True)
class MapAlbum:
    path: str  # "Events/2008-10-22 Arezzo"
    name: str
    page: str | None  # its gallery page, relative to the output
    person: bool = False  # a People album: its photos' popups list it among the people, by name


@dataclass(frozen=True)
class MapArea:
    lat: float
    lon: float
    radius_m: float
    album: int  # index into the map's albums


class OfflineMap(folium.Map):
    """A folium map whose only scripts and styles are Leaflet's, from the local `map/` folder."""

    default_js = [("leaflet", f"{MAP_DIR}/leaflet/leaflet.js")]
    default_css = [("leaflet_css", f"{MAP_DIR}/leaflet/leaflet.css")]


class _Photos(JSCSSMixin, MacroElement):
    """The photo layer, the offline outlines and the controls, from one JSON document."""

    default_js = [("supercluster", f"{MAP_DIR}/supercluster/supercluster.min.js"),
                  ("topojson", f"{MAP_DIR}/world/topojson-client.min.js"),
                  ("world", f"{MAP_DIR}/world/countries-50m.js"),
                  ("world_110m", f"{MAP_DIR}/world/countries-110m.js"),
                  ("organizer_map", f"{MAP_DIR}/organizer/map.js")]
    default_css = [("organizer_map_css", f"{MAP_DIR}/organizer/map.css")]
    # the data as a JSON element the HTML parser skips over and JSON.parse reads at once (as a
    # script's literal, 10 MB took 2 s to parse). Only a placeholder goes through the templates:
    # branca compiles each rendered element as a Jinja template again, so a file named
    # "{{ lipsum.__globals__.os.system(...) }}.jpg" would run as Python; the data replaces the
    # placeholder in the finished page.
    _template = Template("{% macro html(this, kwargs) %}<script type=\"application/json\" id=\"organizer-data\">"
                         + DATA_PLACEHOLDER + "</script>{% endmacro %}\n{% macro script(this, kwargs) %}\n"
                         "organizerMap({{ this._parent.get_name() }}, "
                         "JSON.parse(document.getElementById('organizer-data').textContent));\n{% endmacro %}")

    def __init__(self) -> None:
        super().__init__()
        self._name = "OrganizerPhotos"


def data(photos: Sequence[MapPhoto], albums: Sequence[MapAlbum], areas: Sequence[MapArea]) -> dict:
    """The page's data, kept small for 100k photos: rows of arrays, newest photo first (so that a
    cluster's newest is its lowest row), a photo's link as its album's index and, only when it
    differs from the file's name, its link's name; thumbnails by digest (map/thumbs/ab/<digest>.jpg);
    last, a video's duration in whole seconds (at least 1), 0 for a photo. A photo's albums hold
    its People albums too (a person: 1 in its album's row), so the people in it cost no field."""
    index = {a.path: k for k, a in enumerate(albums)}
    rows = []
    for p in sorted(photos, key=lambda p: p.taken or "", reverse=True):
        folder, _, link_name = p.link.rpartition("/")
        where: int | str = index.get(folder, web.href(p.link))
        plain = isinstance(where, int) and link_name == p.name and shown(p.name) == p.name
        rows.append([round(p.lat, 5), round(p.lon, 5), p.thumb.rsplit("/", 1)[-1][:-4] if p.thumb else 0,
                     p.taken or 0, shown(p.name), where, list(p.albums), -1 if p.event is None else p.event,
                     0 if plain or not isinstance(where, int) else web.href(link_name),
                     0 if p.video is None else max(round(p.video), 1)])
    return {
        "albums": [[a.path, a.name, a.page, web.href(a.path), int(a.person)] for a in albums],
        "photos": rows,
        "areas": [[round(a.lat, 5), round(a.lon, 5), round(a.radius_m), a.album] for a in areas],
    }


def render(photos: Sequence[MapPhoto], albums: Sequence[MapAlbum], areas: Sequence[MapArea]) -> str:
    """The page's HTML."""
    if photos:
        lats, lons = [p.lat for p in photos], [p.lon for p in photos]
        bounds = [[min(lats), min(lons)], [max(lats), max(lons)]]
    else:
        bounds = [[-60, -150], [70, 160]]
    fmap = OfflineMap(location=[0, 0], zoom_start=2, tiles="OpenStreetMap", prefer_canvas=True,
                      world_copy_jump=True)
    fmap.fit_bounds(bounds, max_zoom=16)
    _Photos().add_to(fmap)
    head, placeholder, tail = fmap.get_root().render().partition(DATA_PLACEHOLDER)
    assert placeholder and DATA_PLACEHOLDER not in tail, "the map's template lost its data placeholder"
    return head + web.script_json(data(photos, albums, areas)) + tail


def write(output: Path, photos: Sequence[MapPhoto], albums: Sequence[MapAlbum], areas: Sequence[MapArea]) -> Path:
    """Write `map.html` (the assets under `map/` are the site's); returns the page's path."""
    page = output / "map.html"
    web.write_if_changed(page, render(photos, albums, areas))
    return page
