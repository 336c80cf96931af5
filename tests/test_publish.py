"""Publishing on real folders: album names, relative links, reruns, safety rules, place names."""

from __future__ import annotations

import fcntl
import json
import os
import subprocess
import threading
import time
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import pytest

from organizer import config
from organizer.catalog import Catalog
from organizer.geocode import Geocoder, offline
from organizer.publish import naming
from organizer.publish.albums import LOCK, MARKER, OLD_PREFIX, TMP_PREFIX, AlbumTree

from conftest import ROOT, Cli, gps_ifd, make_jpeg, organizer_subprocess

AREZZO = (43.4674483, 11.8851267)
LISBON = (38.7223, -9.1393)


@pytest.fixture(autouse=True)
def no_vectors(monkeypatch: pytest.MonkeyPatch) -> None:
    """Generated blobs all look alike to a CNN; Similar/ albums are tested on the real corpora."""
    monkeypatch.setenv("ORGANIZER_VECTORS_ENABLED", "false")


def library(tmp_path: Path) -> Path:
    root = tmp_path / "Pictures"
    for i in range(3):
        make_jpeg(root / "italy" / f"DSCN00{10 + i}.jpg", original=f"2008:10:22 16:{28 + i}:39",
                  gps=gps_ifd(AREZZO[0], AREZZO[1] + i * 1e-4), seed=i, size=(96, 64))
    for day, stamp in enumerate(["2024:07:12 22:00:00", "2024:07:13 01:00:00", "2024:07:13 04:30:00"]):
        make_jpeg(root / "lisbon" / f"IMG_{day}.jpg", original=stamp,  # an event across midnight
                  gps=gps_ifd(LISBON[0] + day * 1e-4, LISBON[1]), seed=10 + day, size=(96, 64))
    make_jpeg(root / "scans" / "scan.jpg", seed=20, mtime=1e9)  # no date: Timeline/Undated
    # the same file name in two folders of one event
    make_jpeg(root / "italy" / "b" / "DSCN0010.jpg", original="2008:10:22 16:40:00",
              gps=gps_ifd(AREZZO[0], AREZZO[1]), seed=30, size=(96, 64))
    return root


def tree(out: Path) -> dict[str, str]:
    """Every symlink in the output: relative path -> link text."""
    found = {}
    for dirpath, _, files in os.walk(out):
        for f in files:
            p = Path(dirpath) / f
            if p.is_symlink():
                found[str(p.relative_to(out))] = os.readlink(p)
    return found


def test_organize_builds_the_tree_and_reruns_change_nothing(tmp_path: Path, run: Cli) -> None:
    root, out = library(tmp_path), tmp_path / "Albums"
    report = run.json("organize", str(root), "--output", str(out))
    assert report["scan"]["indexed"] == 8
    links = tree(out)
    arezzo = "Events/2008-10-22 Arezzo"
    assert {k for k in links if k.startswith(arezzo)} == {
        f"{arezzo}/DSCN0010.jpg", f"{arezzo}/DSCN0010 (2).jpg", f"{arezzo}/DSCN0011.jpg", f"{arezzo}/DSCN0012.jpg"}
    assert any(k.startswith("Events/2024-07-12 - 2024-07-13 Lisbon/") for k in links)
    assert any(k.startswith("Places/Italy/Arezzo/") for k in links)
    assert any(k.startswith("Places/Portugal/Lisbon/") for k in links)
    assert "Timeline/Undated/scan.jpg" in links and "Timeline/2008/10/DSCN0011.jpg" in links
    for rel, text in links.items():  # relative links that resolve to the originals
        assert not os.path.isabs(text)
        target = (out / rel).resolve()
        assert target.is_file() and root in target.parents
    assert (out / "map.html").is_file() and (out / MARKER).is_file()

    again = run.json("publish", "--output", str(out))
    assert again["written"] == 0 and again["removed"] == 0 and again["unchanged"] > 5
    assert tree(out) == links

    info = run.json("explain", str(root / "italy" / "DSCN0011.jpg"))
    assert sorted(info["albums"]) == sorted([str(out / arezzo), str(out / "Places/Italy/Arezzo"),
                                             str(out / "Timeline/2008/10")])


