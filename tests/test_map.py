"""The map in a real headless Chromium with the network off, over file:// and http://: the
offline outlines are drawn, every geotagged photo is counted in its markers, popups lead to the
original and to the gallery, an event's track is drawn, the year slider hides photos, and names
(file names, an online geocoder's place names) are text."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import unquote

import shutil

import numpy as np
import piexif
import pytest
from PIL import Image

from browsing import browser, library  # noqa: F401  (pytest fixtures, module-scoped)
from browsing import GEOTAGGED, HOSTILE, HOSTILE_TOWN, Tab, needs_chromium, screenshot, site
from conftest import CORPORA, Cli, gps_ifd, make_jpeg, make_video
from organizer.extract import features

pytestmark = needs_chromium
LAND = (242, 239, 230)  # the outlines' fill (map.js), and the sea behind them (map.css)
SEA = (185, 211, 230)




def _settle(page) -> None:
    page.wait_for_selector(".organizer-icon", timeout=15_000)
    page.wait_for_function("() => !document.querySelector('.leaflet-zoom-anim') && "
                           "Number.isInteger(organizer.map.getZoom())")  # not flying
    page.wait_for_timeout(300)


def _wait(page, condition: str, what: str) -> None:
    """Wait for `condition`; when it does not come, the screenshot and the map's state say why."""
    try:
        page.wait_for_function(condition, timeout=20_000)
    except Exception:
        screenshot(page, "map-failed.png")
        state = page.evaluate("() => [organizer.map.getZoom(), organizer.map.getCenter(), "
                              "document.querySelectorAll('.organizer-icon').length]")
        raise AssertionError(f"no {what}: zoom, centre, markers = {state} (tests/out/map-failed.png)") from None


def _shown(page) -> int:
    """Photos drawn: the clusters' counts and the single photos."""
    counts = [int(t.replace(",", "")) for t in page.locator(".organizer-count").all_inner_texts()]
    return sum(counts) + page.locator(".organizer-photo").count()


def _share(png: Path, colour: tuple[int, int, int]) -> float:
    pixels = np.asarray(Image.open(png).convert("RGB")).reshape(-1, 3).astype(int)
    return float((np.abs(pixels - colour).sum(axis=1) <= 6).mean())


def _click_marker(page, selector: str, which: str = "left") -> None:
    box = page.evaluate("""([sel, which]) => {
        var best = null;
        document.querySelectorAll(sel).forEach(function (el) {
            var r = el.getBoundingClientRect();
            if (r.top < 0 || r.left < 0 || r.bottom > innerHeight || r.right > innerWidth) { return; }  // off screen
            if (best === null || (which === 'left' ? r.left < best.left : r.top < best.top)) { best = r; }
        });
        return best && [best.left + best.width / 2, best.top + best.height / 2];
    }""", [selector, which])
    page.mouse.click(*box)


