"""`organizer run` as a real subprocess on real folders, talking sd_notify to a real socket."""

from __future__ import annotations

import os
import random
import re
import shutil
import sqlite3
import subprocess
import threading
import time
from pathlib import Path


from organizer.catalog import Catalog
from organizer.cli import reports
from organizer.extract import vectors
from organizer.extract.hashes import digest

from conftest import gps_ifd, make_jpeg, processes_of, wait_for

AREZZO = (43.4674, 11.8851)


def links(out: Path) -> dict[str, str]:
    found = {}
    for dirpath, _, files in os.walk(out):
        for f in files:
            p = Path(dirpath) / f
            if p.is_symlink():
                found[str(p.relative_to(out))] = os.path.realpath(p)
    return found


def trip(root: Path, n: int = 3) -> None:
    for i in range(n):
        make_jpeg(root / "trip" / f"A{i}.jpg", original=f"2008:10:22 16:{10 + i * 5}:00",
                  gps=gps_ifd(AREZZO[0] + i * 1e-4, AREZZO[1]), seed=i, size=(96, 64))


def test_new_photos_join_their_albums_and_a_slow_copy_is_indexed_once(tmp_path: Path, daemon) -> None:
    root = tmp_path / "Pictures"
    trip(root)
    # with CNN vectors: the workers come from a fork server that preloads onnxruntime
    d = daemon(root, {"ORGANIZER_WATCH_SETTLE_S": "1.0", "ORGANIZER_VECTORS_ENABLED": "true"})
    assert any(m.startswith("STATUS=3 photos") for m in d.messages)
    event = d.out / "Events" / "2008-10-22 Arezzo"
    assert event.is_dir()
    make_jpeg(root / "incoming" / "A3.jpg", original="2008:10:22 16:40:00", gps=gps_ifd(*AREZZO), seed=3,
              size=(96, 64))
    took = wait_for(lambda: (d.out / "Events" / "2008-10-22 Arezzo" / "A3.jpg").is_symlink(), 15,
                    "the new photo's event link")
    assert took < 1.0 + 5
    assert (d.out / "Places" / "Italy" / "Arezzo" / "A3.jpg").is_symlink()
    assert (d.out / "Timeline" / "2008" / "10" / "A3.jpg").is_symlink()

    # a photo written slowly, in chunks over 5 s (as over SMB)
    data = make_jpeg(tmp_path / "staging" / "slow.jpg", original="2008:10:22 16:45:00", seed=5,
                     size=(400, 300)).read_bytes()
    target = root / "incoming" / "slow.jpg"
    with open(target, "wb") as fh:
        for i in range(10):
            fh.write(data[i * len(data) // 10:(i + 1) * len(data) // 10])
            fh.flush()
            time.sleep(0.5)
    wait_for(lambda: (d.out / "Timeline" / "2008" / "10" / "slow.jpg").is_symlink(), 15, "the slow photo's link")
    with Catalog(d.catalog, readonly=True) as cat:
        info = reports.explain(cat, str(target))
        assert info["digest"] == digest(data) and info["errors"] == []
        assert info["vector_model"] == vectors.model_id(vectors.ModelSpec())
        assert reports.errors(cat) == []
        assert cat.conn.execute("SELECT count(*) FROM photos").fetchone()[0] == 5  # no half-written one
    assert d.stop() < 10
    assert "STOPPING=1" in d.messages
    # what it did, in the journal at the default level: a line per batch and per album update
    log = (d.tmp / "daemon.log").read_text()
    assert re.search(r"indexed 1 new, 0 copies, 0 moved, 0 gone; \d+ joined their events and places", log), log
    assert re.search(r"albums: \d+ written, 0 removed, 0 renamed", log), log


def test_albums_that_cannot_be_written_do_not_stop_the_daemon(tmp_path: Path, daemon) -> None:
    root = tmp_path / "Pictures"
    trip(root)
    d = daemon(root, {"ORGANIZER_OUTPUT_RETRY_S": "1"})
    known = set(d.messages)

    def status_says(text: str) -> bool:
        d.read()
        return any(m.startswith("STATUS=") and text in m for m in set(d.messages) - known)

    def photos() -> int:
        with Catalog(d.catalog, readonly=True) as cat:
            return cat.conn.execute("SELECT count(*) FROM photos").fetchone()[0]

    # the album disk is unplugged, and something else now has the folder's name
    d.out.rename(tmp_path / "Albums.unplugged")
    d.out.write_text("not a folder")
    make_jpeg(root / "incoming" / "A3.jpg", original="2008:10:22 16:40:00", gps=gps_ifd(*AREZZO), seed=3,
              size=(96, 64))
    wait_for(lambda: photos() == 4, 30, "the new photo in the catalog")
    wait_for(lambda: status_says("albums not updated: "), 30, "a status line saying why")
    assert d.proc.poll() is None
    # it is back: the albums catch up by themselves
    d.out.unlink()
    (tmp_path / "Albums.unplugged").rename(d.out)
    wait_for(lambda: (d.out / "Events" / "2008-10-22 Arezzo" / "A3.jpg").is_symlink(), 30, "the new link")
    # a write that fails half-way (here an album folder that refuses new entries: as a full or
    # read-only disk; chattr +i stops even root)
    event = d.out / "Events" / "2008-10-22 Arezzo"
    subprocess.run(["chattr", "+i", str(event)], check=True)
    try:
        make_jpeg(root / "incoming" / "A4.jpg", original="2008:10:22 16:45:00", gps=gps_ifd(*AREZZO), seed=4,
                  size=(96, 64))
        wait_for(lambda: photos() == 5, 30, "the second photo in the catalog")
        known = set(d.messages)
        wait_for(lambda: status_says("albums not updated: "), 30, "a status line saying why")
        assert (d.out / "Timeline" / "2008" / "10" / "A3.jpg").is_symlink() and d.proc.poll() is None
    finally:
        subprocess.run(["chattr", "-i", str(event)], check=True)
    wait_for(lambda: (d.out / "Events" / "2008-10-22 Arezzo" / "A4.jpg").is_symlink(), 30, "the second link")
    assert d.stop() < 10
    assert "albums updated again" in d.logtext()


def test_a_photo_added_during_the_start_up_scan_is_not_missed(tmp_path: Path, daemon) -> None:
    """The reconciling scan has listed the folders and is extracting when a photo arrives in a new
    folder: the watchers already run, so it is indexed then, not at the next rescan (24 h)."""
    root = tmp_path / "Pictures"
    for i in range(400):
        make_jpeg(root / "backlog" / f"IMG_{i:04d}.jpg", seed=1000 + i, size=(320, 240))
    d = daemon(root, {"ORGANIZER_SCAN_BATCH_SIZE": "10"}, start=False)
    d.start(wait_ready=False)

    def extracting() -> bool:  # the scan's walk is over once its first batch is committed
        if not d.catalog.exists():
            return False
        try:
            with Catalog(d.catalog, readonly=True) as cat:
                return cat.conn.execute("SELECT count(*) FROM files").fetchone()[0] > 0
        except Exception:  # the catalog is being created
            return False

    wait_for(extracting, 60, "the start-up scan extracting")
    make_jpeg(root / "late" / "new.jpg", original="2019:05:01 12:00:00", seed=5)
    with Catalog(d.catalog, readonly=True) as cat:
        assert cat.conn.execute("SELECT count(*) FROM files").fetchone()[0] < 400  # still scanning
    d.wait_message("READY=1", 120)
    wait_for(lambda: (d.out / "Timeline" / "2019" / "05" / "new.jpg").is_symlink(), 20, "the late photo's link")
    assert d.stop() < 10


def test_albums_are_not_held_back_by_a_file_still_arriving(tmp_path: Path, daemon) -> None:
    """Album updates wait while files are still settling (a large import), but at most 5 s: a
    photo that arrives during a 16 s copy of another has its links long before that copy ends."""
    root = tmp_path / "Pictures"
    trip(root)
    d = daemon(root, {"ORGANIZER_WATCH_SETTLE_S": "1.0"})
    data = make_jpeg(tmp_path / "staging" / "long.jpg", original="2008:10:22 17:00:00", seed=7,
                     size=(400, 300)).read_bytes()
    done = threading.Event()

    def copy_slowly() -> None:
        with open(root / "incoming" / "long.jpg", "wb") as fh:
            for i in range(32):
                fh.write(data[i * len(data) // 32:(i + 1) * len(data) // 32])
                fh.flush()
                time.sleep(0.5)
        done.set()

    (root / "incoming").mkdir()
    writer = threading.Thread(target=copy_slowly)
    writer.start()
    try:
        time.sleep(1.0)
        make_jpeg(root / "incoming" / "A3.jpg", original="2008:10:22 16:40:00", seed=3, size=(96, 64))
        wait_for(lambda: (d.out / "Timeline" / "2008" / "10" / "A3.jpg").is_symlink(), 12, "the new photo's link")
        assert not done.is_set()  # the long copy is still going
    finally:
        writer.join()
    wait_for(lambda: (d.out / "Timeline" / "2008" / "10" / "long.jpg").is_symlink(), 15, "the long copy's link")
    assert d.stop() < 10


def test_renames_and_moves_keep_their_photos_without_a_new_decode(tmp_path: Path, daemon) -> None:
    root = tmp_path / "Pictures"
    trip(root)
    d = daemon(root)
    with sqlite3.connect(d.catalog) as db:
        before = dict(db.execute("SELECT digest, indexed_at FROM photos").fetchall())
    (root / "trip" / "A1.jpg").rename(root / "trip" / "Duomo.jpg")
    (root / "trip").rename(root / "Italy 2008")
    event = d.out / "Events" / "2008-10-22 Arezzo"
    wait_for(lambda: (event / "Duomo.jpg").is_symlink() and os.path.realpath(event / "A0.jpg") ==
             str(root / "Italy 2008" / "A0.jpg"), 15, "links following the moves")
    assert all(os.path.exists(t) for t in links(d.out).values())
    with sqlite3.connect(d.catalog) as db:
        assert dict(db.execute("SELECT digest, indexed_at FROM photos").fetchall()) == before
        assert db.execute("SELECT count(*) FROM files WHERE state = 'missing'").fetchone()[0] == 0
    d.stop()


def test_a_root_taken_away_and_brought_back_loses_nothing(tmp_path: Path, daemon) -> None:
    root = tmp_path / "Pictures"
    trip(root)
    d = daemon(root)
    before = {k for k in links(d.out) if not k.startswith("map")}
    away = tmp_path / "unplugged"
    root.rename(away)
    d.wait_message("STATUS=3 photos, 0 errors, 1 events, 1 places, 0 duplicate groups, offline", 20)
    assert {k for k in links(d.out) if not k.startswith("map")} == before
    with Catalog(d.catalog, readonly=True) as cat:
        assert reports.status(cat)["missing"] == 0
    away.rename(root)
    d.messages.clear()
    d.wait_message("STATUS=3 photos, 0 errors, 1 events, 1 places, 0 duplicate groups\n"[:-1], 20)
    make_jpeg(root / "trip" / "A9.jpg", original="2008:10:22 16:50:00", seed=9, size=(96, 64))
    wait_for(lambda: (d.out / "Timeline" / "2008" / "10" / "A9.jpg").is_symlink(), 15, "indexing after return")
    with Catalog(d.catalog, readonly=True) as cat:
        assert reports.status(cat)["missing"] == 0 and reports.status(cat)["files"] == 4
    d.stop()


def test_polling_mode_finds_new_files_and_the_watchdog_is_fed(tmp_path: Path, daemon) -> None:
    root = tmp_path / "Pictures"
    trip(root)
    d = daemon(root, {"ORGANIZER_WATCH_POLLING": "true", "ORGANIZER_WATCH_POLL_INTERVAL_S": "0.5",
                      "WATCHDOG_USEC": "1000000"})
    assert "polling" in d.logtext()
    make_jpeg(root / "new.jpg", original="2019:01:01 10:00:00", seed=7)
    wait_for(lambda: (d.out / "Timeline" / "2019" / "01" / "new.jpg").is_symlink(), 15, "a polled new file")
    d.read()
    assert d.messages.count("WATCHDOG=1") >= 2
    assert d.stop() < 10


def test_kill_9_twenty_times_during_a_large_import(tmp_path: Path, daemon) -> None:
    root = tmp_path / "Pictures"
    trip(root)
    d = daemon(root, {"ORGANIZER_SCAN_BATCH_SIZE": "10"})
    d.stop()
    staging = tmp_path / "staging"
    for i in range(200):
        make_jpeg(staging / f"IMG_{i:04d}.jpg", original=f"2015:06:{1 + i // 20:02d} 1{i % 10}:00:00", seed=100 + i,
                  size=(160, 120))
    shutil.copytree(staging, root / "import")  # dropped at once, then the daemon keeps dying
    rng = random.Random(7)
    for _ in range(20):
        d.start(wait_ready=False)
        time.sleep(rng.uniform(0.3, 2.5))
        d.kill9()
    # none of the killed daemons' worker processes lives on
    wait_for(lambda: not processes_of(tmp_path), 10, "the killed daemons' workers gone")
    d.start()
    wait_for(lambda: len(list((d.out / "Timeline" / "2015" / "06").glob("*.jpg"))) == 200
             if (d.out / "Timeline" / "2015" / "06").is_dir() else False, 120, "all 200 photos linked")
    d.stop()
    wait_for(lambda: not processes_of(tmp_path), 10, "every process gone after a stop")
    with Catalog(d.catalog, readonly=True) as cat:
        assert cat.integrity_check() == "ok"
        photos, digests, files = cat.conn.execute(
            "SELECT count(*), count(DISTINCT digest), (SELECT count(*) FROM files) FROM photos").fetchone()
        assert photos == digests == files == 203
    for dirpath, dirnames, _ in os.walk(d.out):
        assert not [n for n in dirnames if n.startswith(".organizer-")], dirpath
    assert all(os.path.exists(t) for t in links(d.out).values())