def test_renamed_photo_moves_its_link_and_removed_photo_leaves(tmp_path: Path, run: Cli) -> None:
    root, out = library(tmp_path), tmp_path / "Albums"
    run.json("organize", str(root), "--output", str(out))
    old = root / "italy" / "DSCN0011.jpg"
    old.rename(root / "italy" / "Duomo.jpg")
    (root / "lisbon" / "IMG_2.jpg").unlink()
    report = run.json("organize", str(root), "--output", str(out))
    assert report["scan"]["moved"] == 1 and report["scan"]["indexed"] == 0
    links = tree(out)
    assert "Events/2008-10-22 Arezzo/Duomo.jpg" in links
    assert not any(k.endswith("/DSCN0011.jpg") for k in links)
    # Lisbon keeps 2 photos: too few for an event or a place, so its albums go
    assert not any("Lisbon" in k for k in links)
    assert not (out / "Places" / "Portugal").exists()  # empty parents are pruned
    for rel in links:
        assert (out / rel).resolve().is_file()


def test_quick_update_writes_only_changed_albums_and_equals_a_full_one(tmp_path: Path, run: Cli) -> None:
    """The daemon's quick path (verify=False) trusts the catalog's record of each album's links."""
    from organizer import publish

    root, out = library(tmp_path), tmp_path / "Albums"
    run.json("organize", str(root), "--output", str(out))
    cfg = config.load(env={"ORGANIZER_VECTORS_ENABLED": "false"},
                      overrides={"catalog.path": (str(run.catalog), "test")})
    with Catalog(run.catalog) as catalog:
        report = publish.publish(catalog, cfg, str(out), with_map=False, verify=False)
        assert (report.written, report.removed) == (0, 0)
    # one photo renamed: only the albums holding it are written
    (root / "italy" / "DSCN0012.jpg").rename(root / "italy" / "Tower.jpg")
    run.json("scan", str(root))
    with Catalog(run.catalog) as catalog:
        report = publish.publish(catalog, cfg, str(out), with_map=False, verify=False)
    assert report.written == 3  # its event, its place and its month
    quick = tree(out)
    assert "Events/2008-10-22 Arezzo/Tower.jpg" in quick and "Timeline/2008/10/Tower.jpg" in quick
    # a link a user deleted by hand is not seen by the quick path; the full one mends it
    os.unlink(out / "Timeline/2008/10/Tower.jpg")
    with Catalog(run.catalog) as catalog:
        assert publish.publish(catalog, cfg, str(out), with_map=False, verify=False).written == 0
        assert publish.publish(catalog, cfg, str(out), with_map=False).written == 1
    assert tree(out) == quick
    # the whole output gone (marker and all): the quick path writes everything again
    import shutil

    shutil.rmtree(out)
    with Catalog(run.catalog) as catalog:
        publish.publish(catalog, cfg, str(out), with_map=False, verify=False)
    assert tree(out) == quick
    info = run.json("explain", str(root / "italy" / "Tower.jpg"))
    assert str(out / "Timeline/2008/10") in info["albums"]
    # a file rewritten in place is a new photo at the same path: same links, but the catalog's
    # record of the album must name the new photo
    make_jpeg(root / "scans" / "scan.jpg", seed=21, mtime=1e9)
    run.json("scan", str(root))
    with Catalog(run.catalog) as catalog:
        publish.publish(catalog, cfg, str(out), with_map=False, verify=False)
    assert run.json("explain", str(root / "scans" / "scan.jpg"))["albums"] == [str(out / "Timeline/Undated")]


