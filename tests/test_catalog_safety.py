"""The catalog on a full disk, damaged, read-only, and across schema versions (issues 12 and 13)."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
import sqlite_utils
from click.testing import CliRunner

from organizer.catalog import Catalog, migrations
from organizer.cli import cli
from organizer.errors import CatalogError
from organizer.scan import Entry
from organizer.workers import Outcome
from organizer.writer import Report, Writer

from conftest import Cli, make_jpeg

needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="mounting a file system needs root")


def photos(root: Path, n: int, start: int = 0) -> None:
    for i in range(start, start + n):
        make_jpeg(root / f"IMG_{i:03d}.jpg", original=f"2020:01:01 10:{i % 60:02d}:00", seed=i)


@pytest.fixture
def tmpfs(tmp_path: Path):
    """A small real file system of its own (to fill, or to make read-only)."""
    if os.geteuid() != 0:
        pytest.skip("mounting a file system needs root")
    mounted = []

    def mount(name: str, size: str) -> Path:
        point = tmp_path / name
        point.mkdir()
        subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(point)], check=True)
        mounted.append(point)
        return point

    yield mount
    for point in mounted:
        subprocess.run(["umount", "-l", str(point)], capture_output=True)


def test_a_full_catalog_disk_is_a_one_line_error_and_loses_nothing(tmp_path: Path, tmpfs) -> None:
    state = tmpfs("state", "2m")
    run = Cli(state / "catalog.db")
    root = tmp_path / "Pictures"
    photos(root, 3)
    run.json("scan", str(root))
    with open(state / "filler", "wb") as fh:
        try:
            while True:
                fh.write(b"\0" * 65536)
                fh.flush()
        except OSError:
            pass
    photos(root, 200, start=3)
    result = run("scan", str(root), code=1)
    assert result.stderr.startswith("organizer: error: ") and "disk holding the catalog is full" in result.stderr
    assert "Traceback" not in result.output and len(result.stderr.strip().splitlines()) == 1
    assert run.json("status")["files"] >= 3  # what was committed is there, readable
    (state / "filler").unlink()
    assert run.json("scan", str(root))["interrupted"] is False
    assert run.json("status")["files"] == 203
    with Catalog(run.catalog, readonly=True) as cat:
        assert cat.integrity_check() == "ok"


def test_a_damaged_catalog_is_refused_for_writing_with_how_to_recover(tmp_path: Path, run: Cli) -> None:
    root = tmp_path / "Pictures"
    photos(root, 30)
    run.json("scan", str(root))
    with sqlite3.connect(run.catalog) as db:
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        page = db.execute("PRAGMA page_size").fetchone()[0]
        pages = db.execute("PRAGMA page_count").fetchone()[0]
    with open(run.catalog, "r+b") as fh:  # scribble over the second half of the file
        for p in range(pages // 2, pages):
            fh.seek(p * page + 100)
            fh.write(os.urandom(page - 200))
    before = run.catalog.read_bytes()
    result = run("scan", str(root), code=1)
    assert "the catalog is damaged" in result.stderr and ".recover" in result.stderr
    assert "Traceback" not in result.output
    assert run.catalog.read_bytes() == before  # not written to
    reading = CliRunner().invoke(cli, ["--catalog", str(run.catalog), "status"])  # works where it can
    assert reading.exit_code in (0, 1) and not isinstance(reading.exception, Exception) or \
        isinstance(reading.exception, SystemExit)
    assert "Traceback" not in reading.output


def test_reading_commands_work_on_a_catalog_on_a_read_only_mount(tmp_path: Path, run: Cli, tmpfs) -> None:
    root = tmp_path / "Pictures"
    photos(root, 4)
    make_jpeg(root / "copy.jpg", original="2020:01:01 10:00:00", seed=0)
    (root / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0" + b"\0" * 50)
    run.json("organize", str(root), "--output", str(tmp_path / "Albums"), env={"ORGANIZER_VECTORS_ENABLED": "false"})
    snap = tmpfs("snapshot", "16m")
    shutil.copy(run.catalog, snap / "catalog.db")  # a backup copy, without its -wal and -shm
    subprocess.run(["mount", "-o", "remount,ro", str(snap)], check=True)
    ro = Cli(snap / "catalog.db")
    assert ro.json("status")["files"] == 5
    assert len(ro.json("errors")) == 1
    assert ro.json("explain", str(root / "IMG_001.jpg"))["taken_at"] == "2020-01-01T10:01:00"
    assert ro.json("dupes")[0]["files"][0]["keep"] is True
    assert "vectors are turned off" in ro("similar", str(root / "IMG_001.jpg"), code=1,
                                          env={"ORGANIZER_VECTORS_ENABLED": "false"}).stderr
    result = ro("scan", str(root), code=1)  # writing is refused with a message, not a traceback
    assert result.stderr.startswith("organizer: error: ") and "Traceback" not in result.output


def _legacy_catalog(path: Path, version: int) -> None:
    """A catalog as organizer wrote it at schema `version` (1-5, before migrations had names),
    with one photo, its file, a group and (from 4) a vector."""
    db = sqlite_utils.Database(path)
    pending = migrations.MIGRATIONS.pending(sqlite_utils.Database(memory=True))
    for migration in pending[:version]:
        migration.fn(db)
    db.execute(f"PRAGMA user_version = {version}")
    db.execute("INSERT INTO photos (id, digest, taken_local, taken_source, phash, dhash, extractor, indexed_at) "
               "VALUES (1, 'ab', '2008-10-22T16:28:39', 'exif', '00ff00ff00ff00ff', '0f0f0f0f0f0f0f0f', 1, 'x')")
    db.execute("INSERT INTO files (path, root, photo_id, size, mtime_ns, inode, dev, state, first_seen, last_seen) "
               "VALUES ('/p/caf\u00e9.jpg', '/p', 1, 10, 20, 30, 40, 'ok', 'a', 'b')")
    db.execute("INSERT INTO errors (path, stage, message, at) VALUES ('/p/bad.jpg', 'extract', 'broken', 'a')")
    if version >= 2:
        db.execute("INSERT INTO groups (kind, key, size, created, updated) VALUES ('event', 'e1', 1, 'a', 'b')")
        db.execute("INSERT INTO group_members (group_id, photo_id) VALUES (1, 1)")
    if version >= 4:
        db.execute("INSERT INTO vectors (photo_id, model, vec) VALUES (1, 'm', x'0102')")
    db.conn.commit()
    db.close()


@pytest.mark.parametrize("version", [1, 2, 3, 4, 5])
def test_a_catalog_of_every_earlier_schema_is_upgraded_keeping_its_data(tmp_path: Path, version: int) -> None:
    path = tmp_path / "old.db"
    _legacy_catalog(path, version)
    with Catalog(path) as cat:
        assert migrations.state(cat.conn) == ([], [])
        assert cat.files.get("/p/café.jpg").photo_id == 1
        assert [e.path for e in cat.errors.all()] == ["/p/bad.jpg"]
        if version >= 2:
            assert cat.groups.members("event") == {"e1": frozenset({1})}
        if version >= 4:
            assert cat.photos.vector(1, "m") == b"\x01\x02"
        cat.groups.counts(["tag"])  # a new kind of group needs no table rebuild
        with cat.transaction():
            cat.groups.replace("tag", [])
    with Catalog(path, readonly=True) as cat:  # and reading it needs nothing more
        assert cat.files.known("/p")["/p/café.jpg"].state == "ok"


def test_a_failed_migration_is_rolled_back_whole(tmp_path: Path) -> None:
    path = tmp_path / "c.db"
    Catalog(path).close()
    before = path.read_bytes()
    broken = sqlite_utils.Migrations("organizer")
    for m in migrations.MIGRATIONS.pending(sqlite_utils.Database(memory=True)):
        broken()(m.fn)

    @broken()
    def m999_adds_a_table_then_fails(db: sqlite_utils.Database) -> None:
        db.execute("CREATE TABLE half (x)")
        db.execute("INSERT INTO no_such_table VALUES (1)")

    conn = sqlite3.connect(path, isolation_level=None)
    with pytest.raises(CatalogError, match="upgrade failed and was undone"):
        migrations.upgrade(conn, path, broken)
    assert conn.execute("SELECT count(*) FROM sqlite_master WHERE name = 'half'").fetchone()[0] == 0
    assert migrations.state(conn)[0] == []  # this organizer's own migrations: all still applied
    conn.close()
    with Catalog(path) as cat:
        assert cat.files.counts()["ok"] == 0


def test_a_catalog_from_a_newer_organizer_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "c.db"
    Catalog(path).close()
    with sqlite3.connect(path) as db:
        db.execute("INSERT INTO _sqlite_migrations (migration_set, name, applied_at) "
                   "VALUES ('organizer', 'm042_from_the_future', 'x')")
    for readonly in (False, True):
        with pytest.raises(CatalogError, match="from a newer organizer .*m042_from_the_future.*upgrade organizer"):
            Catalog(path, readonly=readonly)


def test_two_organizers_scanning_at_once_report_no_copies_that_are_not(tmp_path: Path, run: Cli) -> None:
    """Two scans of one library at once: each file is catalogued once, and neither calls a file
    that the other wrote meanwhile a copy of a known photo (there are none)."""
    root = tmp_path / "Pictures"
    for i in range(60):
        make_jpeg(root / f"d{i % 3}" / f"IMG_{i}.jpg", original=f"2020:01:{i % 28 + 1:02d} 10:00:00", seed=i)
    env = {**os.environ, "ORGANIZER_VECTORS_ENABLED": "false"}
    command = [sys.executable, "-m", "organizer", "--catalog", str(run.catalog), "scan", str(root), "--json"]
    first = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    second = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    reports = []
    for process in (first, second):
        out, err = process.communicate(timeout=300)
        assert process.returncode == 0, err
        reports.append(json.loads(out))
    assert [r["known"] for r in reports] == [0, 0], reports
    assert all(r["indexed"] + r["unchanged"] == 60 for r in reports), reports
    assert run.json("status")["photos"] == 60


def test_a_file_another_organizer_just_wrote_is_unchanged_not_a_copy(tmp_path: Path, run: Cli) -> None:
    """What the second of two concurrent scans sees, without the race: its worker found the
    file's digest catalogued (the first scan wrote it after the second one's walk)."""
    root = tmp_path / "Pictures"
    make_jpeg(root / "a.jpg", original="2020:01:01 10:00:00")
    run("scan", str(root), env={"ORGANIZER_VECTORS_ENABLED": "false"})
    shutil.copy(root / "a.jpg", root / "b.jpg")  # not catalogued yet
    with Catalog(run.catalog) as catalog:
        digest = catalog.photos.row(catalog.files.get(str(root / "a.jpg")).photo_id)["digest"]
        report = Report()
        writer = Writer(catalog, report, 10, None)
        for name in ("a.jpg", "b.jpg"):
            path = str(root / name)
            writer.add(Outcome(path, "known", digest=digest, format="jpeg"), str(root), Entry.of(path, os.stat(path)))
        writer.flush()
    assert (report.unchanged, report.known) == (1, 1)  # a.jpg is itself; b.jpg, a real copy, is a copy
