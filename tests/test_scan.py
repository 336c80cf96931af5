"""`organizer scan` and friends on real folders, a real catalog and real worker processes."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from PIL import Image

from organizer.catalog import Catalog
from organizer.cli import reports

from conftest import Cli, gps_ifd, make_jpeg, organizer_subprocess, picture, processes_of, wait_for


def photos_dir(tmp_path: Path) -> Path:
    root = tmp_path / "Pictures"
    make_jpeg(root / "2008" / "DSCN0010.jpg", original="2008:10:22 16:28:39", gps=gps_ifd(43.4674483, 11.8851267),
              make="NIKON", model="COOLPIX P6000", seed=1)
    make_jpeg(root / "2008" / "DSCN0012.jpg", original="2008:10:22 16:29:49", seed=2)
    make_jpeg(root / "phone" / "IMG_20200101_123456.jpg", seed=3)
    return root


def test_scan_then_explain_status_and_errors(tmp_path: Path, run: Cli) -> None:
    root = photos_dir(tmp_path)
    (root / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0" + b"\x00" * 100)
    (root / "empty.jpg").write_bytes(b"")
    (root / "notes.txt").write_text("not a photo")
    report = run.json("scan", str(root))
    assert (report["indexed"], report["errors"], report["ignored"], report["seen"]) == (3, 2, 1, 6)

    status = run.json("status")
    assert {k: status[k] for k in ("files", "photos", "errors", "missing")} == {
        "files": 3, "photos": 3, "errors": 2, "missing": 0}
    assert status["last_runs"]["scan"]["finished"]

    info = run.json("explain", str(root / "2008" / "DSCN0010.jpg"))
    assert info["taken_at"] == "2008-10-22T16:28:39"
    assert info["taken_at_utc"] == "2008-10-22T14:28:39"
    assert (info["utc_offset"], info["taken_at_source"]) == (120, "exif")
    assert info["lat"] == pytest.approx(43.4674483, abs=1e-5) and info["lon"] == pytest.approx(11.8851267, abs=1e-5)
    assert info["camera"] == "NIKON COOLPIX P6000"
    assert (info["width"], info["height"]) == (64, 48)
    assert len(info["phash"]) == 16 and len(info["dhash"]) == 16 and len(info["digest"]) == 32
    assert info["albums"] == []
    assert Path(info["thumbnail"]).is_file()

    phone = run.json("explain", str(root / "phone" / "IMG_20200101_123456.jpg"))
    assert (phone["taken_at"], phone["taken_at_source"]) == ("2020-01-01T12:34:56", "filename")

    errors = run.json("errors")
    assert {Path(e["path"]).name: e["message"] for e in errors} == {
        "empty.jpg": "empty file",
        "broken.jpg": "cannot decode: corrupt, truncated or unsupported image data",
    }
    text = run("errors").stdout
    assert "empty.jpg: [extract] empty file" in text and "2 errors" in text

    # the same errors are not counted twice on a rescan
    again = run.json("scan", str(root))
    assert (again["unchanged"], again["errors"]) == (6, 0)
    assert run.json("status")["errors"] == 2


def test_unchanged_files_are_not_reopened(tmp_path: Path, run: Cli) -> None:
    root = photos_dir(tmp_path)
    run.json("scan", str(root))
    target = root / "2008" / "DSCN0012.jpg"
    before = run.json("explain", str(target))
    st = target.stat()
    with open(target, "r+b") as fh:  # same size, same inode, same mtime: garbage inside
        fh.write(b"\x00" * st.st_size)
    os.utime(target, ns=(st.st_atime_ns, st.st_mtime_ns))
    report = run.json("scan", str(root))
    assert (report["unchanged"], report["indexed"], report["errors"]) == (3, 0, 0)
    assert run.json("explain", str(target))["digest"] == before["digest"]


def test_changed_file_is_extracted_again(tmp_path: Path, run: Cli) -> None:
    root = photos_dir(tmp_path)
    run.json("scan", str(root))
    target = root / "2008" / "DSCN0012.jpg"
    old = run.json("explain", str(target))
    make_jpeg(target, original="2011:11:11 11:11:11", seed=9)
    report = run.json("scan", str(root))
    assert report["indexed"] == 1
    new = run.json("explain", str(target))
    assert new["digest"] != old["digest"] and new["taken_at"] == "2011-11-11T11:11:11"
    assert not Path(old["thumbnail"]).exists()  # the old content's catalog entry is gone
    assert run.json("status")["photos"] == 3


def test_moves_and_copies_keep_what_was_extracted(tmp_path: Path, run: Cli) -> None:
    root = photos_dir(tmp_path)
    run.json("scan", str(root))
    old = root / "2008" / "DSCN0010.jpg"
    before = run.json("explain", str(old))
    (root / "sorted").mkdir()
    new = root / "sorted" / "Arezzo.jpg"
    old.rename(new)
    copy = root / "copy-of-DSCN0012.jpg"
    copy.write_bytes((root / "2008" / "DSCN0012.jpg").read_bytes())
    report = run.json("scan", str(root))
    assert (report["moved"], report["known"], report["indexed"], report["missing"]) == (1, 1, 0, 0)
    after = run.json("explain", str(new))
    assert after["digest"] == before["digest"] and after["first_seen"] == before["first_seen"]
    assert after["taken_at"] == before["taken_at"]
    twin = run.json("explain", str(copy))
    assert twin["same_content"] == [str(root / "2008" / "DSCN0012.jpg")]
    status = run.json("status")
    assert (status["files"], status["photos"]) == (4, 3)
    run("explain", str(old), code=1)


def test_gone_files_are_marked_missing_not_deleted(tmp_path: Path, run: Cli) -> None:
    root = photos_dir(tmp_path)
    run.json("scan", str(root))
    gone = root / "phone" / "IMG_20200101_123456.jpg"
    data = gone.read_bytes()
    gone.unlink()
    assert run.json("scan", str(root))["missing"] == 1
    info = run.json("explain", str(gone))
    assert info["state"] == "missing" and info["missing_since"] and info["digest"]
    assert run.json("status")["missing"] == 1
    gone.write_bytes(data)  # it comes back
    report = run.json("scan", str(root))
    assert (report["known"], report["indexed"]) == (1, 0)
    assert run.json("explain", str(gone))["state"] == "ok"
    assert run.json("status")["missing"] == 0


def test_offline_root_is_skipped_and_nothing_goes_missing(tmp_path: Path, run: Cli) -> None:
    root = photos_dir(tmp_path)
    run.json("scan", str(root))
    away = tmp_path / "unmounted"
    root.rename(away)  # the share is gone
    report = run.json("scan", str(root))
    assert report["offline"] == {str(root): "absent"} and report["missing"] == 0
    root.mkdir()  # an empty mount point
    report = run.json("scan", str(root))
    assert report["offline"] == {str(root): "empty"} and report["missing"] == 0
    assert "offline:" in run("scan", str(root)).stdout
    status = run.json("status")
    assert (status["files"], status["missing"]) == (3, 0)
    root.rmdir()
    away.rename(root)
    assert run.json("scan", str(root))["unchanged"] == 3


def test_a_root_never_seen_must_exist(tmp_path: Path, run: Cli) -> None:
    result = run("scan", str(tmp_path / "nowhere"), code=1)
    assert result.stderr.strip() == f"organizer: error: photo folder not found: {tmp_path / 'nowhere'}"


def test_exclusions_hidden_nas_folders_globs_and_output(tmp_path: Path, run: Cli) -> None:
    root = tmp_path / "Pictures"
    make_jpeg(root / "keep.jpg", seed=1)
    for skipped in ["@eaDir/SYNOPHOTO_THUMB_XL.jpg", "#recycle/old.jpg", "#snapshot/a.jpg", ".stfolder/b.jpg",
                    ".thumbnails/c.jpg", ".hidden/d.jpg", ".hidden-file.jpg", "Albums/e.jpg", "private/f.jpg",
                    "clip.part", "IMG_1.JPG.tmp", "~lock.jpg", ".syncthing.x.jpg.tmp", "movie.crdownload"]:
        make_jpeg(root / skipped, seed=2)
    env = {"ORGANIZER_SCAN_EXCLUDE": "private/*", "ORGANIZER_OUTPUT_PATH": str(root / "Albums")}
    report = run.json("scan", str(root), env=env)
    assert report["seen"] == 1 and report["indexed"] == 1


def test_extensions_in_any_case_and_non_ascii_names(tmp_path: Path, run: Cli) -> None:
    root = tmp_path / "Фото"
    make_jpeg(root / "fin de journée.JPG", seed=1)
    make_jpeg(root / "写真.JpEg", seed=2)
    make_jpeg(root / "no_extension", seed=3)
    make_jpeg(root / "misnamed.png", seed=4)
    picture((30, 30), 5).save(root / "really.webp", "WEBP")
    report = run.json("scan", str(root))
    assert report["indexed"] == 5 and report["errors"] == 0
    assert run.json("explain", str(root / "misnamed.png"))["format"] == "jpeg"
    assert run.json("explain", str(root / "写真.JpEg"))["format"] == "jpeg"


def test_symlink_loops_do_not_hang(tmp_path: Path, run: Cli) -> None:
    root = tmp_path / "Pictures"
    make_jpeg(root / "a" / "one.jpg", seed=1)
    (root / "a" / "loop").symlink_to(root)
    (root / "a" / "self").symlink_to(root / "a")
    (root / "link.jpg").symlink_to(root / "a" / "one.jpg")
    report = run.json("scan", str(root))
    assert report["seen"] == 1  # symlinks are not followed by default
    run2 = Cli(tmp_path / "follow.db")
    report = run2.json("scan", str(root), env={"ORGANIZER_SCAN_FOLLOW_SYMLINKS": "true"})
    assert report["known"] + report["indexed"] == report["seen"] >= 2
    assert run2.json("status")["photos"] == 1


@pytest.mark.skipif(not hasattr(os, "geteuid"), reason="POSIX permissions")
def test_unreadable_folder_is_an_error_row_not_the_end(tmp_path: Path) -> None:
    root = tmp_path / "Pictures"
    make_jpeg(root / "ok.jpg", seed=1)
    make_jpeg(root / "locked" / "secret.jpg", seed=2)
    (root / "locked").chmod(0)
    catalog = tmp_path / "cat.db"
    env = {**os.environ, "XDG_CACHE_HOME": str(tmp_path / "cache"), "PYTHONPATH": str(Path(__file__).parent.parent)}
    user = []
    if os.geteuid() == 0:  # root reads everything: drop the capabilities that let it
        user = ["setpriv", "--bounding-set=-dac_override,-dac_read_search"]
    try:
        proc = subprocess.run([*user, sys.executable, "-m", "organizer", "--catalog", str(catalog), "scan",
                               "--json", str(root)], env=env, capture_output=True, text=True, timeout=120)
    finally:
        (root / "locked").chmod(0o755)
    assert proc.returncode == 0, proc.stderr
    assert "cannot read folder" in proc.stderr
    with Catalog(catalog, readonly=True) as cat:
        assert reports.status(cat)["files"] == 1
        assert [(Path(e["path"]).name, e["stage"]) for e in reports.errors(cat)] == [("locked", "scan")]


def test_bad_inputs_become_error_rows_and_the_run_goes_on(tmp_path: Path, run: Cli) -> None:
    root = tmp_path / "Pictures"
    good = make_jpeg(root / "good.jpg", seed=1)
    data = good.read_bytes()
    (root / "truncated.jpg").write_bytes(data[: len(data) // 3])
    (root / "corrupt.heic").write_bytes(b"\x00\x00\x00\x18ftypheic" + bytes(range(200)))
    (root / "empty.png").write_bytes(b"")
    (root / "huge.jpg").write_bytes(data + os.urandom(2 * 1024 * 1024))
    (root / "text.jpg").write_text("I am not a JPEG")
    Image.new("RGB", (9000, 9000)).save(root / "slow.png")  # decodes in about a second
    env = {"ORGANIZER_SCAN_MAX_FILE_MB": "1", "ORGANIZER_SCAN_FILE_TIMEOUT_S": "0.1"}
    report = run.json("scan", str(root), env=env)
    assert report["indexed"] == 1 and report["errors"] == 6
    messages = {Path(e["path"]).name: e["message"] for e in run.json("errors")}
    assert messages["empty.png"] == "empty file"
    assert messages["huge.jpg"].startswith("file too large")
    assert messages["text.jpg"] == "not a supported image (unrecognised content)"
    assert messages["slow.png"] == "timed out after 0.1 s"
    assert "truncated" in messages["truncated.jpg"].lower()
    assert messages["corrupt.heic"]
    # unchanged failures are not retried on their own ...
    assert run.json("scan", str(root), env={"ORGANIZER_SCAN_MAX_FILE_MB": "10"})["unchanged"] == 7
    # ... but on request: with room and time the large ones are indexed and their error rows go away
    report = run.json("scan", "--retry-errors", str(root), env={"ORGANIZER_SCAN_MAX_FILE_MB": "10"})
    assert report["indexed"] == 2  # huge.jpg (a JPEG with trailing bytes) and slow.png
    assert set(Path(e["path"]).name for e in run.json("errors")) == {"truncated.jpg", "corrupt.heic", "empty.png",
                                                                   "text.jpg"}


def test_interrupted_scan_keeps_committed_batches_and_a_rerun_continues(tmp_path: Path) -> None:
    root = tmp_path / "Pictures"
    for i in range(300):
        make_jpeg(root / f"IMG_{i:04d}.jpg", size=(320, 240), seed=i)
    catalog = tmp_path / "cat.db"
    env = {**os.environ, "ORGANIZER_SCAN_BATCH_SIZE": "10", "ORGANIZER_SCAN_WORKERS": "1",
           "PYTHONPATH": str(Path(__file__).parent.parent)}
    proc = organizer_subprocess("--catalog", str(catalog), "scan", str(root), env=env,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    count = 0
    while time.monotonic() < deadline and count < 30:
        time.sleep(0.1)
        if catalog.exists():
            try:
                with sqlite3.connect(f"file:{catalog}?mode=ro", uri=True) as db:
                    count = db.execute("SELECT count(*) FROM files").fetchone()[0]
            except sqlite3.OperationalError:
                pass
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 130, err
    assert "interrupted" in err
    with Catalog(catalog, readonly=True) as cat:
        kept = reports.status(cat)["files"]
        assert cat.integrity_check() == "ok"
    assert 30 <= kept < 300
    rerun = subprocess.run([sys.executable, "-m", "organizer", "--catalog", str(catalog), "scan", "--json", str(root)],
                           env=env, capture_output=True, text=True, timeout=300)
    assert rerun.returncode == 0, rerun.stderr
    with Catalog(catalog, readonly=True) as cat:
        status = reports.status(cat)
        assert (status["files"], status["photos"]) == (300, 300)
        assert cat.conn.execute("SELECT count(*) FROM photos").fetchone()[0] == 300


def test_a_scan_killed_with_sigkill_leaves_no_worker_behind(tmp_path: Path) -> None:
    """Workers forked one after another hold each other's pipes, so none would see its parent's
    end close: each notices being orphaned instead."""
    root = tmp_path / "Pictures"
    for i in range(300):
        make_jpeg(root / f"IMG_{i:04d}.jpg", size=(320, 240), seed=i)
    catalog = tmp_path / "cat.db"
    env = {**os.environ, "ORGANIZER_SCAN_BATCH_SIZE": "10", "ORGANIZER_SCAN_WORKERS": "2",
           "XDG_CACHE_HOME": str(tmp_path / "cache"), "PYTHONPATH": str(Path(__file__).parent.parent)}
    proc = organizer_subprocess("--catalog", str(catalog), "scan", str(root), env=env,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_for(lambda: len(processes_of(tmp_path)) == 3, 60, "the scan and its two workers")
    proc.kill()
    proc.wait(10)
    wait_for(lambda: not processes_of(tmp_path), 10, "no worker left")


def test_default_workers_follow_the_cpus_the_scan_may_use(tmp_path: Path) -> None:
    """In a container limited to one CPU (here: the affinity mask, as a cpuset or taskset sets it),
    one worker, not one per CPU of the machine."""
    root = tmp_path / "Pictures"
    for i in range(200):
        make_jpeg(root / f"IMG_{i:04d}.jpg", size=(320, 240), seed=i)
    env = {**os.environ, "XDG_CACHE_HOME": str(tmp_path / "cache"), "PYTHONPATH": str(Path(__file__).parent.parent)}
    env.pop("ORGANIZER_SCAN_WORKERS", None)
    one = min(os.sched_getaffinity(0))
    proc = organizer_subprocess("--catalog", str(tmp_path / "cat.db"), "scan", str(root), env=env,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                preexec_fn=lambda: os.sched_setaffinity(0, {one}))
    most = 0
    while proc.poll() is None:
        most = max(most, len(processes_of(tmp_path)))
        time.sleep(0.05)
    assert proc.returncode == 0
    assert most == 2  # the scan and one worker
    with Catalog(tmp_path / "cat.db", readonly=True) as cat:
        assert cat.conn.execute("SELECT count(*) FROM photos").fetchone()[0] == 200


def test_progress_lines_when_not_a_terminal(tmp_path: Path) -> None:
    root = photos_dir(tmp_path)
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parent.parent)}
    proc = subprocess.run([sys.executable, "-m", "organizer", "--catalog", str(tmp_path / "c.db"), "scan", str(root)],
                          env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0
    assert "progress: 3/3 files" in proc.stderr and "files/s" in proc.stderr
    assert "3 files seen: 3 indexed" in proc.stdout
