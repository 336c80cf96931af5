"""The map in a real headless Chromium, loaded from disk with the network off."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from conftest import ROOT, Cli, gps_ifd, make_jpeg

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
HOSTILE = "<img src=x onerror=alert(1)>.jpg"
OUT = ROOT / "tests" / "out"

if CHROMIUM is None and os.environ.get("CI"):
    raise RuntimeError("CI must have Chromium: .ci/run installs Debian's chromium package")
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="Chromium is not installed (apt-get install chromium)")

CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def test_map_works_offline_escapes_names_and_counts_every_photo(tmp_path: Path, run: Cli) -> None:
    from playwright.sync_api import sync_playwright

    root, out = tmp_path / "Pictures", tmp_path / "Albums"
    spots = [(43.4674, 11.8851), (38.7223, -9.1393), (52.5200, 13.4050)]
    n = 0
    for s, (lat, lon) in enumerate(spots):
        for i in range(4):
            make_jpeg(root / f"trip{s}" / f"IMG_{s}{i}.jpg", original=f"2020:0{s + 1}:10 1{i}:00:00",
                      gps=gps_ifd(lat + i * 1e-4, lon), seed=s * 10 + i, size=(120, 90))
            n += 1
    make_jpeg(root / "trip0" / HOSTILE, original="2020:01:10 14:30:00", gps=gps_ifd(40.0, -30.0), seed=99,
              size=(120, 90))  # alone in the Atlantic: its own marker
    n += 1
    make_jpeg(root / "nogps.jpg", original="2020:05:05 10:00:00", seed=98)
    report = run.json("organize", str(root), "--output", str(out))
    assert report["publish"]["map_photos"] == n
    html = (out / "map.html").read_text()
    assert HOSTILE not in html  # only as escaped JSON
    assert "cdn" not in html.lower() and "https://code.jquery" not in html
    thumbs = list((out / "map" / "thumbs").glob("*.jpg"))
    assert len(thumbs) == n

    errors: list[str] = []
    dialogs: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1200, "height": 800})
        page.route("**/*", lambda route: route.continue_() if route.request.url.startswith("file:")
                   else route.abort())  # the network is off: tiles fail, nothing else may need it
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
        page.goto((out / "map.html").as_uri())
        page.wait_for_selector(".leaflet-marker-icon, .marker-cluster", timeout=15_000)
        page.wait_for_function("() => !document.querySelector('.leaflet-zoom-anim, .leaflet-cluster-anim')")
        page.wait_for_timeout(500)  # the last cluster animation step
        clusters = [int(t) for t in page.locator(".marker-cluster span").all_inner_texts()]
        singles = page.locator(".leaflet-marker-icon:not(.marker-cluster)").count()
        assert sum(clusters) + singles == n
        shapes = page.evaluate("""() => {
            var map = Object.values(window).find(function (v) { return v instanceof L.Map; });
            var lines = 0, circles = 0;
            map.eachLayer(function (layer) {
                if (layer instanceof L.Circle) { circles++; }
                else if (layer instanceof L.Polyline) { lines++; }
            });
            return [lines, circles];
        }""")
        assert shapes == [3, 3]  # a line per event (in time order), a circle per place
        # open the hostile photo's popup: its name is text, and no script ran
        lonely = page.evaluate("""() => {
            var found = null;
            document.querySelectorAll('.leaflet-marker-icon:not(.marker-cluster)').forEach(function (el) {
                var r = el.getBoundingClientRect();
                if (found === null || r.left < found[0]) { found = [r.left, r.top, r.width, r.height]; }
            });
            return found;
        }""")
        page.mouse.click(lonely[0] + lonely[2] / 2, lonely[1] + lonely[3] / 2)
        page.wait_for_selector(".organizer-popup", timeout=5_000)
        popup = page.locator(".organizer-popup")
        assert HOSTILE in popup.locator(".organizer-name").inner_text()
        assert popup.locator("img").get_attribute("src").startswith("map/thumbs/")
        assert page.evaluate("document.querySelector('.organizer-popup img').naturalWidth") > 0
        assert "Events/" in popup.inner_text()
        OUT.mkdir(exist_ok=True)
        page.screenshot(path=str(OUT / "map.png"))
        browser.close()
    assert errors == [] and dialogs == []
