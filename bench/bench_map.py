"""The map at scale: page size and time to interactive in headless Chromium, side by side.

    python -m bench.bench_map [--photos 100000] [--rounds 3]

N geotagged photos (30 % at home, the rest over Europe, 300 events), two pages of them:
(a) before: folium's FastMarkerCluster (Leaflet.markercluster) with the photos' table as JSON and
    a folium PolyLine per event, what `publish/mapview.py` wrote until the gallery (rebuilt here);
(b) ours: `mapview.render`, folium building the page, the photos as one JSON array clustered in
    the page by supercluster, thumbnails on the clusters, the offline outlines, tracks on demand;
(c) plain: the issue's reference, a hand-written page with the same local Leaflet and supercluster
    and a JSON array of the points alone (counts on the clusters, no thumbnails, popups, outlines
    or tracks): what the points cost, so that (b) - (c) is what ours spends on the rest.
"Interactive" = the first marker or cluster is drawn and the page answers a zoom. Both load the
same local Leaflet with the network off (the tiles fail), in alternating order, medians quoted;
ours also loads the clusters' thumbnails (real small JPEGs here).
Needs Debian's chromium and the `playwright` package (pip install '.[test]').
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np


from organizer.publish import mapview, web
from organizer.publish.site import copy_assets

# the network off: every http(s) request goes to a proxy that is not there and fails at once
# (intercepting requests in playwright instead cost each page a round trip per tile and thumbnail:
# 1.8 s of the 4 s at 100k)
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--proxy-server=http://127.0.0.1:9"]
BENCH_ASSETS = Path(__file__).resolve().parent / "assets"
KINDS = ("before", "ours", "plain")


def photos(n: int) -> tuple[list[mapview.MapPhoto], list[mapview.MapAlbum], list[mapview.MapArea]]:
    rng = np.random.default_rng(0)
    home = int(n * 0.3)
    lat = np.concatenate([52.52 + rng.normal(0, 1e-4, home), rng.uniform(35, 60, n - home)])
    lon = np.concatenate([13.40 + rng.normal(0, 1e-4, home), rng.uniform(-10, 30, n - home)])
    events = [f"Events/2019-{m:02d}-{d:02d} Somewhere" for m in range(1, 13) for d in range(1, 26)]  # 300
    albums = [mapview.MapAlbum(e, e.split("/")[-1], f"map/pages/{web.page_id(e)}.html") for e in events]
    albums.append(mapview.MapAlbum("Places/Germany/Berlin", "Berlin", "map/pages/berlin.html"))
    items = [mapview.MapPhoto(float(lat[i]), float(lon[i]), f"{i % 256:02x}/{i:032x}.jpg",
                              f"{2010 + i % 12}-05-{1 + i % 28:02d} 12:00", f"IMG_{i:06d}.jpg",
                              f"{events[i % 300]}/IMG_{i:06d}.jpg", (i % 300, 300), i % 300)
             for i in range(n)]
    areas = [mapview.MapArea(52.52, 13.40, 200.0, 300)]
    return items, albums, areas


_BEFORE_CALLBACK = """function (row) {
    var marker = L.marker(new L.LatLng(row[0], row[1]));
    marker.bindPopup(function () { return organizerPopup(row[2]); }, {maxWidth: 320});
    return marker;
}"""


def before_page(folder: Path, items: list[mapview.MapPhoto], albums: list[mapview.MapAlbum]) -> Path:
    """The map as `mapview` wrote it before: FastMarkerCluster, a PolyLine per event."""
    import folium
    from branca.element import Element
    from folium.plugins import FastMarkerCluster

    fmap = mapview.OfflineMap(location=[0, 0], zoom_start=2, tiles="OpenStreetMap", prefer_canvas=True)
    fmap.fit_bounds([[35, -10], [60, 30]])
    table = [[p.thumb, p.taken, p.name, list(p.albums)] for p in items]
    fmap.get_root().html.add_child(Element(
        f"<script>var ORGANIZER_ALBUMS = {web.script_json([a.path for a in albums])};\n"
        f"var ORGANIZER_PHOTOS = {web.script_json(table)};\nfunction organizerPopup(i) {{ "
        "var b = document.createElement('div'); b.textContent = ORGANIZER_PHOTOS[i][2]; return b; }</script>"))
    cluster = FastMarkerCluster(data=[[round(p.lat, 6), round(p.lon, 6), i] for i, p in enumerate(items)],
                                callback=_BEFORE_CALLBACK, options={"chunkedLoading": True})
    cluster.default_js = [("markerclusterjs", "map/markercluster/leaflet.markercluster.js")]
    cluster.default_css = [("markerclustercss", "map/markercluster/MarkerCluster.css"),
                           ("markerclusterdefaultcss", "map/markercluster/MarkerCluster.Default.css")]
    cluster.add_to(fmap)
    events = folium.FeatureGroup(name="Events")
    for e in range(300):
        track = [(p.lat, p.lon) for p in items[e:e + 30 * 300:300]]
        folium.PolyLine(track, weight=3, tooltip=albums[e].name).add_to(events)
    events.add_to(fmap)
    copy_assets(folder / "map")  # the same Leaflet
    shutil.copytree(BENCH_ASSETS, folder / "map", dirs_exist_ok=True)
    page = folder / "map.html"
    page.write_text(fmap.get_root().render(), encoding="utf-8")
    return page


_PLAIN = """<!DOCTYPE html><html><head><meta charset="utf-8"><link rel="stylesheet" href="map/leaflet/leaflet.css">
<script src="map/leaflet/leaflet.js"></script><script src="map/supercluster/supercluster.min.js"></script>
<style>html, body, #map { height: 100%; margin: 0; }</style></head><body><div id="map"></div>
<script type="application/json" id="points">POINTS</script><script>
var map = L.map('map', {preferCanvas: true}).fitBounds([[35, -10], [60, 30]]);
L.tileLayer('https://tile.openstreetmap.org/{z}/{x}/{y}.png').addTo(map);
var points = JSON.parse(document.getElementById('points').textContent);
var index = new Supercluster({radius: 60, maxZoom: 16}).load(points.map(function (p) {
  return {type: 'Feature', properties: {}, geometry: {type: 'Point', coordinates: [p[1], p[0]]}}; }));
