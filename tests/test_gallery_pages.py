"""The gallery's files without a browser: pages regenerate only for albums that changed, hostile
strings stay text in the HTML, large albums are paged, covers are representative."""

from __future__ import annotations

import json
import os
from datetime import datetime, timedelta
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest

from conftest import Cli, gps_ifd, make_jpeg
from organizer import config, publish, regroup
from organizer.catalog import Catalog
from organizer.catalog import shown as catalog_shown
from organizer.publish import pages, site, thumbs, web
from organizer.publish.gallery import Album, Card, Item

ROME = (41.9028, 12.4964)
OSLO = (59.9139, 10.7522)


@pytest.fixture(autouse=True)
def no_vectors(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ORGANIZER_VECTORS_ENABLED", "false")


def _library(root: Path) -> None:
    for i in range(3):
        make_jpeg(root / "rome" / f"R{i}.jpg", original=f"2022:05:01 1{i}:00:00", gps=gps_ifd(ROME[0], ROME[1] + i * 1e-4),
                  seed=i)
        make_jpeg(root / "oslo" / f"O{i}.jpg", original=f"2023:08:01 1{i}:00:00", gps=gps_ifd(OSLO[0], OSLO[1] + i * 1e-4),
                  seed=10 + i)


def _pages(out: Path) -> dict[str, tuple[int, int]]:
    """Page file -> (inode, mtime_ns): a file written again (renamed over) has a new inode."""
    return {p.name: (p.stat().st_ino, p.stat().st_mtime_ns) for p in (out / "map" / "pages").glob("*.html")}


def _album_of_page(out: Path) -> dict[str, str]:
    data = json.loads((out / "map" / "pages" / "manifest.json").read_text())
    return {entry["card"]["page"]: path for path, entry in data["albums"].items()}


def test_pages_regenerate_only_for_the_albums_a_quick_update_wrote(tmp_path: Path, run: Cli) -> None:
    root, out = tmp_path / "Pictures", tmp_path / "Albums"
    _library(root)
    run("organize", str(root), "--output", str(out))
    before = _pages(out)
    index_before = (out / "index.html").stat().st_ino
    rerun = run.json("publish", "--output", str(out))
    assert rerun["pages_written"] == 0 and _pages(out) == before  # nothing changed: no page written
    assert (out / "index.html").stat().st_ino == index_before

    make_jpeg(root / "rome" / "R9.jpg", original="2022:05:01 15:00:00", gps=gps_ifd(*ROME), seed=9)
    run("scan", str(root))
    cfg = config.load(env=dict(os.environ), overrides={"catalog.path": (str(run.catalog), "test")})
    with Catalog(run.catalog) as catalog:
        new = catalog.files.get(str(root / "rome" / "R9.jpg")).photo_id
        assert regroup.join_groups(catalog, cfg, [new]) == 2  # Rome's event and place
        report = publish.publish(catalog, cfg, output=str(out), with_map=False, verify=False)  # the daemon's
    after = _pages(out)
    albums = _album_of_page(out)
    rewritten = {albums[name] for name in after if before.get(name) != after[name]}
    assert rewritten and all("Oslo" not in a and "2023" not in a for a in rewritten)
    assert {a.split("/")[0] for a in rewritten} == {"Events", "Places", "Timeline"}  # Rome's, and May 2022
    untouched = {albums[name] for name in after if before.get(name) == after[name]}
    assert any("Oslo" in a for a in untouched) and "Timeline/2023/08" in untouched
    assert report.pages_written == len(rewritten)
    for name in after:  # every page lists what its album folder holds
        folder = out / albums[name]
        html = (out / "map" / "pages" / name).read_text()
        assert html.count('class="tile"') == len([f for f in os.listdir(folder) if os.path.islink(folder / f)])
    assert "4 photos" in (out / "index.html").read_text()  # Rome's cards, counted again
    assert set(after) <= {f"{web.page_id(a)}.html" for a in albums.values()}  # no page of a gone album
    thumbs_dir = out / "map" / "thumbs"
    assert len(list(thumbs_dir.glob("*/*.jpg"))) == 7  # the new photo's thumbnail came with its pages


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data: str) -> None:
        self.text.append(data)


NASTY = ["<script>alert(1)</script>", "\"'><img src=x onerror=alert(1)>", "`${alert(1)}`", "a\u202eb\u2066c",
         "x#y?z%41.jpg", "caf\udce9.jpg", "\u2028line"]