def test_foreign_files_are_never_removed(tmp_path: Path, run: Cli) -> None:
    root, out = library(tmp_path), tmp_path / "Albums"
    run.json("organize", str(root), "--output", str(out))
    album = out / "Events" / "2008-10-22 Arezzo"
    note = album / "notes.txt"
    note.write_text("mine")
    (out / "README.txt").write_text("also mine")
    for f in (root / "italy").rglob("*.jpg"):
        f.unlink()  # the whole event goes away
    report = run.json("organize", str(root), "--output", str(out))
    assert note.read_text() == "mine" and (out / "README.txt").read_text() == "also mine"
    assert "Events/2008-10-22 Arezzo" in report["publish"]["kept_foreign"]
    assert [p.name for p in album.iterdir()] == ["notes.txt"]  # its links are gone, the file stays


def test_a_few_new_links_in_a_large_album_are_added_in_place_and_a_new_album_is_swapped_in(tmp_path: Path) -> None:
    photos = tmp_path / "Pictures"
    photos.mkdir()
    targets = [str(photos / f"IMG_{i:04d}.jpg") for i in range(60)]

    def links(paths: list[str]) -> dict[str, str]:
        return {os.path.basename(t): t for t in paths}

    with AlbumTree(tmp_path / "Albums") as tree_:
        tree_.apply({"Timeline/Undated": links(targets[:50])})
        album = tmp_path / "Albums" / "Timeline" / "Undated"
        folder, first = album.stat().st_ino, (album / "IMG_0000.jpg").lstat().st_ino
        # three more photos (within a tenth): the folder and its other links stay, the new ones join
        report = tree_.apply({"Timeline/Undated": links(targets[:53])})
        assert report.written == 1
        assert album.stat().st_ino == folder and (album / "IMG_0000.jpg").lstat().st_ino == first
        assert {p.name: os.readlink(p) for p in album.iterdir()} == {
            os.path.basename(t): os.path.relpath(t, album) for t in targets[:53]}
        # mostly other photos: built beside it and swapped in whole
        tree_.apply({"Timeline/Undated": links(targets[:3] + targets[53:])})
        assert album.stat().st_ino != folder
        assert sorted(p.name for p in album.iterdir()) == [os.path.basename(t) for t in targets[:3] + targets[53:]]
        assert not [p for p in album.parent.iterdir() if p.name.startswith((TMP_PREFIX, OLD_PREFIX))]


def test_a_users_file_where_a_link_would_go_is_kept(tmp_path: Path) -> None:
    photos = tmp_path / "Pictures"
    with AlbumTree(tmp_path / "Albums") as tree_:
        tree_.apply({"Events/Trip": {"a.jpg": str(photos / "a.jpg")}})
        album = tmp_path / "Albums" / "Events" / "Trip"
        (album / "b.jpg").write_text("the user's own file")
        report = tree_.apply({"Events/Trip": {"a.jpg": str(photos / "a.jpg"), "b.jpg": str(photos / "b.jpg"),
                                              "c.jpg": str(photos / "c.jpg")}})
    assert (album / "b.jpg").read_text() == "the user's own file" and not (album / "b.jpg").is_symlink()
    assert (album / "c.jpg").is_symlink() and report.kept_foreign == ["Events/Trip"]


