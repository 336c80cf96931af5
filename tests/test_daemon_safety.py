"""The daemon keeps the walker's rules, supervises its watchers, holds its catalog and output
alone, and lives through full disks and odd names (issue 12, parts 2-5), as a real subprocess."""

from __future__ import annotations

import os
import re
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from organizer.catalog import Catalog
from organizer.cli import reports

from conftest import ROOT, gps_ifd, make_jpeg, wait_for
from test_daemon import AREZZO, links, trip

needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="mounting a file system needs root")


def count(catalog: Path, sql: str = "SELECT count(*) FROM files WHERE state = 'ok'") -> int:
    with sqlite3.connect(f"file:{catalog}?mode=ro", uri=True) as db:
        return db.execute(sql).fetchone()[0]


def test_a_second_daemon_on_the_same_catalog_or_output_exits_1(tmp_path: Path, daemon) -> None:
    root = tmp_path / "Pictures"
    trip(root)
    d = daemon(root)
    env = {**os.environ, "PYTHONPATH": str(ROOT), "XDG_CACHE_HOME": str(tmp_path / "cache"),
           "ORGANIZER_VECTORS_ENABLED": "false"}
    second = subprocess.run([sys.executable, "-m", "organizer", "--catalog", str(d.catalog), "run", str(root),
                             "--output", str(tmp_path / "Other")], env=env, capture_output=True, text=True,
                            timeout=60)
    assert second.returncode == 1
    assert second.stderr.strip() == (f"organizer: error: organizer is already running for this catalog "
                                     f"(pid {d.proc.pid}); stop it first")
    third = subprocess.run([sys.executable, "-m", "organizer", "--catalog", str(tmp_path / "other.db"), "run",
                            str(root), "--output", str(d.out)], env=env, capture_output=True, text=True, timeout=60)
    assert third.returncode == 1 and f"already running for this album folder (pid {d.proc.pid})" in third.stderr
    assert not (tmp_path / "Other").exists()
    # one-shot commands still work beside it (they wait for SQLite's lock)
    status = subprocess.run([sys.executable, "-m", "organizer", "--catalog", str(d.catalog), "status", "--json"],
                            env=env, capture_output=True, text=True, timeout=60)
    assert status.returncode == 0
    d.stop()


def test_the_daemon_skips_what_the_scan_skips(tmp_path: Path, daemon) -> None:
    root = tmp_path / "Pictures"
    trip(root)
    d = daemon(root, {"ORGANIZER_SCAN_EXCLUDE": "private/*"})
    for skipped in ("@eaDir/A0.jpg/SYNOPHOTO_THUMB_XL.jpg", "#recycle/old.jpg", ".Trash-1000/files/x.jpg",
                    ".hidden/y.jpg", "private/z.jpg", "#snapshot/s.jpg"):
        make_jpeg(root / skipped, seed=40 + len(skipped), size=(96, 64))
    make_jpeg(root / "trip" / "A5.jpg", original="2008:10:22 16:40:00", gps=gps_ifd(*AREZZO), seed=5, size=(96, 64))
    wait_for(lambda: (d.out / "Timeline" / "2008" / "10" / "A5.jpg").is_symlink(), 20, "the real photo's link")
    assert count(d.catalog) == 4
    # a photo moved into the recycle bin is gone from the albums, not linked into the bin
    (root / "#recycle").mkdir(exist_ok=True)
    (root / "trip" / "A1.jpg").rename(root / "#recycle" / "A1.jpg")
    wait_for(lambda: not (d.out / "Timeline" / "2008" / "10" / "A1.jpg").is_symlink(), 20, "the link removed")
    assert count(d.catalog) == 3
    assert not any("recycle" in target or "@eaDir" in target for target in links(d.out).values())
    d.stop()


def test_an_output_inside_the_root_is_not_indexed_by_the_daemon(tmp_path: Path, daemon) -> None:
    root = tmp_path / "Pictures"
    trip(root)
    d = daemon(root, start=False)
    d.out = root / "Albums"
    d.start()
    make_jpeg(root / "trip" / "A5.jpg", original="2008:10:22 16:40:00", gps=gps_ifd(*AREZZO), seed=5, size=(96, 64))
    wait_for(lambda: (d.out / "Timeline" / "2008" / "10" / "A5.jpg").is_symlink(), 20, "the new link")
    assert count(d.catalog) == 4  # no Leaflet icon, no link to itself
    assert all(not t.startswith(str(d.out)) for t in links(d.out).values())
    d.stop()


def test_a_root_replaced_by_another_folder_is_watched_again(tmp_path: Path, daemon) -> None:
    """The watch follows the old folder's inode; the daemon sees the root is another folder now."""
    root = tmp_path / "Pictures"
    trip(root)
    d = daemon(root)
    fresh = tmp_path / "fresh"
    fresh.mkdir()
    shutil.copytree(root / "trip", fresh / "trip", copy_function=shutil.copy2)
    root.rename(tmp_path / "old")
    fresh.rename(root)
    make_jpeg(root / "trip" / "A7.jpg", original="2008:10:22 16:45:00", gps=gps_ifd(*AREZZO), seed=7, size=(96, 64))
    wait_for(lambda: (d.out / "Timeline" / "2008" / "10" / "A7.jpg").is_symlink(), 30, "the new photo's link")
    assert "the folder was replaced by another of the same name" in d.logtext()
    make_jpeg(root / "trip" / "A8.jpg", original="2008:10:22 16:46:00", gps=gps_ifd(*AREZZO), seed=8, size=(96, 64))
    wait_for(lambda: (d.out / "Timeline" / "2008" / "10" / "A8.jpg").is_symlink(), 15, "watched again")
    d.stop()