@pytest.mark.parametrize("scheme", ["file", "http"])
def test_map_offline_shows_outlines_markers_popups_and_tracks(library, browser, scheme: str) -> None:
    root, out = library
    html = (out / "map.html").read_text()
    assert HOSTILE not in html  # its < and > only as JSON escapes
    assert "cdn" not in html.lower() and "unpkg" not in html and "jsdelivr" not in html
    with site(out, scheme) as base:
        tab = Tab(browser, base)
        page = tab.open("map.html")
        _settle(page)
        assert all("tile.openstreetmap.org" in url for url in tab.blocked)  # only the tiles wanted the network
        # the offline base layer: land, coasts and borders drawn in canvas tiles under the (failed) tiles
        container = page.locator(".leaflet-container")
        assert page.locator(".leaflet-organizer-world-pane canvas.organizer-outline-tile").count() >= 6  # its tiles
        assert container.get_attribute("data-outlines") == "fine"  # zoom 5: 1:50m
        assert int(container.get_attribute("data-countries")) > 200  # a shape per country
        assert _shown(page) == GEOTAGGED
        shot = screenshot(page, f"map-offline-{scheme}.png")
        assert _share(shot, LAND) > 0.15 and _share(shot, SEA) > 0.15  # Europe's land and the Atlantic
        # clusters show the newest photo's thumbnail
        thumbs = page.eval_on_selector_all(".organizer-cluster img", "els => els.map(e => e.naturalWidth)")
        assert len(thumbs) == 3 and all(w > 0 for w in thumbs)
        covers = {"map/" + src.split("/map/", 1)[1]  # as the page wrote them, relative
                  for src in page.eval_on_selector_all(".organizer-cluster img", "els => els.map(e => e.src)")}
        # the photo alone in the Atlantic: its name is text, its thumbnail opens the original
        _click_marker(page, ".organizer-photo")
        popup = page.locator(".organizer-popup")
        popup.wait_for()
        assert popup.locator(".organizer-name").inner_text() == HOSTILE
        assert page.evaluate("document.querySelector('.organizer-popup img').naturalWidth") > 0
        original = popup.locator("a.organizer-open").get_attribute("href")
        link = out / unquote(original)  # through an album's own link, to the photo
        assert link.is_symlink() and link.resolve() == (root / "trip0" / HOSTILE).resolve()
        # a cluster of Berlin: zoom in, open a photo, show its event's track
        page.locator(".leaflet-popup-close-button").click()
        page.evaluate("() => { organizer.map.setView([47, 2], 4, {animate: false}); }")  # back over Europe
        _settle(page)
        assert container.get_attribute("data-outlines") == "coarse"  # zoom 4: 1:110m
        assert 150 < int(container.get_attribute("data-countries")) < 200
        assert _share(screenshot(page, f"map-coarse-{scheme}.png"), LAND) > 0.15
        for _ in range(4):  # into Berlin's cluster, as a user clicks until its photos come apart
            if page.locator(".organizer-photo").count() >= 4:
                break
            zoom = page.evaluate("organizer.map.getZoom()")
            _click_marker(page, ".organizer-cluster", which="top")
            _wait(page, f"() => organizer.map.getZoom() > {zoom}", "zoom into the cluster")
            _settle(page)
        assert page.locator(".organizer-photo").count() >= 4
        _click_marker(page, ".organizer-photo", which="top")
        popup.wait_for()
        assert popup.locator(".organizer-name").inner_text() == "IMG_23.jpg"  # Berlin's northernmost, and newest
        assert page.locator(".organizer-popup img").get_attribute("src") in covers  # its cluster's cover
        assert popup.locator("a.organizer-album").count() >= 2  # its event and its place (and similar)
        event_link = popup.locator("a.organizer-album", has_text="Events/")
        assert "alert(2)" in event_link.inner_text()
        # the popup pans the map into view: click once that pan (and the markers' redraw) is over
        page.wait_for_function("() => !(organizer.map._panAnim && organizer.map._panAnim._inProgress)")
        _settle(page)
        popup.locator("button.organizer-show-track").click()
        page.wait_for_selector("path.organizer-track", state="attached")  # a vertical line: no width
        assert page.locator(".leaflet-container").get_attribute("data-track") == "4"
        screenshot(page, f"map-track-{scheme}.png")
        with page.expect_navigation():
            event_link.click()  # to the gallery's page of the event
        assert page.locator("h1").inner_text().startswith("2021-03-10 Ber`${alert(2)}`")
        assert page.locator("a.tile").count() == 4
        page.go_back()
        _settle(page)
        with page.expect_navigation():
            page.goto(f"{base}/{original}")
        assert page.evaluate("document.contentType") == "image/jpeg"
        tab.clean()


def test_year_slider_hides_photos_outside_it(library, browser) -> None:
    _, out = library
    tab = Tab(browser, out.as_uri())
    page = tab.open("map.html")
    _settle(page)
    container = page.locator(".leaflet-container")
    assert container.get_attribute("data-shown") == str(GEOTAGGED)
    assert page.locator(".organizer-years-label").inner_text() == "Photos from 2019 to 2021"
    page.evaluate("() => { window.notReloaded = true; }")
    page.locator("input.organizer-from").focus()
    page.keyboard.press("ArrowRight")  # from 2020: the 2019 photo goes
    page.wait_for_function(f"() => document.querySelector('.leaflet-container').dataset.shown === '{GEOTAGGED - 1}'")
    _settle(page)
    assert _shown(page) == GEOTAGGED - 1
    page.locator("input.organizer-to").focus()
    page.keyboard.press("ArrowLeft")  # to 2020: Berlin's 2021 goes too
    page.wait_for_function("() => document.querySelector('.leaflet-container').dataset.shown === '8'")
    page.wait_for_timeout(300)
    assert _shown(page) == 8
    assert page.locator(".organizer-years-label").inner_text() == "Photos from 2020 to 2020"
    screenshot(page, "map-years.png")
    page.keyboard.press("End")
    page.locator("input.organizer-from").focus()
    page.keyboard.press("Home")
    page.wait_for_function(f"() => document.querySelector('.leaflet-container').dataset.shown === '{GEOTAGGED}'")
    assert page.evaluate("window.notReloaded") is True  # filtered in the page, not by loading it again
    tab.clean()