def test_one_organizer_at_a_time_writes_into_an_output(tmp_path: Path, run: Cli) -> None:
    """A one-shot publish while another organizer (the daemon) writes albums waits for it."""
    root, out = library(tmp_path), tmp_path / "Albums"
    run.json("organize", str(root), "--output", str(out))
    make_jpeg(root / "italy" / "DSCN0099.jpg", original="2008:10:22 16:50:00",
              gps=gps_ifd(AREZZO[0], AREZZO[1]), seed=99, size=(96, 64))
    run.json("scan", str(root))
    run.json("cluster")
    env = {**os.environ, "PYTHONPATH": str(ROOT), "ORGANIZER_VECTORS_ENABLED": "false"}
    with open(out / LOCK, "a") as held:
        fcntl.flock(held, fcntl.LOCK_EX)  # as another organizer publishing holds it
        proc = organizer_subprocess("-v", "--catalog", str(run.catalog), "publish", "--output", str(out), env=env,
                                    stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        time.sleep(3)
        assert proc.poll() is None  # waiting
        assert not (out / "Events" / "2008-10-22 Arezzo" / "DSCN0099.jpg").exists()
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 0 and "another organizer is writing albums here; waiting for it" in err
    assert (out / "Events" / "2008-10-22 Arezzo" / "DSCN0099.jpg").is_symlink()


def test_publishes_at_the_same_time_leave_one_tree(tmp_path: Path, run: Cli) -> None:
    root, out = library(tmp_path), tmp_path / "Albums"
    run.json("organize", str(root), "--output", str(out))
    env = {**os.environ, "PYTHONPATH": str(ROOT), "ORGANIZER_VECTORS_ENABLED": "false"}
    for r in range(3):
        for i in range(12):  # a new event each round: new albums and a changed timeline
            make_jpeg(root / f"r{r}" / f"A{i}.jpg", original=f"2020:01:{1 + r:02d} 10:{i:02d}:00", seed=100 * r + i,
                      size=(64, 48))
        run.json("scan", str(root))
        run.json("cluster")
        procs = [organizer_subprocess("--catalog", str(run.catalog), "publish", "--output", str(out), env=env,
                                      stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True) for _ in range(3)]
        for proc in procs:
            _, err = proc.communicate(timeout=120)
            assert proc.returncode == 0, err
    again = run.json("publish", "--output", str(out))
    assert again["written"] == again["removed"] == 0
    assert not [p for p in out.rglob(".organizer-*") if p.name not in (MARKER, LOCK)]


def test_unmanaged_output_is_refused_before_any_work(tmp_path: Path, run: Cli) -> None:
    root, out = library(tmp_path), tmp_path / "Documents"
    out.mkdir()
    (out / "taxes.pdf").write_text("important")
    result = run("organize", str(root), "--output", str(out), code=1)
    assert "refusing to write into a non-empty folder" in result.stderr
    assert sorted(p.name for p in out.iterdir()) == ["taxes.pdf"]
    assert not (tmp_path / "catalog.db").exists() or run.json("status")["files"] == 0


def test_leftovers_of_an_interrupted_swap_are_cleaned(tmp_path: Path, run: Cli) -> None:
    root, out = library(tmp_path), tmp_path / "Albums"
    run.json("organize", str(root), "--output", str(out))
    events = out / "Events"
    for prefix in (TMP_PREFIX, OLD_PREFIX):
        half = events / (prefix + "2008-10-22 Arezzo")
        half.mkdir()
        os.symlink("../../Pictures/italy/DSCN0010.jpg", half / "DSCN0010.jpg")
    run.json("publish", "--output", str(out))
    assert sorted(p.name for p in events.iterdir()) == ["2008-10-22 Arezzo", "2024-07-12 - 2024-07-13 Lisbon"]


def test_offline_root_leaves_its_albums(tmp_path: Path, run: Cli) -> None:
    root, out = library(tmp_path), tmp_path / "Albums"
    run.json("organize", str(root), "--output", str(out))
    before = tree(out)
    root.rename(tmp_path / "unplugged")
    report = run.json("organize", str(root), "--output", str(out))
    assert report["scan"]["offline"] == {str(root): "absent"}
    assert tree(out) == before and report["publish"]["written"] == 0


def test_names_are_safe_and_stable() -> None:
    assert naming.safe('a/b\\c:d*e?f"g<h>i|j\x01k') == "a b c d e f g h i j k"
    assert naming.safe("  trailing dots... ") == "trailing dots"
    assert naming.safe("CON") == "_CON" and naming.safe("") == "Unnamed"
    long = naming.safe("é" * 300)
    assert len(long.encode()) <= naming.MAX_NAME_BYTES and long == "é" * 90
    assert naming.event_title(datetime(2024, 7, 12, 9), datetime(2024, 7, 19, 20), "Lisbon") == \
        "2024-07-12 - 2024-07-19 Lisbon"
    assert naming.event_title(datetime(2008, 10, 22, 16), datetime(2008, 10, 22, 17), None) == "2008-10-22"
    names = naming.numbered([("k2", "2020-01-01 Paris"), ("k1", "2020-01-01 Paris"), ("k3", "Rome")])
    assert names == {"k1": "2020-01-01 Paris", "k2": "2020-01-01 Paris 2", "k3": "Rome"}  # never a count
    links = naming.link_names(["/b/IMG_1.jpg", "/a/IMG_1.jpg", "/a/img_1.JPG", "/c/<x>.jpg"])
    assert links == {"/a/IMG_1.jpg": "IMG_1.jpg", "/a/img_1.JPG": "img_1 (2).JPG",
                     "/b/IMG_1.jpg": "IMG_1 (3).jpg", "/c/<x>.jpg": "x.jpg"}


class _Nominatim(BaseHTTPRequestHandler):
    """Speaks Nominatim's reverse API: /reverse?format=json&lat=..&lon=.."""

    calls: list[dict] = []
    fail = False

    def do_GET(self) -> None:  # noqa: N802
        query = {k: v[0] for k, v in parse_qs(urlparse(self.path).query).items()}
        type(self).calls.append({"path": urlparse(self.path).path, **query,
                                 "agent": self.headers.get("User-Agent")})
        if type(self).fail:
            self.send_response(503)
            self.end_headers()
            return
        body = json.dumps({"lat": query["lat"], "lon": query["lon"], "display_name": "Arezzo, Toscana, Italia",
                           "address": {"town": "Arezzo (online)", "state": "Toscana", "country": "Italia"}})
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(body.encode())

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def nominatim():
    _Nominatim.calls, _Nominatim.fail = [], False
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Nominatim)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def test_offline_place_names() -> None:
    name = offline(*AREZZO)
    assert (name.city, name.region, name.country) == ("Arezzo", "Tuscany", "Italy")


