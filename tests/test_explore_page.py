"""The explore report in a real headless Chromium, from disk, with every request off the machine
refused: the plots show, the slider changes the groups shown, hovering the map shows a photo, and
a hostile file name is text."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from conftest import Cli
from browsing import CHROMIUM, CHROMIUM_ARGS, HOSTILE, OUT

pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="Chromium is not installed (apt-get install chromium)")


def test_report_works_offline_and_its_slider_regroups(tmp_path: Path, run: Cli) -> None:
    from playwright.sync_api import sync_playwright

    env = {"XDG_CACHE_HOME": str(tmp_path / "cache"), "ORGANIZER_SIMILAR_FEATURES": '["cnn", "hog"]'}
    root = tmp_path / "Pictures"
    run("demo", str(root))
    shutil.copy(root / "2008" / "Arezzo" / "IMG_000.jpg", root / "2008" / "Arezzo" / HOSTILE)
    run.json("organize", str(root), "--output", str(tmp_path / "Albums"), env=env)
    report = tmp_path / "report.html"
    made = run.json("explore", "--output", str(report), "--compare", "features=hog,method=chain,sim=0.85", env=env)
    assert made["photos"] == 36 and made["groups"] >= 1  # the copy is the same photo
    html = report.read_text()
    assert HOSTILE not in html  # only inside JSON, escaped

    asked: list[str] = []
    errors: list[str] = []
    dialogs: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1280, "height": 900})

        def route(r) -> None:  # noqa: ANN001
            asked.append(r.request.url)
            r.continue_() if r.request.url.startswith(("file:", "data:")) else r.abort()

        page.route("**/*", route)
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
        page.goto(report.as_uri())
        plots = page.locator("img.plot")
        assert plots.count() >= 7  # curve, k-means, dendrogram, maps (3), months
        assert all(page.evaluate("(i) => document.querySelectorAll('img.plot')[i].naturalWidth", i) > 0
                   for i in range(plots.count()))
        assert "sim = 0.80" in page.locator("#config-line").inner_text()
        before = (page.locator("#slider-count").inner_text(), page.locator("#slider-groups .group").count())
        OUT.mkdir(exist_ok=True)
        page.screenshot(path=str(OUT / "explore-threshold.png"))
        page.locator("#slider").fill("0.99")
        after = (page.locator("#slider-count").inner_text(), page.locator("#slider-groups .group").count())
        assert after != before and "sim = 0.99" in page.locator("#config-line").inner_text()
        page.locator("#slider").fill(page.locator("#slider").get_attribute("min"))
        lowest = page.locator("#slider-groups .group").count()
        assert lowest >= 1 and page.locator("#slider-count").inner_text() != after[0]
        page.screenshot(path=str(OUT / "explore-threshold-low.png"))
        spot = page.locator('.map[data-map="first"] .spot').first
        spot.scroll_into_view_if_needed()
        spot.hover()
        hover = page.locator("#hover")
        assert hover.is_visible() and page.evaluate("document.querySelector('#hover img').naturalWidth") > 0
        page.screenshot(path=str(OUT / "explore-map.png"))
        titles = page.evaluate("Array.from(document.querySelectorAll('.group .title')).map(e => e.textContent)")
        names = page.evaluate("Array.from(document.querySelectorAll('.group img')).map(e => e.title)")
        assert HOSTILE in names or any(HOSTILE in t for t in titles)
        page.locator(".side").scroll_into_view_if_needed()
        page.screenshot(path=str(OUT / "explore-compare.png"))
        page.screenshot(path=str(OUT / "explore-full.png"), full_page=True)
        browser.close()
    assert errors == [] and dialogs == []
    assert [u for u in asked if not u.startswith(("file:", "data:"))] == []