var layer = L.layerGroup().addTo(map);
function draw() {
  var b = map.getBounds();
  layer.clearLayers();
  index.getClusters([b.getWest(), b.getSouth(), b.getEast(), b.getNorth()], map.getZoom()).forEach(function (c) {
    var n = c.properties.point_count, ll = [c.geometry.coordinates[1], c.geometry.coordinates[0]];
    layer.addLayer(n ? L.marker(ll, {icon: L.divIcon({html: String(n)})}) : L.marker(ll));
  });
}
map.on('moveend', draw);
draw();
</script></body></html>"""


def plain_page(folder: Path, items: list[mapview.MapPhoto]) -> Path:
    """The issue's reference: the points alone as one JSON array, clustered by supercluster."""
    copy_assets(folder / "map")
    page = folder / "map.html"
    points = web.script_json([[round(p.lat, 5), round(p.lon, 5)] for p in items])
    page.write_text(_PLAIN.replace("POINTS", points), encoding="utf-8")
    return page


def write_thumbnails(folder: Path, items: list[mapview.MapPhoto]) -> None:
    """A real JPEG per photo where the page looks for its thumbnail."""
    import io

    from PIL import Image

    data = io.BytesIO()
    Image.new("RGB", (64, 48), (200, 120, 40)).save(data, "JPEG")
    for p in items:
        if p.thumb:
            path = folder / p.thumb
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data.getvalue())


def load_time(page: Path) -> float:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=shutil.which("chromium"), args=ARGS)
        tab = browser.new_page(viewport={"width": 1200, "height": 800})
        t = time.perf_counter()
        tab.goto(page.as_uri(), wait_until="domcontentloaded", timeout=300_000)
        tab.wait_for_selector(".leaflet-marker-icon", timeout=300_000)
        tab.evaluate("""() => new Promise(done => {
            var map = Object.values(window).find(function (v) { return v instanceof L.Map; });
            map.once('zoomend', function () { done(); });
            map.setZoom(map.getZoom() + 1);
        })""")
        elapsed = time.perf_counter() - t
        browser.close()
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--photos", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    if not shutil.which("chromium"):
        sys.exit("needs Debian's chromium (apt-get install chromium)")
    items, albums, areas = photos(args.photos)
    with tempfile.TemporaryDirectory() as tmp:
        folders = {kind: Path(tmp) / kind for kind in KINDS}
        for f in folders.values():
            f.mkdir()
        t = time.perf_counter()
        pages = {"before": before_page(folders["before"], items, albums)}
        written = {"before": time.perf_counter() - t}
        copy_assets(folders["ours"] / "map")
        write_thumbnails(folders["ours"] / "map" / "thumbs", items)
        t = time.perf_counter()
        pages["ours"] = mapview.write(folders["ours"], items, albums, areas)
        written["ours"] = time.perf_counter() - t
        pages["plain"] = plain_page(folders["plain"], items)
        times: dict[str, list[float]] = {kind: [] for kind in KINDS}
        for r in range(args.rounds):
            for kind in KINDS[r % len(KINDS):] + KINDS[:r % len(KINDS)]:  # each kind first in turn
                times[kind].append(load_time(pages[kind]))
        world = (folders["ours"] / "map" / "world" / "countries-50m.js").stat().st_size / 1e6
        size = {k: p.stat().st_size / 1e6 for k, p in pages.items()}
    med = {k: statistics.median(v) for k, v in times.items()}
    print(f"{args.photos:,} geotagged photos, time to interactive ({args.rounds} rounds, medians):")
    print(f"(a) before: folium FastMarkerCluster: {size['before']:5.1f} MB, written in {written['before']:5.1f} s, "
          f"interactive in {med['before']:5.2f} s")
    print(f"(b) ours: JSON + supercluster:        {size['ours']:5.1f} MB (+ {world:.1f} MB of outlines), "
          f"written in {written['ours']:5.1f} s, interactive in {med['ours']:5.2f} s  (goals: < 20 MB, < 3 s)")
    print(f"(c) plain: the points alone:           {size['plain']:5.1f} MB, interactive in {med['plain']:5.2f} s")
    print(f"before/ours: size {size['before'] / size['ours']:.1f}x, time {med['before'] / med['ours']:.1f}x")


if __name__ == "__main__":
    main()