def test_online_names_are_asked_once_and_cached(tmp_path: Path, nominatim: str) -> None:
    cfg = config.load(env={"ORGANIZER_GEOCODE_ONLINE": "true", "ORGANIZER_GEOCODE_DOMAIN": nominatim,
                           "ORGANIZER_GEOCODE_SCHEME": "http", "ORGANIZER_GEOCODE_MIN_INTERVAL_S": "0"})
    with Catalog(tmp_path / "c.db") as catalog:
        geo = Geocoder(cfg.geocode, catalog)
        first = geo.name(*AREZZO)
        assert (first.city, first.country, first.source) == ("Arezzo (online)", "Italia", "nominatim")
        assert geo.name(AREZZO[0] + 1e-4, AREZZO[1]).city == "Arezzo (online)"  # same 1 km cell
        assert Geocoder(cfg.geocode, catalog).name(*AREZZO).source == "nominatim"  # from the catalog
    assert len(_Nominatim.calls) == 1
    call = _Nominatim.calls[0]
    assert call["path"] == "/reverse" and call["format"] == "json" and call["agent"] == "organizer-photo-library"


def test_network_failure_falls_back_to_offline_and_stops_asking(tmp_path: Path, nominatim: str) -> None:
    _Nominatim.fail = True
    cfg = config.load(env={"ORGANIZER_GEOCODE_ONLINE": "true", "ORGANIZER_GEOCODE_DOMAIN": nominatim,
                           "ORGANIZER_GEOCODE_SCHEME": "http", "ORGANIZER_GEOCODE_MIN_INTERVAL_S": "0"})
    with Catalog(tmp_path / "c.db") as catalog:
        geo = Geocoder(cfg.geocode, catalog)
        assert geo.name(*AREZZO).source == "geonames"
        assert geo.name(*LISBON).source == "geonames"
    assert len(_Nominatim.calls) >= 1
    calls = len(_Nominatim.calls)
    unreachable = config.load(env={"ORGANIZER_GEOCODE_ONLINE": "true", "ORGANIZER_GEOCODE_DOMAIN": "127.0.0.1:9",
                                   "ORGANIZER_GEOCODE_SCHEME": "http", "ORGANIZER_GEOCODE_TIMEOUT_S": "1"})
    assert Geocoder(unreachable.geocode).name(*LISBON).city == "Lisbon"
    assert len(_Nominatim.calls) == calls
