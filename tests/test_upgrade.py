"""An upgrade reaches an existing library by one scan (issue 14, "features that know their
version"): files an older organizer called unsupported (its readers knew no videos nor RAW)
are looked at again once, and become items; nothing already read is decoded twice."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from conftest import Cli, make_jpeg, make_video
from organizer import extract
from test_generated_formats import make_dng


def test_an_old_catalog_with_a_video_and_a_raw_unsupported_is_upgraded_by_one_scan(tmp_path: Path, run: Cli) -> None:
    root = tmp_path / "Pictures"
    root.mkdir()
    make_video(root / "clip.mp4", metadata={"creation_time": "2021-07-04T19:00:00.000000Z"})
    make_dng(root / "shot.dng")
    make_jpeg(root / "photo.jpg", original="2021:07:04 21:30:00")
    env = {"ORGANIZER_VECTORS_ENABLED": "false"}
    run("scan", str(root), env=env)
    # the catalog as the first organizer left it: its readers knew neither, so both were
    # 'unsupported' files of no photo, checked by extractor version 1
    with sqlite3.connect(run.catalog) as db:
        db.execute("PRAGMA foreign_keys = ON")
        ids = [r[0] for r in db.execute("SELECT photo_id FROM files WHERE CAST(path AS TEXT) LIKE '%clip.mp4' OR CAST(path AS TEXT) LIKE '%shot.dng'")]
        db.execute("UPDATE files SET state = 'unsupported', photo_id = NULL, checked = 1 "
                   "WHERE CAST(path AS TEXT) LIKE '%clip.mp4' OR CAST(path AS TEXT) LIKE '%shot.dng'")
        db.executemany("DELETE FROM photos WHERE id = ?", [(i,) for i in ids])
    assert extract.EXTRACTOR_VERSION > 1
    report = run.json("scan", str(root), env=env)
    assert (report["indexed"], report["unchanged"]) == (2, 1)  # the two looked at again, the JPEG not decoded
    assert run.json("explain", str(root / "clip.mp4"))["kind"] == "video"
    raw = run.json("explain", str(root / "shot.dng"))
    assert (raw["kind"], raw["state"], raw["taken_at"]) == ("raw", "ok", "2021-07-04T21:00:00")
    again = run.json("scan", str(root), env=env)
    assert (again["indexed"], again["unchanged"]) == (0, 3)  # once