def test_hostile_strings_are_text_in_every_attribute_and_element() -> None:
    when = datetime(2020, 1, 1, 12)
    for nasty in NASTY:
        items = tuple(Item(f"Events/{nasty}/{nasty}.jpg", f"/photos/{nasty}.jpg", "ab/abcd.jpg", when, 1234, 64, 48,
                           companions=(f"Events/{nasty}/{nasty}.xmp",)) for _ in range(2))
        album = Album("event", f"Events/{nasty}", nasty, items, 0, when, when)
        dup = Album("duplicate", f"Duplicates/{nasty}", nasty, items, 0, when, when)
        card = Card.of(album, "p.html")
        for html in [*pages.album_pages(album, "p"), *pages.album_pages(dup, "q"), pages.index_page([card])]:
            html.encode("utf-8")  # writable, whatever the path's bytes
            parsed = _Tags()
            parsed.feed(html)
            scripts = [a for t, a in parsed.tags if t == "script"]
            assert scripts and all(a.get("src", "").endswith("gallery/gallery.js") for a in scripts)
            assert not any(k.startswith("on") for _, a in parsed.tags for k in a)
            assert not any(t == "img" and a.get("src") == "x" for t, a in parsed.tags)
            shown = catalog_shown(nasty)
            assert shown in "".join(parsed.text) or any(shown in v for _, a in parsed.tags for v in a.values() if v)
            for _, a in parsed.tags:
                if "href" in a and a["href"].startswith("../../Events/"):
                    assert "#" not in a["href"] and "?" not in a["href"]  # percent-encoded, the exact bytes
    assert web.href("Events/caf\udce9/x#1.jpg") == "Events/caf%E9/x%231.jpg"
    assert "\u2028" not in web.script_json(["\u2028</script>"]) and "</" not in web.script_json(["</script>"])


def test_a_large_album_is_paged() -> None:
    start = datetime(2020, 1, 1)
    items = tuple(Item(f"Timeline/2020/01/IMG_{i}.jpg", f"/p/IMG_{i}.jpg", None, start + timedelta(minutes=i))
                  for i in range(pages.PAGE_SIZE * 2 + 5))
    album = Album("timeline", "Timeline/2020/01", "January", items, 0, items[0].taken, items[-1].taken)
    html = pages.album_pages(album, "abc")
    assert len(html) == 3 and pages.page_names("abc", 3) == ["abc.html", "abc-2.html", "abc-3.html"]
    assert [h.count('class="tile"') for h in html] == [pages.PAGE_SIZE, pages.PAGE_SIZE, 5]
    assert 'href="abc-2.html"' in html[0] and 'href="abc.html"' in html[2]
    assert 'data-n="0"' in html[0] and f'data-n="{pages.PAGE_SIZE * 2}"' in html[2]


def test_the_cover_of_a_visual_group_is_nearest_its_centre() -> None:
    rng = np.random.default_rng(0)
    centre = rng.normal(size=64)
    rows = np.stack([centre + rng.normal(scale=s, size=64) for s in (2.0, 0.1, 1.5, 3.0)])
    assert site.representative(rows) == 1
    a, b = np.eye(8)[0], np.eye(8)[1]
    assert site.representative(np.stack([a, b, a + b, 3 * a])) == 2  # between the two: the centre


