"""What the user sees is true: summaries that add up, readable reports, errors that clear and
retry, dates and originals chosen over every copy, the keeper rule (issue 12, parts 7 and 8)."""

from __future__ import annotations

import os
import pty
import re
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

from organizer.cli.query import _LABELS
from organizer.cluster.keeper import File, order
from organizer.cluster.originals import original_key

from conftest import ROOT, Cli, gps_ifd, make_jpeg

AREZZO = (43.4674483, 11.8851267)


@pytest.fixture(autouse=True)
def no_vectors(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ORGANIZER_VECTORS_ENABLED", "false")


def test_global_options_work_after_the_command_name(tmp_path: Path) -> None:
    root = tmp_path / "Pictures"
    make_jpeg(root / "a.jpg", seed=1)
    env = {**os.environ, "PYTHONPATH": str(ROOT), "XDG_CACHE_HOME": str(tmp_path / "cache"),
           "ORGANIZER_VECTORS_ENABLED": "false"}
    db = str(tmp_path / "c.db")
    for args in (["scan", str(root), "--catalog", db, "-q"], ["status", "--json", "--catalog", db],
                 ["errors", f"--catalog={db}", "-v"]):
        proc = subprocess.run([sys.executable, "-m", "organizer", *args], env=env, capture_output=True, text=True,
                              timeout=120)
        assert proc.returncode == 0, (args, proc.stderr)
    assert '"files": 1' in subprocess.run([sys.executable, "-m", "organizer", "status", "--json", "--catalog", db],
                                          env=env, capture_output=True, text=True, timeout=120).stdout


def test_explain_prints_readable_text_and_every_field_is_documented(tmp_path: Path, run: Cli) -> None:
    root = tmp_path / "Pictures"
    make_jpeg(root / "a.jpg", original="2008:10:22 16:28:39", gps=gps_ifd(*AREZZO), make="NIKON", seed=1)
    (root / "b.jpg").write_bytes((root / "a.jpg").read_bytes())
    run.json("organize", str(root), "--output", str(tmp_path / "Albums"))
    text = run("explain", str(root / "a.jpg")).stdout
    assert "{" not in text and "[" not in text and "None" not in text  # no Python reprs
    assert re.search(r"^taken at \(local time\)\s+2008-10-22T16:28:39$", text, re.M)
    assert re.search(r"^same content at\s+.*b\.jpg$", text, re.M)
    assert re.search(r"^groups\s+duplicate \S+: 1 photos$", text, re.M)
    docs = (ROOT / "docs" / "cli.md").read_text()
    for key in run.json("explain", str(root / "a.jpg")):
        assert f"`{key}`" in docs, f"docs/cli.md does not document explain's {key}"
        assert key in _LABELS


def test_the_scan_summary_adds_up_and_a_rerun_says_what_still_fails(tmp_path: Path, run: Cli) -> None:
    root = tmp_path / "Pictures"
    for i in range(3):
        make_jpeg(root / f"p{i}.jpg", seed=i)
    (root / "copy.jpg").write_bytes((root / "p0.jpg").read_bytes())
    for i in range(14):
        (root / f"broken{i:02d}.jpg").write_bytes(b"\xff\xd8\xff\xe0" + bytes([i]) * 60)
    (root / "notes.txt").write_text("not a photo")
    (root / "empty.txt").write_bytes(b"")
    (root / "scan.jp2").write_bytes(b"\x00\x00\x00\x0cjP  \r\n\x87\n" + b"\0" * 100)
    result = run("scan", str(root))
    first = run.json("scan", str(root), "--retry-errors")
    seen = result.stdout.split(" files seen")[0]
    assert int(seen) == 21
    assert "3 indexed" in result.stdout and "1 copies of known photos" in result.stdout
    assert "14 errors" in result.stdout and "1 unsupported" in result.stdout and "2 not photos" in result.stdout
    # many failing files: ten warnings, then one line that counts the rest
    assert result.stderr.count("WARNING") == 11 and "4 more files could not be read" in result.stderr
    assert first["errors"] == 14
    again = run("scan", str(root))
    assert "14 files still fail to read (unchanged since): `organizer errors` lists them" in again.stdout
    status = run.json("status")
    assert status["unsupported_by_type"] == {"JPEG 2000": 1} and status["ignored"] == 2


def test_progress_and_log_lines_never_share_a_line(tmp_path: Path) -> None:
    root = tmp_path / "Pictures"
    for i in range(40):
        make_jpeg(root / f"p{i}.jpg", seed=i, size=(800, 600))
    for i in range(5):
        (root / f"broken{i}.jpg").write_bytes(b"\xff\xd8\xff\xe0" + b"\0" * 60)
    env = {**os.environ, "PYTHONPATH": str(ROOT), "XDG_CACHE_HOME": str(tmp_path / "cache"),
           "ORGANIZER_VECTORS_ENABLED": "false", "COLUMNS": "100"}
    pid, fd = pty.fork()
    if pid == 0:  # the child: organizer on a terminal
        os.execve(sys.executable, [sys.executable, "-m", "organizer", "--catalog", str(tmp_path / "c.db"), "scan",
                                   str(root)], env)
    out = b""
    while True:
        try:
            chunk = os.read(fd, 65536)
        except OSError:
            break
        if not chunk:
            break
        out += chunk
    os.waitpid(pid, 0)
    text = out.decode("utf-8", "replace")
    assert "WARNING" in text and "file/s]" in text and "45/45" in text
    for line in re.split(r"[\r\n]", text):
        if "WARNING" in line:
            assert line.lstrip().startswith("WARNING"), repr(line)  # never after a bar's text


def test_error_rows_clear_when_a_file_reads_fine_and_retry_when_organizer_can_read_more(
        tmp_path: Path, run: Cli) -> None:
    import av
    import numpy as np

    root = tmp_path / "Pictures"
    bad = root / "later-fixed.jpg"
    bad.parent.mkdir(parents=True)
    bad.write_bytes(b"\xff\xd8\xff\xe0" + b"\0" * 60)
    clip = root / "clip.mp4"
    with av.open(str(clip), "w") as container:
        stream = container.add_stream("mpeg4", rate=10)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        stream.codec_context.thread_count = 1  # no encoder threads left behind (see make_video)
        for i in range(10):
            frame = av.VideoFrame.from_ndarray(np.full((48, 64, 3), 20 * i, np.uint8), format="rgb24")
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    run.json("scan", str(root))
    assert [e["path"] for e in run.json("errors")] == [str(bad)]
    make_jpeg(bad, seed=3)  # fixed
    run.json("scan", str(root))
    assert run.json("errors") == []
    # an older organizer could not read videos: its catalog says so; one scan reads it now
    with sqlite3.connect(run.catalog) as db:
        db.execute("UPDATE files SET state = 'error', photo_id = NULL, checked = 1 WHERE path = ?",
                   (os.fsencode(clip),))
        db.execute("INSERT INTO errors (path, stage, message, at, checked) VALUES (?, 'extract', "
                   "'not a supported image (ISO media (isom))', 'x', 1)", (os.fsencode(clip),))
    assert run.json("explain", str(clip))["state"] == "error"
    report = run.json("scan", str(root))
    assert report["indexed"] + report["known"] == 1
    info = run.json("explain", str(clip))
    assert info["state"] == "ok" and info["errors"] == [] and info["format"] in ("mp4", "mov")


def test_a_photos_date_is_the_best_over_all_its_paths(tmp_path: Path, run: Cli) -> None:
    root = tmp_path / "Pictures"
    first = make_jpeg(root / "dump" / "photo.jpg", seed=1, mtime=1_600_000_000)
    run.json("scan", str(root))
    assert run.json("explain", str(first))["taken_at_source"] == "mtime"
    (root / "phone").mkdir()
    named = root / "phone" / "IMG_20190521_104552.jpg"
    named.write_bytes(first.read_bytes())
    run.json("scan", str(root))
    info = run.json("explain", str(first))
    assert (info["taken_at"], info["taken_at_source"]) == ("2019-05-21T10:45:52", "filename")
    # an older copy dated by mtime only: the oldest mtime wins among mtimes, a name still beats it
    older = make_jpeg(root / "old" / "x.jpg", seed=2, mtime=1_500_000_000)
    newer = root / "new" / "x.jpg"
    newer.parent.mkdir()
    newer.write_bytes(older.read_bytes())
    os.utime(newer, (1_700_000_000, 1_700_000_000))
    run.json("scan", str(root))
    assert run.json("explain", str(newer))["taken_at"].startswith("2017-07-14")


def test_albums_link_the_original_not_a_copy(tmp_path: Path, run: Cli) -> None:
    root, out = tmp_path / "Pictures", tmp_path / "Albums"
    original = make_jpeg(root / "2008" / "DSCN0010.jpg", original="2008:10:22 16:28:39", seed=1, mtime=1_300_000_000)
    for copy in ("Camera dump 2008 - copy", "Backup", "aaa (1)"):
        (root / copy).mkdir(parents=True)
        (root / copy / "DSCN0010.jpg").write_bytes(original.read_bytes())
        os.utime(root / copy / "DSCN0010.jpg", (1_200_000_000, 1_200_000_000))  # older, but copies
    run.json("organize", str(root), "--output", str(out))
    link = out / "Timeline" / "2008" / "10" / "DSCN0010.jpg"
    assert link.resolve() == original.resolve()
    assert original_key("/a/b/x.jpg", 5) < original_key("/a/Backup/x.jpg", 1)
    assert original_key("/a/x.jpg", 5) < original_key("/a/b/x.jpg", 5)  # same age: the shorter path


def test_dupes_say_where_each_copy_lives_and_keep_a_raw_first(tmp_path: Path, run: Cli) -> None:
    root, out = tmp_path / "Pictures", tmp_path / "Albums"
    big = make_jpeg(root / "Pictures 2008" / "DSCN0010.jpg", size=(640, 480), seed=4)
    small = root / "Camera dump - copy" / "DSCN0010.jpg"
    small.parent.mkdir()
    Image.open(big).resize((320, 240)).save(small, quality=70)
    run.json("organize", str(root), "--output", str(out))
    group = run.json("dupes")[0]["files"]
    assert [(Path(f["path"]).parent.name, f["keep"]) for f in group] == [("Pictures 2008", True),
                                                                         ("Camera dump - copy", False)]
    text = run("dupes").stdout
    assert re.search(r"^  keep  .*Pictures 2008/DSCN0010\.jpg  640x480", text, re.M)
    names = sorted(p.name for p in next((out / "Duplicates").iterdir()).iterdir())
    assert names == ["1 keep - DSCN0010 (Pictures 2008).jpg", "2 smaller - DSCN0010 (Camera dump - copy).jpg"]
    assert group[1]["differs"] == "smaller"
    jpeg = File("/p/IMG_1.JPG", 1, "jpeg", 6000, 4000, 9_000_000, 1)
    raw = File("/p/IMG_1.CR2", 2, "cr2", 5472, 3648, 25_000_000, 2)
    assert order([jpeg, raw])[0] is raw  # never advise deleting a RAW for its JPEG


def test_explain_and_similar_follow_a_link_from_the_album_tree(tmp_path: Path, run: Cli) -> None:
    root, out = tmp_path / "Pictures", tmp_path / "Albums"
    photo = make_jpeg(root / "a.jpg", original="2008:10:22 16:28:39", seed=1)
    (root / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0" + b"\0" * 60)
    (root / "scan.jp2").write_bytes(b"\x00\x00\x00\x0cjP  \r\n\x87\n" + b"\0" * 100)
    run.json("organize", str(root), "--output", str(out))
    link = out / "Timeline" / "2008" / "10" / "a.jpg"
    assert link.is_symlink()
    assert run.json("explain", str(link))["path"] == str(photo)
    on = {"ORGANIZER_VECTORS_ENABLED": "true"}
    assert "could not be read" in run("similar", str(root / "broken.jpg"), code=1, env=on).stderr
    assert "format organizer does not read" in run("similar", str(root / "scan.jp2"), code=1, env=on).stderr


def test_exports_dated_only_by_ifd0_datetime_make_no_event(tmp_path: Path, run: Cli) -> None:
    """27 stock photos exported together carry only the export time (IFD0 DateTime)."""
    root, out = tmp_path / "Pictures", tmp_path / "Albums"
    for i in range(27):
        make_jpeg(root / f"stock{i:02d}.jpg", datetime=f"2015:03:04 10:{i:02d}:00", seed=i)
    report = run.json("organize", str(root), "--output", str(out))
    assert report["cluster"]["groups"]["event"] == 0
    assert len(list((out / "Timeline" / "2015" / "03").iterdir())) == 27
    assert run.json("explain", str(root / "stock00.jpg"))["taken_at_source"] == "exif-modified"


def test_blank_and_tiny_images_are_in_no_similar_group(tmp_path: Path, run: Cli) -> None:
    root, out = tmp_path / "Pictures", tmp_path / "Albums"
    for i in range(4):
        make_jpeg(root / f"blank{i}.jpg", color=(250, 250, 250 - i), size=(400 + i, 300), mtime=1e9 + i)
    for i in range(3):
        make_jpeg(root / f"icon{i}.jpg", seed=7, size=(48, 36), quality=60 + 10 * i)
    on = {"ORGANIZER_VECTORS_ENABLED": "true"}
    report = run.json("organize", str(root), "--output", str(out), env=on)
    assert report["scan"]["indexed"] == 7
    assert report["cluster"]["groups"].get("similar", 0) == 0
    assert not (out / "Similar").exists()