def test_online_place_names_are_data_not_code(library, browser) -> None:
    """Issue 12, item 8: a Nominatim answer holding `${...}` and a backtick ran as script in
    folium's tooltips. Here every place and track name is shown, and nothing runs."""
    _, out = library
    tab = Tab(browser, out.as_uri(), 390, 844)
    page = tab.open("map.html")
    _settle(page)
    names = page.evaluate("""() => {
        var shown = [];
        organizer.map.eachLayer(function (layer) {
            if (layer instanceof L.Circle) { layer.openTooltip(); shown.push(layer.getTooltip().getElement().textContent); }
        });
        return shown;
    }""")
    town = HOSTILE_TOWN.split("\u202e")[0]  # folder names lose the bidi override; the rest is as it came
    assert any(town in n for n in names), names
    assert len(names) == 3
    screenshot(page, "map-phone.png")
    tab.clean()


def test_outlines_that_cross_the_antimeridian_are_drawn_on_both_sides(library, browser) -> None:
    """Chukotka runs past 180 degrees: its part east of the line is drawn from the other world's
    side of the tiles, not lost and not a band across the map."""
    _, out = library
    tab = Tab(browser, out.as_uri(), 800, 600)
    page = tab.open("map.html")
    _settle(page)
    page.evaluate("() => { organizer.map.setView([66.5, 180], 5, {animate: false}); }")
    page.wait_for_timeout(500)
    pixels = np.asarray(Image.open(screenshot(page, "map-antimeridian.png")).convert("RGB")).astype(int)
    land = np.abs(pixels - LAND).sum(axis=2) <= 6
    west, east = land[100:350, 200:400].mean(), land[100:350, 400:600].mean()  # 180 degrees is at x = 400
    assert west > 0.6 and east > 0.4, (west, east)  # Chukotka on both sides of the line
    page.evaluate("() => { organizer.map.setView([-20, 0], 3, {animate: false}); }")  # the South Atlantic
    page.wait_for_timeout(500)
    sea = screenshot(page, "map-atlantic.png")
    assert _share(sea, SEA) > 0.5  # no band of land across it
    tab.clean()


def test_a_video_has_a_play_mark_and_its_popup_plays_it(tmp_path: Path, browser, run: Cli) -> None:
    """A phone video with a place (ISO 6709) is on the map with a play mark, its popup says it is
    a video and how long, and its link opens the clip itself; a photo beside it has no mark."""
    root, out = tmp_path / "Pictures", tmp_path / "Albums"
    root.mkdir()
    make_video(root / "VID_1.mp4", frames=40, metadata={"creation_time": "2022-05-01T10:00:00.000000Z",
                                                       "location": "+41.9028+012.4964/"})
    make_jpeg(root / "IMG_1.jpg", original="2022:05:03 10:00:00", gps=gps_ifd(45.4642, 9.19), seed=3)
    run("organize", str(root), "--output", str(out), env={"ORGANIZER_VECTORS_ENABLED": "false"})
    tab = Tab(browser, out.as_uri())
    page = tab.open("map.html")
    _settle(page)
    icons = page.locator(".organizer-photo")
    assert icons.count() == 2 and page.locator(".organizer-photo .organizer-play").count() == 1
    page.locator(".organizer-photo:has(.organizer-play)").click()
    popup = page.locator(".leaflet-popup-content")
    popup.wait_for()
    assert popup.locator(".organizer-name").inner_text() == "VID_1.mp4"
    assert popup.locator(".organizer-when").inner_text().endswith("video 0:04")
    link = out / unquote(popup.locator("a.organizer-video").get_attribute("href"))
    assert link.is_symlink() and link.resolve() == (root / "VID_1.mp4").resolve()
    page.wait_for_timeout(400)  # the popup faded in
    screenshot(page, "map-video.png")
    page.locator(".leaflet-popup-close-button").click()
    page.locator(".organizer-photo:not(:has(.organizer-play))").click()
    page.wait_for_function("() => (document.querySelector('.leaflet-popup-content .organizer-name') || {})"
                           ".textContent === 'IMG_1.jpg'")
    assert page.locator(".leaflet-popup-content .organizer-video").count() == 0
    assert "video" not in page.locator(".leaflet-popup-content .organizer-when").inner_text()
    tab.clean()