def test_thumbnails_sync_adds_prunes_and_drops_the_flat_files_of_before(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    cache.mkdir()
    for name in ("a1", "b2"):
        (cache / f"{name}.jpg").write_bytes(b"jpeg " + name.encode())
    folder = tmp_path / "thumbs"
    folder.mkdir()
    (folder / "old.jpg").write_bytes(b"from an earlier version")
    wanted = {thumbs.name("a1" * 16): str(cache / "a1.jpg"), thumbs.name("b2" * 16): str(cache / "b2.jpg")}
    assert thumbs.sync(folder, wanted) == 2
    assert sorted(str(p.relative_to(folder)) for p in folder.rglob("*.jpg")) == sorted(wanted)
    assert thumbs.sync(folder, {k: v for k, v in wanted.items() if k.startswith("a1")}, prune=False) == 0
    assert len(list(folder.rglob("*.jpg"))) == 2  # a quick update adds only
    assert thumbs.sync(folder, {thumbs.name("c3" * 16): str(cache / "missing.jpg")}) == 0  # a warning, no crash
    assert list(folder.rglob("*.jpg")) == []


def test_an_album_collects_its_photos_companions_keeper_and_cover(tmp_path: Path) -> None:
    """From publish's plan to the gallery's album: a RAW's, a sidecar's and a Live Photo's
    companion links go with their photo, a duplicates album keeps publish's keeper order, a month
    is named, a video is one."""
    from organizer.catalog import FileRow
    from organizer.publish.plan import Album as Planned
    from organizer.publish.plan import Photo

    cfg = config.load(env={"ORGANIZER_VECTORS_ENABLED": "false"})
    day = datetime(2021, 6, 1, 10)
    photos = {i: Photo(f"{i:032x}", day + timedelta(hours=i), None, None, None, 4000, 3000, "jpeg",
                       [FileRow(i, f"/p/IMG_{i}.jpg", 1000 + i, 0)]) for i in range(5)}
    photos[5] = Photo(f"{5:032x}", day, None, None, None, 4000, 3000, "jpeg", [FileRow(5, "/backup/IMG_0.jpg", 1000, 0)])
    photos[1].companions = ["/p/IMG_1.CR2", "/p/IMG_1.jpg.xmp"]
    photos[3].companions = ["/p/IMG_3.MOV"]
    photos[4].kind = "video"
    lib = site._Library(None, cfg, photos)  # type: ignore[arg-type]  # no vectors: the catalog is not asked
    month = Planned("timeline", None, list(range(5)),
                    [f"/p/IMG_{i}.jpg" for i in range(5)] + ["/p/IMG_1.CR2", "/p/IMG_1.jpg.xmp", "/p/IMG_3.MOV",
                                                             "/p/lonely.txt"])
    album = site.collect("Timeline/2021/06", month, lib)
    assert album.name == "June" and album.count == 6  # five photos and the file that belongs to none
    assert [os.path.basename(i.path) for i in album.items[:5]] == [f"IMG_{i}.jpg" for i in range(5)]  # in time
    assert album.items[1].companions == ("Timeline/2021/06/IMG_1.CR2", "Timeline/2021/06/IMG_1.jpg.xmp")
    assert album.items[3].companions == ("Timeline/2021/06/IMG_3.MOV",)
    assert album.items[5].path == "/p/lonely.txt" and album.items[5].taken is None
    assert [i.video for i in album.items] == [False] * 4 + [True, False]
    assert album.cover == 3 and album.start == day and album.end == day + timedelta(hours=4)
    dup = Planned("duplicate", "k", [0, 5], ["/backup/IMG_0.jpg", "/p/IMG_0.jpg"])  # publish's order: keep first
    copies = site.collect("Duplicates/IMG_0", dup, lib).items
    assert [(c.path, c.keeper, c.size) for c in copies] == [("/backup/IMG_0.jpg", True, 1000),
                                                            ("/p/IMG_0.jpg", False, 1000)]


def test_template_syntax_in_names_is_data_on_the_map(tmp_path: Path, run: Cli) -> None:
    """folium's templates never see a user's string: a name in Jinja's syntax neither runs as
    Python nor breaks the publish, and reaches the map's data as it is."""
    root, out = tmp_path / "Pictures", tmp_path / "Albums"
    names = ["{{ lipsum.__globals__.os.environ.__setitem__('ORGANIZER_RAN', 'yes') }}.jpg", "{% if %}.jpg", "{# open.jpg",
             "{{ 7*7 }}.jpg", "}}{%.jpg"]
    for i, name in enumerate(names):
        make_jpeg(root / name, original=f"2022:05:0{i + 1} 10:00:00", gps=gps_ifd(ROME[0], ROME[1] + i * 1e-3), seed=i)
    keyword = "{{ config.__class__ }}"
    (root / "{{ 7*7 }}.xmp").write_text(
        '<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" '
        'xmlns:dc="http://purl.org/dc/elements/1.1/"><rdf:Description><dc:subject><rdf:Bag>'
        f'<rdf:li>{keyword}</rdf:li></rdf:Bag></dc:subject></rdf:Description></rdf:RDF></x:xmpmeta>')
    run("organize", str(root), "--output", str(out))  # in this process: what a template ran is seen here
    assert "ORGANIZER_RAN" not in os.environ
    html = (out / "map.html").read_text()
    assert sorted(r[4] for r in _map_data(html)["photos"]) == sorted(names)  # "{{ 7*7 }}" is not "49"
    assert (out / "Tags" / keyword).is_dir()


def _map_data(html: str) -> dict:
    start = html.index('id="organizer-data">') + len('id="organizer-data">')
    return json.loads(html[start:html.index("</script>", start)])
