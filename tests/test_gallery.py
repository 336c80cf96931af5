"""The gallery as a person uses it: a real headless Chromium over file:// and over http:// (the
documented `python -m http.server`), with the network off, on a library organized once."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import unquote, urlparse

import pytest

from browsing import browser, library  # noqa: F401  (pytest fixtures, module-scoped)
from browsing import HOSTILE, HOSTILE_TAG, Tab, needs_chromium, needs_nginx, screenshot, site
import numpy as np

from organizer.publish import pages
from organizer.publish.site import copy_assets
from organizer.publish.gallery import Album, Item

pytestmark = needs_chromium
KINDS = ["Events", "Places", "Duplicates", "Similar", "Timeline", "Tags", "Favorites"]  # and no people


def _loaded_images(page, selector: str) -> list[int]:
    return page.eval_on_selector_all(selector, "els => els.map(e => e.complete ? e.naturalWidth : -1)")


@contextmanager
def _index(browser, out: Path, scheme: str) -> Iterator[tuple[Tab, object]]:
    """The gallery's index over file:// or http://."""
    with site(out, scheme) as base:
        tab = Tab(browser, base)
        yield tab, tab.open("index.html")


def _local_file(url: str) -> Path:
    return Path(unquote(urlparse(url).path))


@pytest.mark.parametrize("scheme", ["file", "http", pytest.param("nginx", marks=needs_nginx)])
def test_index_shows_every_album_kind_with_covers(library, browser, scheme: str) -> None:
    _, out = library
    with _index(browser, out, scheme) as (tab, page):
        assert [t.split(" ")[0] for t in page.locator(".tabs a").all_inner_texts()] == KINDS
        for kind in KINDS:
            page.locator(".tabs a", has_text=kind).click()
            section = page.locator("section.kind:not(.hidden)")
            assert section.count() == 1 and section.get_attribute("data-title") == kind
            page.wait_for_function("() => [...document.querySelectorAll('section.kind:not(.hidden) .card img')]"
                                   ".every(i => i.complete)")
            covers = _loaded_images(page, "section.kind:not(.hidden) .card img")
            assert covers and all(w > 0 for w in covers), (kind, covers)  # every album has its cover, drawn
            if kind == "Events":
                names = section.locator(".card .name").all_inner_texts()
                assert names[0].startswith("2021-03-10") and names[-1].startswith("2020-01-10")  # newest first
            if kind == "Places":
                assert section.locator("h3").all_inner_texts() == ["Deutschland", "Italia", "Portugal"]
            if kind == "Timeline":
                assert section.locator("h3").all_inner_texts() == ["2021", "2020", "2019"]
                assert section.locator(".card .name").first.inner_text() == "March"
            if kind == "Tags":
                assert section.locator(".card .name").all_inner_texts() == ["Beach", "Family", HOSTILE_TAG]
            if kind == "Favorites":  # rated 5 and 4; the one rated 2 is not a favourite
                assert section.locator(".card .name").all_inner_texts() == ["Favorites"]
                assert "2 " in section.locator(".card").first.inner_text()
            if scheme == "file":
                screenshot(page, f"gallery-index-{kind.lower()}.png")
        tab.clean()
        assert tab.blocked == []  # nothing wanted the network


@pytest.mark.parametrize("scheme", ["file", "http", pytest.param("nginx", marks=needs_nginx)])
def test_album_page_opens_originals_and_the_lightbox_follows_the_keys(library, browser, scheme: str) -> None:
    root, out = library
    with _index(browser, out, scheme) as (tab, page):
        page.locator(".tabs a", has_text="Events").click()
        page.locator("section:not(.hidden) .card a", has_text="2020-02-10").click()
        page.wait_for_selector("a.tile img")
        assert page.locator("h1").inner_text().startswith("2020-02-10")
        page.wait_for_function("() => [...document.querySelectorAll('a.tile img')].every(i => i.complete)")
        assert _loaded_images(page, "a.tile img") == [320] * 4  # the thumbnails
        assert page.locator("a.tile").count() == 4
        # thumbnails load as they scroll into view: a page of thousands does not fetch them all at once
        assert page.eval_on_selector_all("a.tile img", "els => els.every(e => e.loading === 'lazy')")
        hrefs = page.eval_on_selector_all("a.tile", "els => els.map(e => e.href)")
        assert all("/Events/" in h for h in hrefs)  # through the album's own link
        page.locator("a.tile").first.click()
        box = page.locator(".lightbox")
        assert box.is_visible()
        page.wait_for_function("() => document.querySelector('.lightbox img').complete")
        assert page.evaluate("document.querySelector('.lightbox img').naturalWidth") == 640  # the original
        names = []
        for key in ["ArrowRight", "ArrowRight", "ArrowLeft", "End", "Home", "ArrowLeft"]:
            page.keyboard.press(key)
            names.append(box.locator(".caption strong").inner_text())
        assert names == ["IMG_11.jpg", "IMG_12.jpg", "IMG_11.jpg", "IMG_13.jpg", "IMG_10.jpg", "IMG_13.jpg"]
        assert "4 / 4" in box.locator(".caption").inner_text()
        if scheme == "file":
            screenshot(page, "gallery-lightbox.png")
        page.keyboard.press("Escape")
        assert not box.is_visible()
        # a swipe to the left shows the next one
        page.locator("a.tile").first.click()
        page.mouse.move(900, 400)
        page.mouse.down()
        page.mouse.move(500, 410, steps=5)
        page.mouse.up()
        assert box.locator(".caption strong").inner_text() == "IMG_11.jpg"
        original = box.locator("a.original")
        with page.expect_navigation():
            original.click()
        assert page.evaluate("document.contentType") == "image/jpeg"
        if scheme == "file":  # the link in the album folder, and it leads to the photo
            link = _local_file(page.url)
            assert link.is_symlink() and link.resolve() == (root / "trip1" / "IMG_11.jpg").resolve()
        tab.clean()


