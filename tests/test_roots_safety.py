"""A root that only looks empty, a folder that cannot be read, a disk that went away: nothing is
marked missing (issue 12, part 2), and what the walker skips stays skipped (part 4)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from organizer.publish.albums import MARKER

from conftest import Cli, make_jpeg

needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="mounting a file system needs root")


def photos(root: Path, n: int = 5, start: int = 0) -> list[Path]:
    return [make_jpeg(root / f"IMG_{i:03d}.jpg", original=f"2020:01:01 10:{i:02d}:00", seed=i)
            for i in range(start, start + n)]


def test_a_root_holding_only_os_litter_is_offline(tmp_path: Path, run: Cli) -> None:
    root = tmp_path / "share"
    photos(root / "2020", 50)
    out = tmp_path / "Albums"
    run.json("organize", str(root), "--output", str(out))
    # the share goes away; the mount point holds what NAS systems and desktops leave
    shutil.rmtree(root)
    root.mkdir()
    for junk in (".DS_Store", "Thumbs.db", "desktop.ini"):
        (root / junk).write_bytes(b"\0")
    for folder in ("@eaDir", "#recycle", "#snapshot", ".Trash-1000", "lost+found"):
        (root / folder).mkdir()
    report = run.json("organize", str(root), "--output", str(out))
    assert report["scan"]["offline"] == {str(root): "empty"} and report["scan"]["missing"] == 0
    assert run.json("status")["missing"] == 0
    assert len(list((out / "Timeline" / "2020" / "01").iterdir())) == 50  # every album keeps its links


@pytest.mark.skipif(not hasattr(os, "geteuid"), reason="POSIX permissions")
def test_a_folder_that_cannot_be_read_keeps_its_photos(tmp_path: Path, run: Cli) -> None:
    root = tmp_path / "Pictures"
    photos(root, 2)
    photos(root / "locked", 3, start=10)
    run.json("scan", str(root))
    (root / "locked").chmod(0)
    env = {**os.environ, "XDG_CACHE_HOME": str(tmp_path / "cache"), "PYTHONPATH": str(Path(__file__).parent.parent)}
    user = ["setpriv", "--bounding-set=-dac_override,-dac_read_search"] if os.geteuid() == 0 else []
    try:
        proc = subprocess.run([*user, sys.executable, "-m", "organizer", "--catalog", str(run.catalog), "scan",
                               str(root)], env=env, capture_output=True, text=True, timeout=120)
    finally:
        (root / "locked").chmod(0o755)
    assert proc.returncode == 0, proc.stderr
    assert "3 files in folders that could not be read" in proc.stdout
    status = run.json("status")
    assert (status["files"], status["missing"]) == (5, 0)
    assert run.json("explain", str(root / "locked" / "IMG_010.jpg"))["state"] == "ok"
    # readable again: its error row goes away
    assert run.json("scan", str(root))["unchanged"] == 5
    assert run.json("errors") == []


@needs_root
def test_a_mount_point_inside_a_root_whose_disk_went_away_keeps_its_photos(tmp_path: Path, run: Cli) -> None:
    root = tmp_path / "Pictures"
    photos(root, 2)
    usb = root / "usb"
    usb.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=16m", "tmpfs", str(usb)], check=True)
    try:
        photos(usb / "trip", 3, start=10)
        run.json("scan", str(root))
        assert run.json("status")["files"] == 5
        subprocess.run(["umount", str(usb)], check=True)
        report = run.json("scan", str(root))  # usb/ is an empty folder on the parent's disk now
        assert report["missing"] == 0 and report["kept"] == 3
        (usb / "not-a-photo.txt").write_text("written while the disk was away")
        assert run.json("scan", str(root))["missing"] == 0
        (usb / "not-a-photo.txt").unlink()
        # the disk comes back at another device number, the files with new inodes: no decode
        subprocess.run(["mount", "-t", "tmpfs", "-o", "size=16m", "tmpfs", str(usb)], check=True)
        back = photos(usb / "trip", 3, start=10)
        again = run.json("scan", str(root))
        assert (again["indexed"], again["missing"]) == (0, 0) and again["known"] + again["restat"] == 3
        # a file deleted on it now is missing (the device was learnt again)
        back[0].unlink()
        assert run.json("scan", str(root))["missing"] == 1
    finally:
        subprocess.run(["umount", "-l", str(usb)], capture_output=True)


def test_an_output_folder_inside_a_root_is_never_indexed(tmp_path: Path, run: Cli) -> None:
    root = tmp_path / "Pictures"
    photos(root, 3)
    out = root / "Albums"
    run.json("organize", str(root), "--output", str(out))
    assert (out / "map" / "leaflet" / "images" / "marker-icon.png").is_file()
    # a later scan of the root without naming the output: the marker keeps it out
    report = run.json("scan", str(root))
    assert report["seen"] == 3 and report["indexed"] == 0
    # an output of another organizer (or an old one) anywhere inside: the same
    other = root / "old-albums"
    other.mkdir()
    (other / MARKER).write_text("{}")
    make_jpeg(other / "copy.jpg", seed=50)
    assert run.json("scan", str(root))["seen"] == 3
    assert run.json("status")["files"] == 3


def test_a_failed_command_leaves_nothing_behind(tmp_path: Path, run: Cli) -> None:
    out = tmp_path / "Albums"
    run("organize", str(tmp_path / "not-there"), "--output", str(out), code=1)
    assert not out.exists() and not run.catalog.exists()
    run("scan", str(tmp_path / "not-there"), code=1)
    assert not run.catalog.exists()
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "letter.txt").write_text("x")
    root = tmp_path / "Pictures"
    photos(root, 1)
    run("organize", str(root), "--output", str(mine), code=1)
    assert sorted(p.name for p in mine.iterdir()) == ["letter.txt"] and not run.catalog.exists()
