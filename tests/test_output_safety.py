"""The album tree never reaches outside the output folder, nor into a user's own things inside it
(issue 12, part 1 and the album-name rules of part 7)."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from organizer.publish import naming
from organizer.publish.albums import MARKER

from conftest import Cli, gps_ifd, make_jpeg
from test_publish import AREZZO, library, tree


@pytest.fixture(autouse=True)
def no_vectors(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ORGANIZER_VECTORS_ENABLED", "false")


def organize(run: Cli, root: Path, out: Path) -> dict:
    return run.json("organize", str(root), "--output", str(out))


@contextmanager
def _tmpfs(folder: Path, size: str) -> Iterator[Path]:
    """A disk of `size` (a tmpfs) mounted at `folder`; the test is skipped where mounting needs root."""
    if os.geteuid() != 0:
        pytest.skip("mounting a file system needs root")
    folder.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(folder)], check=True)
    try:
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], capture_output=True, check=False)


def _fill(path: Path, leave: int) -> None:
    """Fill the disk `path` is on but for `leave` bytes."""
    with open(path, "wb", buffering=0) as fh:
        try:
            while True:
                fh.write(b"\0" * 65536)
        except OSError:
            pass
        try:
            while True:
                fh.write(b"\0" * 512)
        except OSError:
            pass
        fh.truncate(os.fstat(fh.fileno()).st_size - leave)


def test_a_symlinked_kind_folder_is_never_followed(tmp_path: Path, run: Cli) -> None:
    root, out, elsewhere = library(tmp_path), tmp_path / "Albums", tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "keep.txt").write_text("a user's folder")
    out.mkdir()
    (out / MARKER).write_text(json.dumps({"managed_by": "organizer", "version": 1, "albums": []}))
    (out / "Events").symlink_to(elsewhere)
    result = run("organize", str(root), "--output", str(out))
    assert sorted(p.name for p in elsewhere.iterdir()) == ["keep.txt"]  # nothing made through the link
    assert "not written (a symlink or a file where its folder should be): Events/" in result.stdout
    links = tree(out)
    assert "Timeline/2008/10/DSCN0011.jpg" in links and any(k.startswith("Places/Italy/Arezzo/") for k in links)
    assert run.json("publish", "--output", str(out))["unsafe"]  # again: still left alone, no crash


def test_an_album_replaced_by_a_symlink_to_a_users_folder_is_left_alone(tmp_path: Path, run: Cli) -> None:
    root, out = library(tmp_path), tmp_path / "Albums"
    organize(run, root, out)
    mine = tmp_path / "my-best"
    mine.mkdir()
    (mine / "best.jpg").symlink_to(root / "italy" / "DSCN0010.jpg")  # a user's own link
    album = out / "Events" / "2008-10-22 Arezzo"
    for link in album.iterdir():
        link.unlink()
    album.rmdir()
    album.symlink_to(mine)
    report = organize(run, root, out)["publish"]
    assert report["unsafe"] == ["Events/2008-10-22 Arezzo"]
    assert [p.name for p in mine.iterdir()] == ["best.jpg"] and (mine / "best.jpg").is_symlink()
    (root / "italy" / "DSCN0012.jpg").unlink()  # the album changes: still nothing through the link
    organize(run, root, out)
    assert [p.name for p in mine.iterdir()] == ["best.jpg"]


def test_a_users_own_links_and_folders_in_an_album_are_kept(tmp_path: Path, run: Cli) -> None:
    root, out = library(tmp_path), tmp_path / "Albums"
    organize(run, root, out)
    album = out / "Events" / "2008-10-22 Arezzo"
    best = tmp_path / "srv" / "best.jpg"
    make_jpeg(best, seed=77)
    (album / "my-favourite.jpg").symlink_to(best)
    (album / "picks").mkdir()
    (album / "empty").mkdir()
    (album / "picks" / "one.jpg").symlink_to(root / "italy" / "DSCN0011.jpg")
    # the album is updated (a photo more) ...
    make_jpeg(root / "italy" / "DSCN0013.jpg", original="2008:10:22 16:35:00", gps=gps_ifd(*AREZZO), seed=5,
              size=(96, 64))
    organize(run, root, out)
    assert (album / "DSCN0013.jpg").is_symlink()
    assert os.readlink(album / "my-favourite.jpg") == str(best)
    assert (album / "picks" / "one.jpg").is_symlink() and (album / "empty").is_dir()
    # ... then removed: organizer's links go, the user's things stay
    for f in (root / "italy").rglob("*.jpg"):
        f.unlink()
    report = organize(run, root, out)["publish"]
    assert "Events/2008-10-22 Arezzo" in report["kept_foreign"]
    assert sorted(p.name for p in album.iterdir()) == ["empty", "my-favourite.jpg", "picks"]


def test_album_names_carry_no_count_and_keep_their_folder_as_photos_come(tmp_path: Path, run: Cli) -> None:
    root, out = library(tmp_path), tmp_path / "Albums"
    organize(run, root, out)
    album = out / "Events" / "2008-10-22 Arezzo"
    assert album.is_dir()
    make_jpeg(root / "italy" / "DSCN0013.jpg", original="2008:10:22 16:35:00", gps=gps_ifd(*AREZZO), seed=5,
              size=(96, 64))
    organize(run, root, out)
    assert (album / "DSCN0013.jpg").is_symlink()  # the same folder name, one photo more
    assert sorted(p.name for p in (out / "Events").iterdir()) == ["2008-10-22 Arezzo",
                                                                  "2024-07-12 - 2024-07-13 Lisbon"]


def test_a_tree_published_with_counted_names_is_renamed_keeping_a_users_files(tmp_path: Path, run: Cli) -> None:
    """Catalogs and trees of earlier organizers named albums 'Arezzo (4)': the folder is renamed,
    and what a user put in it moves with it."""
    root, out = library(tmp_path), tmp_path / "Albums"
    organize(run, root, out)
    old = out / "Events" / "2008-10-22 Arezzo (4)"
    (out / "Events" / "2008-10-22 Arezzo").rename(old)
    (old / "notes.txt").write_text("mine")
    marker = json.loads((out / MARKER).read_text())
    marker["albums"] = [a.replace("2008-10-22 Arezzo", "2008-10-22 Arezzo (4)") for a in marker["albums"]]
    (out / MARKER).write_text(json.dumps(marker))
    with sqlite3.connect(run.catalog) as db:  # as the earlier organizer recorded it
        db.execute("UPDATE albums SET path = ? WHERE path = ?", ("Events/2008-10-22 Arezzo (4)",
                                                                 "Events/2008-10-22 Arezzo"))
    report = run.json("publish", "--output", str(out))
    assert report["renamed"] == 1
    new = out / "Events" / "2008-10-22 Arezzo"
    assert (new / "notes.txt").read_text() == "mine" and not old.exists()
    assert sorted(p.name for p in new.iterdir() if p.is_symlink()) == [
        "DSCN0010 (2).jpg", "DSCN0010.jpg", "DSCN0011.jpg", "DSCN0012.jpg"]


def test_link_names_fit_255_bytes_keep_their_extension_and_lose_controls_and_bidi() -> None:
    long = "é" * 200 + ".jpeg"
    name = naming.link_names([f"/p/{long}"])[f"/p/{long}"]
    assert len(name.encode()) <= 255 and name.endswith(".jpeg") and name.startswith("é")
    tricky = "invoice\u202egpj.exe\u2066x\u2069\x85\x9b\x01.jpg"
    assert naming.link_names([f"/p/{tricky}"])[f"/p/{tricky}"] == "invoice gpj.exe x.jpg"
    # two long names that are the same once cut are still told apart, and both fit
    a, b = "x" * 300 + "1.jpg", "x" * 300 + "2.jpg"
    names = naming.link_names([f"/p/{a}", f"/p/{b}"])
    assert len(set(names.values())) == 2 and all(len(n.encode()) <= 255 and n.endswith(".jpg")
                                                 for n in names.values())


def test_an_output_holding_only_os_litter_is_accepted_as_empty(tmp_path: Path, run: Cli) -> None:
    root, out = library(tmp_path), tmp_path / "Albums"
    out.mkdir()
    (out / ".DS_Store").write_bytes(b"\0\0\0\1Bud1")
    (out / "lost+found").mkdir()
    (out / "Thumbs.db").write_bytes(b"x")
    organize(run, root, out)
    assert (out / MARKER).is_file() and (out / ".DS_Store").is_file()
    (tmp_path / "Other").mkdir()
    (tmp_path / "Other" / "tax-2019.pdf").write_text("a user's file")
    run("organize", str(root), "--output", str(tmp_path / "Other"), code=1)  # still refused


def test_an_output_on_an_unplugged_disk_is_offline(tmp_path: Path, run: Cli) -> None:
    """The output lived on a disk mounted at usb/ (a tmpfs here); unplugged, the mount point is an
    empty folder on another device: nothing is written into it, and it comes back whole."""
    if os.geteuid() != 0:
        pytest.skip("mounting a file system needs root")
    root, usb = library(tmp_path), tmp_path / "usb"
    usb.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=16m", "tmpfs", str(usb)], check=True)
    out = usb / "Albums"
    try:
        organize(run, root, out)
        assert (out / MARKER).is_file()
        subprocess.run(["umount", str(usb)], check=True)
        result = run("publish", "--output", str(out), code=1)
        assert "offline" in result.stderr or "not mounted" in result.stderr
        assert list(usb.iterdir()) == []  # the mount point stays empty
        out.mkdir()  # an empty folder of the same name on the wrong disk
        run("publish", "--output", str(out), code=1)
        assert list(out.iterdir()) == []
        out.rmdir()
    finally:
        subprocess.run(["umount", "-l", str(usb)], capture_output=True)
    # a deleted output on the disk it was on is rebuilt (the user asked for it)
    other = tmp_path / "Albums2"
    organize(run, root, other)
    import shutil

    shutil.rmtree(other)
    assert run.json("publish", "--output", str(other))["written"] > 3


def test_a_full_output_disk_is_a_one_line_error_leaving_no_partial_file(tmp_path: Path, run: Cli) -> None:
    """The output's disk fills while the gallery is written (its assets alone are over 1 MB): the
    command says so in one line (it was an OSError traceback), leaves no half-written temporary
    file to fill the disk further, keeps the album folders and their records, and the next
    publish with room again completes."""
    root = library(tmp_path)
    with _tmpfs(tmp_path / "disk", "4m") as disk:
        out, filler = disk / "Albums", disk / "filler"
        _fill(filler, 256 * 1024)  # room for links, not the assets
        result = run("organize", str(root), "--output", str(out), code=1)
        assert "the gallery and the map could not be written (No space left on device)" in result.stderr
        assert "Traceback" not in result.output
        assert [line for line in result.stderr.splitlines() if not line.startswith("progress")] == [
            f"organizer: error: {out}: the gallery and the map could not be written (No space left on device); "
            "the album folders are up to date"]
        assert not [p for p in out.rglob("*") if p.name.endswith(".tmp")]
        assert "Timeline/2008/10/DSCN0011.jpg" in tree(out)  # the album folders were written ...
        filler.unlink()
        report = run.json("publish", "--output", str(out))
        assert report["written"] == 0 and report["gallery"]  # ... and recorded: none written again and (out / "index.html").is_file()
        assert (out / "map.html").is_file() and not [p for p in out.rglob("*") if p.name.endswith(".tmp")]


def test_a_quick_update_whose_gallery_write_failed_shows_its_albums_when_retried(tmp_path: Path, run: Cli) -> None:
    """The daemon's quick update (the library's quick publish, as the daemon calls it) on a full
    disk: the album folders change (a symlink and a removal need no data block) but the gallery
    cannot be written. Retried with room again (the daemon keeps the batch and tries again), the
    gallery shows the changes: the album's page and card show the new photo (they kept the old
    ones until the next full publish: the album's digest was recorded, so the retry took it as
    unchanged), and the album gone meanwhile (its only photo deleted) left the index."""
    from organizer import config, publish
    from organizer.catalog import Catalog
    from organizer.errors import OutputError
    from organizer.publish import thumbs

    root = library(tmp_path)
    for i in range(20):  # pages of more than one 4 KB block
        make_jpeg(root / "italy" / "more" / f"M{i}.jpg", original=f"2008:10:22 17:{i:02d}:00", seed=40 + i,
                  size=(48, 32))
    cfg = config.load(env={"ORGANIZER_VECTORS_ENABLED": "false"},
                      overrides={"catalog.path": (str(run.catalog), "test")})
    with _tmpfs(tmp_path / "disk", "16m") as disk:
        out, filler = disk / "Albums", disk / "filler"
        manifest = out / "map" / "pages" / "manifest.json"
        organize(run, root, out)
        assert "Timeline/Undated" in json.loads(manifest.read_text())["albums"]
        with Catalog(run.catalog) as catalog:
            scan = catalog.files.row(str(root / "scans" / "scan.jpg"))["photo_id"]
        (root / "scans" / "scan.jpg").unlink()
        make_jpeg(root / "italy" / "DSCN0099.jpg", original="2008:10:22 16:35:00", seed=99, size=(96, 64))
        run("scan", str(root))
        with Catalog(run.catalog) as catalog:
            touched = {catalog.files.row(str(root / "italy" / "DSCN0099.jpg"))["photo_id"], scan}
            _fill(filler, 4096)  # room for the marker's one block, not for an album's page
            with pytest.raises(OutputError, match="the gallery and the map could not be written"):
                publish.publish(catalog, cfg, str(out), with_map=False, verify=False, touched=touched)
            assert (out / "Timeline" / "2008" / "10" / "DSCN0099.jpg").is_symlink()  # the folders are written
            assert not (out / "Timeline" / "Undated").exists()
            filler.unlink()
            publish.publish(catalog, cfg, str(out), with_map=False, verify=False, touched=touched)  # the retry
            thumb = "thumbs/" + thumbs.name(catalog.photos.row(min(touched - {scan}))["digest"])
        cards = json.loads(manifest.read_text())["albums"]
        page = (out / "map" / "pages" / cards["Timeline/2008/10"]["card"]["page"]).read_text()
        assert "DSCN0099.jpg" in page and thumb in page and (out / "map" / thumb).is_file()
        assert cards["Timeline/2008/10"]["card"]["count"] == 25  # the index's card counts it
        assert "Timeline/Undated" not in cards and "Undated" not in (out / "index.html").read_text()


def test_an_output_disk_with_no_room_at_all_is_a_one_line_error(tmp_path: Path, run: Cli) -> None:
    """Not a block left: even the marker file (the list of organizer's albums, rewritten as albums
    come and go) cannot be written. One line (it was an OSError traceback), and the next publish
    with room again completes."""
    root = library(tmp_path)
    with _tmpfs(tmp_path / "disk", "16m") as disk:
        out, filler = disk / "Albums", disk / "filler"
        organize(run, root, out)
        make_jpeg(root / "later" / "L.jpg", original="2011:03:01 10:00:00", seed=77, size=(96, 64))  # a new album
        _fill(filler, 0)
        result = run("organize", str(root), "--output", str(out), code=1)
        assert "Traceback" not in result.output
        assert [line for line in result.stderr.splitlines() if not line.startswith("progress")] == [
            f"organizer: error: {out / MARKER}: the marker file could not be written (No space left on device); "
            "the albums are written again next time"]
        filler.unlink()
        run("publish", "--output", str(out))
        assert "Timeline/2011/03/L.jpg" in tree(out) and (out / "index.html").is_file()
