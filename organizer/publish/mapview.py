"""One HTML map (folium/Leaflet) that works with no internet.

Leaflet and Leaflet.markercluster are served from `map/` beside the page (folium would load them
from CDNs), thumbnails are files under `map/thumbs/`, and marker data is one compact JSON array.
Every user string reaches the page as JSON data and is put into popups with `textContent`, never
as HTML, so a file named `<img src=x onerror=alert(1)>.jpg` shows as text. Map tiles need the
internet; without them the markers, clusters, lines and popups still work.
"""

from __future__ import annotations

import html
import json
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import folium
from branca.element import Element
from folium.plugins import FastMarkerCluster

ASSETS = Path(__file__).parent / "assets"
MAP_DIR = "map"


@dataclass(frozen=True)
class MapPhoto:
    lat: float
    lon: float
    thumb: str | None  # name of the file under map/thumbs/, without ".jpg"
    taken: str | None
    name: str
    albums: Sequence[str]


@dataclass(frozen=True)
class MapLine:
    title: str
    points: Sequence[tuple[float, float]]  # in time order


@dataclass(frozen=True)
class MapArea:
    title: str
    lat: float
    lon: float
    radius_m: float


class OfflineMap(folium.Map):
    """A folium map whose only scripts and styles are Leaflet's, from the local `map/` folder."""

    default_js = [("leaflet", f"{MAP_DIR}/leaflet/leaflet.js")]
    default_css = [("leaflet_css", f"{MAP_DIR}/leaflet/leaflet.css")]


_POPUP_JS = """
function organizerPopup(i) {
    var p = ORGANIZER_PHOTOS[i];  // [thumb digest, date, file name, [album indices]]
    var box = document.createElement('div');
    box.className = 'organizer-popup';
    if (p[0]) {
        var img = document.createElement('img');
        img.src = 'map/thumbs/' + encodeURIComponent(p[0]) + '.jpg';
        img.style.maxWidth = '300px';
        img.style.maxHeight = '300px';
        img.style.display = 'block';
        box.appendChild(img);
    }
    var name = document.createElement('div');
    name.className = 'organizer-name';
    name.textContent = p[2];
    box.appendChild(name);
    var when = document.createElement('div');
    when.textContent = p[1] || 'undated';
    box.appendChild(when);
    var list = document.createElement('ul');
    for (var k = 0; k < p[3].length; k++) {
        var li = document.createElement('li');
        li.textContent = ORGANIZER_ALBUMS[p[3][k]];
        list.appendChild(li);
    }
    box.appendChild(list);
    return box;
}
"""

# folium writes this as `var callback = <this>`
_CALLBACK = """function (row) {
    var marker = L.marker(new L.LatLng(row[0], row[1]));
    marker.bindPopup(function () { return organizerPopup(row[2]); }, {maxWidth: 320});
    return marker;
}"""


def _json_for_script(data: object) -> str:
    """JSON that cannot close the <script> element it sits in."""
    return (json.dumps(data, ensure_ascii=False, separators=(",", ":"))
            .replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026"))


def render(photos: Sequence[MapPhoto], lines: Sequence[MapLine], areas: Sequence[MapArea]) -> str:
    """The page's HTML."""
    if photos:
        lats, lons = [p.lat for p in photos], [p.lon for p in photos]
        bounds = [[min(lats), min(lons)], [max(lats), max(lons)]]
    else:
        bounds = [[-60, -150], [70, 160]]
    fmap = OfflineMap(location=[0, 0], zoom_start=2, tiles="OpenStreetMap", prefer_canvas=True)
    fmap.fit_bounds(bounds)
    album_names = sorted({a for p in photos for a in p.albums})
    album_index = {a: i for i, a in enumerate(album_names)}
    table = [[p.thumb, p.taken, p.name, [album_index[a] for a in p.albums]] for p in photos]
    fmap.get_root().header.add_child(Element(
        "<style>.organizer-popup{font:13px sans-serif}.organizer-name{font-weight:bold;margin-top:4px}"
        ".organizer-popup ul{margin:4px 0 0 16px;padding:0}</style>"
    ))
    fmap.get_root().html.add_child(Element(
        f"<script>var ORGANIZER_ALBUMS = {_json_for_script(album_names)};\n"
        f"var ORGANIZER_PHOTOS = {_json_for_script(table)};\n{_POPUP_JS}</script>"
    ))
    cluster = FastMarkerCluster(
        data=[[round(p.lat, 6), round(p.lon, 6), i] for i, p in enumerate(photos)],
        callback=_CALLBACK,
        name="Photos",
        options={"chunkedLoading": True},
    )
    cluster.default_js = [("markerclusterjs", f"{MAP_DIR}/markercluster/leaflet.markercluster.js")]
    cluster.default_css = [
        ("markerclustercss", f"{MAP_DIR}/markercluster/MarkerCluster.css"),
        ("markerclusterdefaultcss", f"{MAP_DIR}/markercluster/MarkerCluster.Default.css"),
    ]
    cluster.add_to(fmap)
    events = folium.FeatureGroup(name="Events (in time order)", show=True)
    for line in lines:
        if len(line.points) >= 2:
            folium.PolyLine(line.points, weight=3, opacity=0.7, tooltip=html.escape(line.title)).add_to(events)
    events.add_to(fmap)
    places = folium.FeatureGroup(name="Places", show=True)
    for area in areas:
        folium.Circle(location=[area.lat, area.lon], radius=max(area.radius_m, 50), weight=2, fill=True,
                      fill_opacity=0.1, tooltip=html.escape(area.title)).add_to(places)
    places.add_to(fmap)
    folium.LayerControl(collapsed=False).add_to(fmap)
    return fmap.get_root().render()


def copy_assets(destination: Path) -> None:
    """Leaflet's files under `destination` (the output's map/ folder), replacing what changed."""
    for path in ASSETS.rglob("*"):
        if path.is_file():
            target = destination / path.relative_to(ASSETS)
            if not target.exists() or target.stat().st_size != path.stat().st_size:
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(path, target)
