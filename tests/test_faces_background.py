"""Faces are the background pass's: a scan indexes every file first (links and albums never wait
for dlib), then finds faces with its own progress line; the daemon finds them when idle, in
workers at the lowest CPU priority (nice 19), and gives the pass up as soon as a file arrives."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import CORPORA, Daemon, make_jpeg, processes_of, wait_for
from organizer.catalog import Catalog
from organizer.extract import features

FACES = CORPORA / "F_face-recognition"
PHOTOS = ["examples/knn_examples/train/obama/obama.jpg", "examples/knn_examples/train/obama/obama2.jpg",
          "examples/knn_examples/test/obama1.jpg", "examples/knn_examples/train/biden/biden.jpg",
          "examples/knn_examples/train/biden/biden2.jpg"]

pytestmark = [pytest.mark.skipif(not FACES.is_dir(), reason="../shared/corpora/F_face-recognition is not present"),
              pytest.mark.skipif(not features._faces_installed(), reason="the faces extra is not installed")]


def _library(root: Path) -> None:
    root.mkdir(parents=True)
    for f in PHOTOS:
        shutil.copy(FACES / f, root / Path(f).name)


def _faces_done(catalog_path: Path) -> int:
    """Photos whose faces are computed (at the version the default settings make)."""
    version = features.version("faces", {"min_face_px": 40, "min_score": 0.0})
    with Catalog(catalog_path) as catalog:
        return len(catalog.photos.features("faces", version)[0])


def test_a_scan_indexes_everything_before_it_looks_for_faces(tmp_path: Path) -> None:
    root, catalog = tmp_path / "photos", tmp_path / "catalog.db"
    _library(root)
    env = {**os.environ, "ORGANIZER_FACES_ENABLED": "on", "ORGANIZER_VECTORS_ENABLED": "false"}
    done = subprocess.run([sys.executable, "-m", "organizer", "--catalog", str(catalog), "scan", str(root)],
                          capture_output=True, text=True, timeout=300, env=env)
    assert done.returncode == 0, done.stderr
    lines = [ln for ln in done.stderr.splitlines() if ln.startswith("progress")]
    files = [i for i, ln in enumerate(lines) if ln.startswith(f"progress: {len(PHOTOS)}/{len(PHOTOS)} files")]
    faces = [i for i, ln in enumerate(lines) if ln.startswith(f"progress: background (faces): {len(PHOTOS)}/")]
    assert files and faces and files[-1] < faces[0], lines  # every file indexed, then the faces pass
    assert _faces_done(catalog) == len(PHOTOS)


def test_the_daemon_finds_faces_when_idle_in_workers_at_the_lowest_priority(tmp_path: Path) -> None:
    root = tmp_path / "photos"
    root.mkdir()
    daemon = Daemon(tmp_path, root, env={"ORGANIZER_FACES_ENABLED": "on", "ORGANIZER_SCAN_WORKERS": "2"})
    daemon.start()
    try:
        # at nice 19, the pass waits for whatever else this machine runs (other tests, a CI neighbour)
        for f in PHOTOS[:3]:
            shutil.copy(FACES / f, root / Path(f).name)
        wait_for(lambda: _faces_done(daemon.catalog) == 3, 240, "faces of the first photos")
        for f in PHOTOS[3:]:  # photos indexed after an idle round found nothing left to do
            shutil.copy(FACES / f, root / Path(f).name)
        wait_for(lambda: _faces_done(daemon.catalog) == len(PHOTOS), 240, "faces of the later photos")
        niceness = {pid: _nice(pid) for pid in processes_of(tmp_path)}
        assert sorted(n for n in niceness.values() if n is not None).count(19) == 2, niceness  # the pass's 2 workers
        assert any(n == 0 for n in niceness.values()), niceness  # the daemon and its indexing workers

        started = time.monotonic()  # a new photo while the pass has nothing to do: linked at once
        make_jpeg(root / "new.jpg", original="2020:01:01 10:00:00")
        wait_for(lambda: any((daemon.out / "Timeline").rglob("new.jpg")), 60, "the new photo's link")
        assert time.monotonic() - started < 30
    finally:
        daemon.stop()


def _nice(pid: int) -> int | None:
    try:
        return os.getpriority(os.PRIO_PROCESS, pid)
    except OSError:  # gone meanwhile
        return None


def test_small_faces_of_a_12_mp_group_photo_are_found(tmp_path: Path) -> None:
    """The faces pass decodes larger than the index pass: four faces, each about a tenth of a
    12 MP frame's height, are under `min_face_px` in the index pass's 500 x 375 decode."""
    from PIL import Image, ImageOps

    from organizer import config, index
    from organizer.extract import decode, faces

    root = tmp_path / "photos"
    root.mkdir()
    group = Image.new("RGB", (4000, 3000), (120, 130, 125))
    chosen = [PHOTOS[0], PHOTOS[1], PHOTOS[2], "examples/knn_examples/train/biden/biden2.jpg"]
    for i, f in enumerate(chosen):
        face = ImageOps.exif_transpose(Image.open(FACES / f)).convert("RGB")
        face.thumbnail((800, 800))
        group.paste(face, (100 + i * 980, 1100))
    group.save(root / "group.jpg", quality=90)
    with open(root / "group.jpg", "rb") as fh:  # what version 1 looked at: the index pass's decode
        assert len(faces.detect(decode.decode(fh, "jpeg", 320).image, 40, 0.0)) == 0
    cfg = config.load(env={}, overrides={"catalog.path": (str(tmp_path / "catalog.db"), "test"),
                                         "scan.roots": ([str(root)], "test"), "faces.enabled": ("on", "test"),
                                         "vectors.enabled": (False, "test")})
    with Catalog(cfg.catalog.path) as catalog:
        index.index(catalog, cfg, [str(root)])
        _, blobs = catalog.photos.features("faces", features.version("faces", features.wanted(cfg)["faces"]))
    assert [len(faces.unpack(b)) for b in blobs] == [4]


def test_each_face_has_its_crop_in_the_cache_gone_with_its_photo(tmp_path: Path) -> None:
    import glob

    from PIL import Image

    from organizer import config, index
    from organizer.extract import faces
    from organizer.workers import face_crop_paths

    root = tmp_path / "photos"
    _library(root)
    shutil.copy(FACES / "examples/knn_examples/test/obama_and_biden.jpg", root / "both.jpg")
    cfg = config.load(env={}, overrides={"catalog.path": (str(tmp_path / "catalog.db"), "test"),
                                         "catalog.cache_dir": (str(tmp_path / "cache"), "test"),
                                         "scan.roots": ([str(root)], "test"), "faces.enabled": ("on", "test"),
                                         "vectors.enabled": (False, "test")})
    with Catalog(cfg.catalog.path) as catalog:
        index.index(catalog, cfg, [str(root)])
        ids, blobs = catalog.photos.features("faces", features.version("faces", features.wanted(cfg)["faces"]))
        digests = {pid: catalog.photos.row(pid)["digest"] for pid in ids}
    for pid, blob in zip(ids, blobs):
        crops = sorted(glob.glob(face_crop_paths(cfg.catalog.cache_dir, digests[pid])))
        assert len(crops) == len(faces.unpack(blob)) >= 1, (pid, crops)
        for crop in crops:
            with Image.open(crop) as image:
                assert image.size == (faces.CROP_SIDE, faces.CROP_SIDE)
                assert len(faces.detect(image.convert("RGB"), 20, 0.0)) == 1  # a face, centred in its crop
    assert len(glob.glob(face_crop_paths(cfg.catalog.cache_dir, "*").replace("*-*", "*"))) >= len(PHOTOS) + 2
    both = [pid for pid in ids if len(faces.unpack(blobs[ids.index(pid)])) >= 2]  # the two-person photo
    make_jpeg(root / "both.jpg", original="2020:01:01 10:00:00")  # edited into another picture: that photo goes
    with Catalog(cfg.catalog.path) as catalog:
        index.index(catalog, cfg, [str(root)])
    assert both and not glob.glob(face_crop_paths(cfg.catalog.cache_dir, digests[both[0]]))  # gone with its photo
    assert glob.glob(face_crop_paths(cfg.catalog.cache_dir, digests[ids[0]]))  # the others' stay
