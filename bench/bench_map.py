"""The map at scale: page size and time to interactive in headless Chromium.

    python bench/bench_map.py [--photos 100000] [--plain 10000]

Ours (`publish/mapview.py`: one compact JSON array, markers built in the browser, popups made on
click) with N geotagged photos; then, side by side at a size the plain way can finish, folium's
ordinary MarkerCluster with one Marker and Popup per photo (what clustimage writes), as ratios.
"Interactive" = the first marker or cluster is drawn and the page answers a zoom.
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

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from organizer.publish import mapview  # noqa: E402

ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
        "--disable-component-update", "--disable-sync"]


def photos(n: int) -> tuple[list[mapview.MapPhoto], list[mapview.MapLine], list[mapview.MapArea]]:
    rng = np.random.default_rng(0)
    home = int(n * 0.3)
    lat = np.concatenate([52.52 + rng.normal(0, 1e-4, home), rng.uniform(35, 60, n - home)])
    lon = np.concatenate([13.40 + rng.normal(0, 1e-4, home), rng.uniform(-10, 30, n - home)])
    albums = [f"Events/2019-{m:02d}-{d:02d} Somewhere ({d + 3})" for m in range(1, 13) for d in range(1, 29)]
    items = [mapview.MapPhoto(float(lat[i]), float(lon[i]), f"{i:032x}", f"2019-05-{1 + i % 28:02d} 12:00:00",
                              f"IMG_{i:06d}.jpg", [albums[i % len(albums)], "Places/Germany/Berlin (1234)"])
             for i in range(n)]
    lines = [mapview.MapLine(albums[k], [(float(lat[j]), float(lon[j])) for j in range(k * 30, k * 30 + 30)])
             for k in range(min(300, n // 30))]
    areas = [mapview.MapArea("Berlin (1234)", 52.52, 13.40, 200.0)]
    return items, lines, areas


def plain_page(folder: Path, items: list[mapview.MapPhoto]) -> Path:
    import folium
    from folium.plugins import MarkerCluster

    fmap = mapview.OfflineMap(location=[50, 10], zoom_start=4)  # the same local Leaflet as ours
    cluster = MarkerCluster()
    cluster.default_js = [("markerclusterjs", "map/markercluster/leaflet.markercluster.js")]
    cluster.default_css = [("markerclustercss", "map/markercluster/MarkerCluster.css"),
                           ("markerclusterdefaultcss", "map/markercluster/MarkerCluster.Default.css")]
    cluster.add_to(fmap)
    for p in items:
        label = f"<img src='map/thumbs/{p.thumb}.jpg' width=200><br>{p.taken}<br>{p.name}"
        # a tooltip, not a Popup: folium's Popup needs jQuery from a CDN, which is offline here
        folium.Marker([p.lat, p.lon], tooltip=label).add_to(cluster)
    page = folder / "plain.html"
    fmap.save(str(page))
    return page


def load_time(page: Path) -> float:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=shutil.which("chromium"), args=ARGS)
        tab = browser.new_page(viewport={"width": 1200, "height": 800})
        tab.route("**/*", lambda r: r.continue_() if r.request.url.startswith("file:") else r.abort())
        t = time.perf_counter()
        tab.goto(page.as_uri(), wait_until="domcontentloaded", timeout=300_000)
        tab.wait_for_selector(".marker-cluster, .leaflet-marker-icon", timeout=300_000)
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
    parser.add_argument("--plain", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    if not shutil.which("chromium"):
        sys.exit("needs Debian's chromium (apt-get install chromium)")
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        items, lines, areas = photos(args.photos)
        t = time.perf_counter()
        page = mapview.write(out, items, lines, areas)
        written = time.perf_counter() - t
        size = page.stat().st_size / 1e6
        times = [load_time(page) for _ in range(args.rounds)]
        print(f"ours, {args.photos:,} photos: {size:.1f} MB (goal < 20 MB), written in {written:.1f} s, "
              f"interactive in {statistics.median(times):.2f} s (median of {args.rounds}; goal < 3 s)")

        small, _, _ = photos(args.plain)
        (out / "ours").mkdir()
        ours_small = mapview.write(out / "ours", small, [], [])
        plain = plain_page(out, small)
        o = statistics.median(load_time(ours_small) for _ in range(args.rounds))
        p = statistics.median(load_time(plain) for _ in range(args.rounds))
        print(f"\nside by side at {args.plain:,} photos:")
        print(f"  ours  {ours_small.stat().st_size / 1e6:6.1f} MB  interactive in {o:6.2f} s")
        print(f"  plain {plain.stat().st_size / 1e6:6.1f} MB  interactive in {p:6.2f} s   "
              f"(folium MarkerCluster with a Marker and its label per photo)")
        print(f"  plain/ours: size {plain.stat().st_size / ours_small.stat().st_size:.1f}x, time {p / o:.1f}x")


if __name__ == "__main__":
    main()