@needs_root
def test_a_root_remounted_at_a_new_device_comes_back_by_itself(tmp_path: Path, daemon) -> None:
    root = tmp_path / "Pictures"
    root.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=32m", "tmpfs", str(root)], check=True)
    try:
        trip(root)
        d = daemon(root)
        saved = tmp_path / "saved"
        shutil.copytree(root, saved, copy_function=shutil.copy2)
        subprocess.run(["umount", str(root)], check=True)
        d.wait_message("STATUS=3 photos, 0 errors, 1 events, 1 places, 0 duplicate groups, offline", 20)
        subprocess.run(["mount", "-t", "tmpfs", "-o", "size=32m", "tmpfs", str(root)], check=True)
        shutil.copytree(saved, root, dirs_exist_ok=True, copy_function=shutil.copy2)
        make_jpeg(root / "trip" / "A9.jpg", original="2008:10:22 16:50:00", gps=gps_ifd(*AREZZO), seed=9,
                  size=(96, 64))  # arrived while it was away: found by the rescan, linked within seconds
        wait_for(lambda: (d.out / "Events" / "2008-10-22 Arezzo" / "A9.jpg").is_symlink(), 30, "the rescan's link")
        assert count(d.catalog, "SELECT count(*) FROM files WHERE state = 'missing'") == 0
        with sqlite3.connect(d.catalog) as db:
            assert db.execute("SELECT count(*) FROM photos").fetchone()[0] == 4
        make_jpeg(root / "trip" / "A10.jpg", original="2008:10:22 16:55:00", seed=10, size=(96, 64))
        wait_for(lambda: (d.out / "Timeline" / "2008" / "10" / "A10.jpg").is_symlink(), 15, "watched again")
        d.stop()
    finally:
        subprocess.run(["umount", "-l", str(root)], capture_output=True)


@needs_root
def test_a_full_catalog_disk_is_a_warning_and_a_retry(tmp_path: Path, daemon) -> None:
    state = tmp_path / "state"
    state.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=8m", "tmpfs", str(state)], check=True)
    try:
        root = tmp_path / "Pictures"
        trip(root)
        d = daemon(root, {"ORGANIZER_OUTPUT_RETRY_S": "1"}, start=False)
        d.catalog = state / "catalog.db"
        d.start()
        filler = state / "filler"
        with open(filler, "wb", buffering=0) as fh:  # fill the disk (unbuffered: nothing left to flush at close)
            try:
                while True:
                    fh.write(b"\0" * 65536)
                    fh.flush()
            except OSError:
                pass
        for i in range(20):  # enough rows to need pages the disk has not got
            make_jpeg(root / "more" / f"B{i:02d}.jpg", original=f"2008:10:22 17:{i:02d}:00", seed=100 + i,
                      size=(96, 64))
        def says_full() -> bool:
            d.read()
            return any("catalog not written" in m for m in d.messages)

        wait_for(says_full, 60, "a status line saying the catalog is full")
        assert d.proc.poll() is None and "disk holding the catalog is full" in d.logtext()
        filler.unlink()  # room again: it catches up by itself
        wait_for(lambda: (d.out / "Timeline" / "2008" / "10" / "B19.jpg").is_symlink(), 60, "the photos indexed")
        assert "the catalog can be written again" in d.logtext()
        d.stop()
        with Catalog(d.catalog, readonly=True) as cat:
            assert reports.status(cat)["files"] == 23 and cat.integrity_check() == "ok"
    finally:
        subprocess.run(["umount", "-l", str(state)], capture_output=True)


def test_a_name_that_is_not_utf8_does_not_stop_the_daemon(tmp_path: Path, daemon) -> None:
    root = tmp_path / "Pictures"
    trip(root)
    d = daemon(root)
    bad = os.path.join(os.fsencode(root / "trip"), b"caf\xe9.jpg")
    make_jpeg(Path(os.fsdecode(bad)), original="2008:10:22 16:41:00", gps=gps_ifd(*AREZZO), seed=12, size=(96, 64))
    os.makedirs(os.path.join(os.fsencode(root), b"Urlaub\xe9"))
    make_jpeg(Path(os.fsdecode(os.path.join(os.fsencode(root), b"Urlaub\xe9", b"x.jpg"))),
              original="2008:10:22 16:42:00", seed=13, size=(96, 64))
    wait_for(lambda: count(d.catalog) == 5, 20, "both odd names indexed")
    wait_for(lambda: (d.out / "Timeline" / "2008" / "10" / "café.jpg").is_symlink(), 20, "a readable link name")
    assert os.readlink(os.path.join(os.fsencode(d.out / "Timeline" / "2008" / "10"), "café.jpg".encode())).endswith(
        b"caf\xe9.jpg")
    assert d.proc.poll() is None and "Traceback" not in d.logtext()
    assert re.search(r"INFO: indexed \d+ new", d.logtext())  # the daemon says what it does at the default level
    d.stop()