FACES = CORPORA / "F_face-recognition"


@pytest.mark.skipif(not FACES.is_dir(), reason="../shared/corpora/F_face-recognition is not present")
@pytest.mark.skipif(not features._faces_installed(), reason="the faces extra is not installed")
def test_a_photos_popup_lists_the_people_in_it(tmp_path: Path, browser, run: Cli) -> None:
    """Photos of the face corpus, geotagged a degree apart, one event: a photo's popup names the persons in
    it (a user's name as text: '&lt;' is not '<'; 'Person' as its album is named), each a link to its gallery page,
    and its other albums without them; the rows carry no field for it (People albums are among
    a photo's albums already); a photo with no one in it has no people line."""
    root, out = tmp_path / "photos", tmp_path / "albums"
    root.mkdir()
    files = ["train/obama/obama.jpg", "train/obama/obama2.jpg", "test/obama1.jpg", "train/biden/biden.jpg",
             "train/biden/biden2.jpg", "test/obama_and_biden.jpg"]
    spots = {}
    for k, f in enumerate(files):
        photo = root / Path(f).name
        shutil.copy(FACES / "examples/knn_examples" / f, photo)
        spots[photo.name] = (48.0, 2.0 + k)
        exif = {"GPS": gps_ifd(*spots[photo.name]),
                "Exif": {piexif.ExifIFD.DateTimeOriginal: f"2020:06:01 1{k}:00:00".encode()}}
        piexif.insert(piexif.dump(exif), str(photo))
    make_jpeg(root / "field.jpg", original="2020:06:01 19:00:00", gps=gps_ifd(48.0, 9.0), seed=5, size=(640, 480))
    spots["field.jpg"] = (48.0, 9.0)
    env = {"ORGANIZER_FACES_ENABLED": "on", "ORGANIZER_VECTORS_ENABLED": "false"}
    run("organize", str(root), "--output", str(out), env=env)
    obama = next(p["id"] for p in run.json("people", env=env) if p["sample"].endswith("/obama.jpg"))
    run("people", "name", obama, "Barack &lt;O&gt;", env=env)
    run("publish", "--output", str(out), env=env)
    assert sorted(p.name for p in (out / "People").iterdir()) == ["Barack &lt;O&gt;", "Person"]

    tab = Tab(browser, out.as_uri())
    page = tab.open("map.html")
    _settle(page)
    assert page.evaluate("organizer.photos.every(function (p) { return p.length === 10; })")  # no field added
    assert sorted(page.evaluate("organizer.albums.filter(function (a) { return a[4]; }).map(function (a) "
                                "{ return a[0]; })")) == ["People/Barack &lt;O&gt;", "People/Person"]

    def popup_of(name: str):
        page.evaluate("([lat, lon]) => { organizer.map.closePopup(); organizer.map.setView([lat, lon], 18, "
                      "{animate: false}); }", list(spots[name]))
        _settle(page)
        page.locator(".organizer-photo").click()
        popup = page.locator(".leaflet-popup-content .organizer-popup")
        page.wait_for_function("(n) => (document.querySelector('.leaflet-popup-content .organizer-name') || {})"
                               ".textContent === n", arg=name)
        return popup

    both = popup_of("obama_and_biden.jpg")
    assert both.locator(".organizer-people").inner_text() == "People: Barack &lt;O&gt;, Person"
    albums = both.locator("a.organizer-album").all_inner_texts()
    assert albums and all(a.startswith("Events/") for a in albums), albums  # its event; its persons not twice
    page.wait_for_timeout(400)  # the popup faded in
    screenshot(page, "map-people.png")
    assert popup_of("obama2.jpg").locator(".organizer-people").inner_text() == "People: Barack &lt;O&gt;"
    assert popup_of("field.jpg").locator(".organizer-people").count() == 0
    both = popup_of("obama_and_biden.jpg")
    with page.expect_navigation():
        both.locator("a.organizer-person", has_text="Person").click()  # to the person's gallery page
    assert page.locator("h1").inner_text() == "Person"
    assert page.locator("a.tile").count() == 3  # biden.jpg, biden2.jpg, obama_and_biden.jpg
    tab.clean()