@pytest.mark.parametrize("size", [(390, 844), (1280, 800)], ids=["phone", "desktop"])
def test_any_event_place_tag_or_month_is_two_clicks_away(library, browser, size: tuple[int, int]) -> None:
    _, out = library
    tab = Tab(browser, out.as_uri(), *size)
    page = tab.open("index.html")
    for box in (t.bounding_box() for t in page.locator(".tabs a").all()):  # every tab in sight, none scrolled off
        assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= size[0]
    titles = {}
    counts = {kind: page.locator(f"section[data-title={kind}] .card").count()
              for kind in ["Events", "Places", "Timeline", "Tags", "Favorites"]}
    for kind, count in counts.items():
        for n in range(count):
            page.goto(f"{out.as_uri()}/index.html")
            page.locator(".tabs a", has_text=kind).click()  # click 1
            card = page.locator(f"section[data-title={kind}] .card a").nth(n)
            title = card.locator(".name").inner_text()
            card.click()  # click 2
            page.wait_for_selector("a.tile img")
            first = page.locator("a.tile").first
            assert first.is_visible() and first.bounding_box()["y"] < size[1]  # photos on the first screen
            assert page.locator("h1").inner_text() == title
            titles[(kind, n)] = title
            if n == 0 and kind == "Places" and size[0] == 390:
                screenshot(page, "gallery-phone-album.png")
    assert len(titles) == 3 + 3 + 5 + 3 + 1
    page.goto(f"{out.as_uri()}/index.html")
    page.fill("#find", "lisb")  # or type a few letters
    visible = page.locator(".card:not(.hidden) .name").all_inner_texts()
    assert visible and all("lisb" in v.lower() for v in visible)
    if size[0] == 390:
        page.fill("#find", "")
        screenshot(page, "gallery-phone-index.png")
    tab.clean()


def _first_album(browser, out: Path, kind: str) -> tuple[Tab, object]:
    """The index, the kind's tab, its first card: the album's page."""
    tab = Tab(browser, out.as_uri())
    page = tab.open("index.html")
    page.locator(".tabs a", has_text=kind).click()
    page.locator(f"section[data-title={kind}] .card a").first.click()
    return tab, page


def test_duplicates_page_shows_each_copy_with_the_suggested_keeper(library, browser) -> None:
    root, out = library
    tab, page = _first_album(browser, out, "Duplicates")
    copies = page.locator("article.copy")
    assert copies.count() == 2
    paths = copies.locator("dd.path").all_inner_texts()
    assert sorted(paths) == sorted([str(root / "backup" / "IMG_00.jpg"), str(root / "trip0" / "IMG_00.jpg")])
    size = os.path.getsize(root / "trip0" / "IMG_00.jpg")
    for k in range(2):
        text = copies.nth(k).inner_text()
        assert pages.human_size(size) in text and "640 × 480" in text
    keepers = page.locator("article.copy.keep")
    assert keepers.count() == 1 and "Suggested keeper" in keepers.inner_text()
    assert copies.first.get_attribute("class") == "copy keep"  # shown first
    page.wait_for_function("() => [...document.querySelectorAll('a.tile img')].every(i => i.complete)")
    assert all(w > 0 for w in _loaded_images(page, "a.tile img"))
    screenshot(page, "gallery-duplicates.png")
    tab.clean()


def test_similar_page_is_in_time_order(library, browser) -> None:
    _, out = library
    tab, page = _first_album(browser, out, "Similar")
    dates = [info.split(" · ")[0] for info in page.eval_on_selector_all("a.tile", "els => els.map(e => e.dataset.info)")]
    assert len(dates) >= 2 and dates == sorted(dates)
    tab.clean()


