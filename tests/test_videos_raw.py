"""Videos (PyAV writes them with any creation time, place and rotation), RAW files from the
corpora, and the worker's outcomes for both."""

from __future__ import annotations

import io
import sqlite3
from datetime import datetime, timezone
from pathlib import Path

import av
import numpy as np
import pytest
from PIL import Image

from organizer.extract import Options, extract_file
from organizer.catalog import Catalog
from organizer.workers import Task, WorkerSettings, process_file

from conftest import CORPORA, make_video

NOW = datetime(2026, 11, 22, 12, 0)


def facts(path: Path, **kw):
    return extract_file(str(path), path.stat().st_mtime, NOW, Options(**kw))


def test_iphone_mov_apple_keys_give_local_time_offset_place_camera_and_live_key(tmp_path: Path) -> None:
    path = make_video(tmp_path / "IMG_0001.MOV", metadata={
        "creation_time": "2021-07-04T18:30:00.000000Z",
        "com.apple.quicktime.creationdate": "2021-07-04T20:30:00+0200",
        "com.apple.quicktime.location.ISO6709": "+48.8583+002.2945+035.000/",
        "com.apple.quicktime.make": "Apple", "com.apple.quicktime.model": "iPhone 12",
        "com.apple.quicktime.content.identifier": "6F9C2B9A-3C43-4B63-8F41-1234567890AB"})
    f = facts(path)
    assert f.kind == "video" and f.format == "mov" and (f.width, f.height) == (96, 64)
    assert (f.taken.local, f.taken.source, f.taken.offset_minutes, f.taken.offset_source) == (
        datetime(2021, 7, 4, 20, 30), "quicktime", 120, "quicktime-offset")
    assert (f.lat, f.lon, f.alt) == (48.8583, 2.2945, 35.0)
    assert (f.make, f.model, f.sources["camera"]) == ("Apple", "iPhone 12", "quicktime")
    assert f.content_id == "6F9C2B9A-3C43-4B63-8F41-1234567890AB"
    assert f.duration == pytest.approx(3.0, abs=0.2)
    assert f.phash and f.thumbnail and f.decode_error is None


def test_android_mp4_utc_creation_time_and_the_position_zone(tmp_path: Path) -> None:
    path = make_video(tmp_path / "VID_android.mp4", fmt="mp4", metadata={
        "creation_time": "2020-01-15T08:00:00.000000Z", "location": "+35.6762+139.6503/"})
    f = facts(path)
    assert (f.taken.source, f.taken.offset_source, f.taken.offset_minutes) == ("quicktime", "gps-timezone", 540)
    assert f.taken.local == datetime(2020, 1, 15, 17, 0) and f.taken.utc == datetime(2020, 1, 15, 8, 0)


def test_utc_only_video_without_place_uses_the_given_zone(tmp_path: Path) -> None:
    path = make_video(tmp_path / "clip.mp4", fmt="mp4", metadata={"creation_time": "2020-01-15T08:00:00Z"})
    f = facts(path, local_zone=timezone.utc)
    assert (f.taken.local, f.taken.offset_source) == (datetime(2020, 1, 15, 8, 0), "system")


def test_the_thumbnail_is_not_the_black_first_frame(tmp_path: Path) -> None:
    f = facts(make_video(tmp_path / "black-start.mp4", fmt="mp4", black=12))
    thumb = np.asarray(Image.open(io.BytesIO(f.thumbnail)).convert("L"), dtype=float)
    assert thumb.std() > 20


def test_rotated_video_is_displayed_portrait(tmp_path: Path) -> None:
    f = facts(make_video(tmp_path / "portrait.mov", rotation=-90))
    assert (f.width, f.height) == (64, 96)
    assert Image.open(io.BytesIO(f.thumbnail)).height > Image.open(io.BytesIO(f.thumbnail)).width


@pytest.mark.parametrize("name, fmt, codec", [("clip.mkv", "matroska", "mpeg4"), ("clip.avi", "avi", "mpeg4"),
                                              ("clip.webm", "webm", "libvpx"), ("clip.3gp", "3gp", "mpeg4"),
                                              ("clip.m2ts", "mpegts", "mpeg2video"), ("clip.wmv", "asf", "wmv2")])
def test_other_containers_are_videos(tmp_path: Path, name: str, fmt: str, codec: str) -> None:
    try:
        path = make_video(tmp_path / name, fmt=fmt, codec=codec)
    except (av.FFmpegError, ValueError) as exc:
        pytest.skip(f"this FFmpeg build cannot write {fmt}/{codec}: {exc}")
    f = facts(path)
    assert f.kind == "video" and f.thumbnail and f.duration and f.taken.source == "mtime"


def test_a_broken_video_keeps_its_name_date_and_says_why(tmp_path: Path) -> None:
    good = make_video(tmp_path / "good.mp4", fmt="mp4")
    bad = tmp_path / "VID_20200101_123456.mp4"
    bad.write_bytes(good.read_bytes()[:200])
    f = facts(bad)
    assert f.kind == "video" and f.decode_error and f.taken.source == "filename"


def settings(tmp_path: Path) -> WorkerSettings:
    db = tmp_path / "catalog.db"
    Catalog(db).close()
    return WorkerSettings(str(db), str(tmp_path / "thumbs"), 1 << 20, str(tmp_path / "cache"))


def test_worker_outcomes_for_videos_broken_pixels_and_other_files(tmp_path: Path) -> None:
    from conftest import make_jpeg

    s = settings(tmp_path)
    lookup = Catalog(s.catalog_path, readonly=True).photos
    video = make_video(tmp_path / "big.mov", frames=20)
    out = process_file(Task(str(video), 0.0), WorkerSettings(s.catalog_path, s.thumbs_dir, 10, s.cache_dir),
                       lookup, None)
    assert out.kind == "photo" and out.facts.kind == "video" and Path(out.thumb).is_file()  # no size bound
    good = make_jpeg(tmp_path / "good.jpg", size=(300, 200), original="2008:10:22 16:28:39")
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(good.read_bytes()[:-400])
    out = process_file(Task(str(broken), 0.0), s, lookup, None)
    assert out.kind == "error" and out.facts.taken.source == "exif" and out.digest
    (tmp_path / "movie.mp4").write_text("not a video")
    out = process_file(Task(str(tmp_path / "movie.mp4"), 0.0), s, lookup, None)
    assert (out.kind, out.message) == ("error", "not a supported video (unrecognised content)")
    (tmp_path / "notes.txt").write_text("hello")
    assert process_file(Task(str(tmp_path / "notes.txt"), 0.0), s, lookup, None).kind == "ignored"


RAW_FILES = ["A_exif-py-extras/raw/nikon_z_9_high_efficiency_compressed_dx_cropped_max_overexposed.dng"]


def test_raw_files_from_the_corpora_have_sensor_size_and_dates() -> None:
    if not CORPORA.is_dir():
        pytest.skip("../shared/corpora is not present")
    raws = sorted(p for p in CORPORA.rglob("*") if p.suffix.lower() in (".dng", ".arw"))
    assert raws
    for path in raws:
        f = facts(path)
        assert f.kind == "raw", path
        assert f.width * f.height > 1_000_000 or f.decode_error, (path, f.width, f.height)
        assert f.taken.source == "exif", path
        assert f.thumbnail or f.decode_error, path