def test_hostile_names_are_text_on_every_page(library, browser) -> None:
    _, out = library
    tab = Tab(browser, out.as_uri())
    page = tab.open("index.html")
    page.fill("#find", "alert")
    shown = page.locator(".card:not(.hidden) .name").all_inner_texts()
    assert any("alert(2)" in s for s in shown) and any("onerror=alert(1)" in s for s in shown)
    assert page.locator("img[src=x]").count() == 0
    page.fill("#find", "jerry")
    assert page.locator(".card:not(.hidden) .name").all_inner_texts() == [HOSTILE_TAG]  # a keyword is text too
    for path in sorted((out / "map" / "pages").glob("*.html")):
        page.goto(path.as_uri())
        assert page.locator("img[src=x], script:not([src])").count() == 0
        for n in range(page.locator("a.tile").count()):
            page.locator("a.tile").nth(n).click()
            page.keyboard.press("Escape")
    tab.clean()
    tab, page = _first_album(browser, out, "Similar")
    page.locator("a.tile", has=page.locator(f'img[alt="{HOSTILE}"]')).click()
    assert page.locator(".lightbox .caption strong").inner_text() == HOSTILE
    page.goto((out / "index.html").as_uri())
    page.locator(".tabs a", has_text="Events").click()
    town = page.locator("section:not(.hidden) .card .name", has_text="alert(2)").inner_text()
    assert "${alert(2)}" in town and "`" in town and "\u202e" not in town  # as text; folder names drop bidi controls
    tab.clean()


def _webm(path: Path, frames: int = 24) -> None:
    """A real one-second VP8 video (PyAV)."""
    import av

    with av.open(str(path), "w") as box:
        stream = box.add_stream("libvpx", rate=24)
        stream.width, stream.height, stream.pix_fmt = 160, 120, "yuv420p"
        for i in range(frames):
            frame = av.VideoFrame.from_ndarray(np.full((120, 160, 3), i * 10, dtype=np.uint8), format="rgb24")
            for packet in stream.encode(frame):
                box.mux(packet)
        for packet in stream.encode():
            box.mux(packet)


def test_a_video_plays_in_the_lightbox(tmp_path: Path, browser) -> None:
    """No video is catalogued yet; the renderer is given one, as publish will once there are."""
    out = tmp_path / "Albums"
    (out / "Events" / "Clip").mkdir(parents=True)
    _webm(tmp_path / "clip.webm")
    os.symlink("../../../clip.webm", out / "Events" / "Clip" / "clip.webm")
    album = Album("event", "Events/Clip", "Clip", (Item("Events/Clip/clip.webm", str(tmp_path / "clip.webm"),
                                                        video=True),))
    (out / "map" / "pages").mkdir(parents=True)
    (out / "map" / "pages" / "v.html").write_text(pages.album_pages(album, "v")[0])
    copy_assets(out / "map")
    tab = Tab(browser, out.as_uri())
    page = tab.open("map/pages/v.html")
    assert page.locator("a.tile .badge").inner_text() == "▶"
    page.locator("a.tile").click()
    page.wait_for_function("() => { var v = document.querySelector('.lightbox video'); return v && v.readyState >= 1; }")
    assert page.evaluate("document.querySelector('.lightbox video').duration") == pytest.approx(1.0, abs=0.1)
    page.evaluate("() => { document.querySelector('.lightbox video').muted = true; document.querySelector('.lightbox video').play(); }")
    page.wait_for_function("() => document.querySelector('.lightbox video').currentTime > 0.2")
    tab.clean()


def _touch_swipe(page, start: tuple[int, int], end: tuple[int, int]) -> None:
    """A finger's swipe, as a phone's touch screen sends it (touch events through DevTools)."""
    cdp = page.context.new_cdp_session(page)
    steps = [start] + [(start[0] + (end[0] - start[0]) * k // 6, start[1] + (end[1] - start[1]) * k // 6)
                       for k in range(1, 7)]
    cdp.send("Input.dispatchTouchEvent", {"type": "touchStart", "touchPoints": [{"x": start[0], "y": start[1]}]})
    for x, y in steps[1:]:
        cdp.send("Input.dispatchTouchEvent", {"type": "touchMove", "touchPoints": [{"x": x, "y": y}]})
    cdp.send("Input.dispatchTouchEvent", {"type": "touchEnd", "touchPoints": []})
    cdp.detach()


def test_a_finger_swipes_through_the_lightbox_on_a_phone(library, browser) -> None:
    _, out = library
    context = browser.new_context(viewport={"width": 390, "height": 844}, has_touch=True, is_mobile=True)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto((out / "index.html").as_uri())
    page.locator(".tabs a", has_text="Events").tap()
    page.locator("section:not(.hidden) .card a", has_text="2020-02-10").tap()
    page.locator("a.tile").first.tap()
    caption = page.locator(".lightbox .caption strong")
    assert caption.inner_text() == "IMG_10.jpg"
    _touch_swipe(page, (330, 420), (60, 430))  # to the left: the next
    page.wait_for_function("() => document.querySelector('.lightbox .caption strong').textContent === 'IMG_11.jpg'")
    _touch_swipe(page, (330, 420), (60, 430))
    page.wait_for_function("() => document.querySelector('.lightbox .caption strong').textContent === 'IMG_12.jpg'")
    _touch_swipe(page, (60, 420), (330, 425))  # to the right: back
    page.wait_for_function("() => document.querySelector('.lightbox .caption strong').textContent === 'IMG_11.jpg'")
    _touch_swipe(page, (200, 300), (205, 700))  # up and down is no swipe
    page.wait_for_timeout(300)
    assert caption.inner_text() == "IMG_11.jpg"
    screenshot(page, "gallery-phone-lightbox.png")
    context.close()
    assert errors == []
