"""Faces and People albums (the `faces` extra, installed in CI): real photos of the
face_recognition corpus, a real catalog, the CLI."""

from __future__ import annotations

import csv
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageOps

from conftest import CORPORA, Cli, picture
from organizer.cluster import people
from organizer.extract import faces, features

FACES = CORPORA / "F_face-recognition"
# photos of one known person each: the end-to-end library
ONE_PERSON = {"obama": ["examples/knn_examples/train/obama/obama.jpg", "examples/knn_examples/train/obama/obama2.jpg",
                        "examples/knn_examples/test/obama1.jpg"],
              "biden": ["examples/knn_examples/train/biden/biden.jpg", "examples/knn_examples/train/biden/biden2.jpg"],
              "kit": ["examples/knn_examples/train/kit_harington/john1.jpeg",
                      "examples/knn_examples/train/kit_harington/john2.jpeg"]}


@pytest.fixture(scope="module")
def truth() -> list[tuple[Path, list[str]]]:
    if not FACES.is_dir():
        pytest.skip("../shared/corpora/F_face-recognition is not present")
    with open(FACES / "truth.csv", newline="") as fh:
        return [(FACES / r["file"], r["people"].split(";")) for r in csv.DictReader(fh)]


def _open(path: Path) -> Image.Image:
    return ImageOps.exif_transpose(Image.open(path)).convert("RGB")


def test_faces_are_found_and_no_two_people_are_merged(truth: list[tuple[Path, list[str]]]) -> None:
    photo_of, descriptors, labels = [], [], {}
    for i, (path, names) in enumerate(truth):
        found = faces.unpack(faces.compute(_open(path), {"min_face_px": 40, "min_score": 0.0}))
        assert len(found) >= len(names), (path.name, len(found))  # every labelled face (one photo has a third)
        assert found.descriptor.shape == (len(found), 128) and found.landmarks.shape == (len(found), 5, 2)
        assert ((found.box >= 0) & (found.box <= 1)).all()
        photo_of += [i] * len(found)
        descriptors.append(found.descriptor)
        if len(names) == 1 and names[0] != "?":
            labels[i] = names[0]
    persons = people.find_people(np.array(photo_of), np.concatenate(descriptors), 0.55, 1)
    for person in persons:
        named = {labels[p] for p in person if p in labels}
        assert len(named) <= 1, named  # no person holds the single-person photos of two people
    # each one-person photo's person: the photos of that name are together
    for name in {"obama", "biden", "kit_harington", "rose_leslie", "alex_lacamoire"}:
        mine = {p for p, n in labels.items() if n == name}
        assert any(mine <= person for person in persons), name


def test_a_photo_with_no_face_has_no_faces() -> None:
    landscape = picture((1024, 683), seed=3)  # smooth colour fields: sky, hills
    assert faces.compute(landscape, {"min_face_px": 40, "min_score": 0.0}) == b""
    assert len(faces.unpack(b"")) == 0


@pytest.mark.parametrize("name", ["chelsea.png", "coffee.png", "rocket.jpg", "hubble_deep_field.jpg",
                                  "motorcycle_left.png", "brick.png"])
def test_real_photos_without_people_give_no_faces(name: str) -> None:
    path = CORPORA / "B_skimage-data" / name
    if not path.is_file():
        pytest.skip(f"../shared/corpora/B_skimage-data/{name} is not present")
    assert faces.compute(_open(path), {"min_face_px": 40, "min_score": 0.0}) == b""


def test_whispers_keeps_apart_what_is_far_and_joins_chains() -> None:
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=128), rng.normal(size=128)
    a, b = a / np.linalg.norm(a), b / np.linalg.norm(b)  # 1.3 apart or so
    x = np.array([a, a + 0.01, a - 0.01, b, b + 0.01], dtype=np.float32)
    found = people.find_people(np.array([1, 2, 3, 4, 5]), x, 0.5, 2)
    assert found == [frozenset({1, 2, 3}), frozenset({4, 5})]
    assert people.find_people(np.array([1, 2, 3, 4, 5]), x, 0.5, 3) == [frozenset({1, 2, 3})]


def test_faces_on_without_the_extra_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    from organizer import config

    auto = {"faces.enabled": ("auto", "test")}
    assert "faces" not in features.wanted(config.load(env={}))  # off by default
    assert "faces" in features.wanted(config.load(env={}, overrides=auto))  # auto, with the extra installed
    monkeypatch.setitem(sys.modules, "dlib", None)  # as if dlib-bin were not installed
    monkeypatch.delitem(sys.modules, "organizer.extract.faces")
    cfg = config.load(env={}, overrides={"faces.enabled": ("on", "test")})
    with pytest.raises(features.MissingExtra, match=r"pip install 'organizer\[faces\]'"):
        features.wanted(cfg)
    assert "faces" not in features.wanted(config.load(env={}, overrides=auto))  # auto: off without it


def test_people_albums_are_named_and_keep_their_name(truth: list, tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ORGANIZER_FACES_ENABLED", "on")
    root, out = tmp_path / "photos", tmp_path / "albums"
    for name, files in ONE_PERSON.items():
        for f in files:
            (root / name).mkdir(parents=True, exist_ok=True)
            shutil.copy(FACES / f, root / name / Path(f).name)
    run = Cli(tmp_path / "catalog.db")
    run("organize", str(root), "--output", str(out))
    folders = sorted(p.name for p in (out / "People").iterdir())
    assert folders == ["Person", "Person 2", "Person 3"], folders
    listed = run.json("people")
    by_sample = {Path(p["sample"]).parent.name: p for p in listed}
    assert {n: by_sample[n]["photos"] for n in ONE_PERSON} == {"obama": 3, "biden": 2, "kit": 2}
    assert all(p["name"] is None for p in listed)

    run("people", "name", by_sample["obama"]["id"], "Barack")
    run("publish", "--output", str(out))
    barack = out / "People" / "Barack"
    assert sorted(p.name for p in barack.iterdir()) == sorted(Path(f).name for f in ONE_PERSON["obama"])
    assert len(list((out / "People").iterdir())) == 3

    # a new photo of him and a recluster: the person, and so the name, stays
    shutil.copy(FACES / "tests/test_images/obama3.jpg", root / "obama" / "obama3.jpg")
    run("organize", str(root), "--output", str(out))
    assert "obama3.jpg" in {p.name for p in barack.iterdir()}
    assert {p["name"] for p in run.json("people")} == {"Barack", None}
    run("people", "name", "nobody", "X", code=1)


def test_a_library_scanned_without_faces_gets_them_in_the_idle_refresh(truth: list, tmp_path: Path) -> None:
    """The daemon's idle work (`Indexer.refresh`) computes faces for photos catalogued without them."""
    from organizer import config, index
    from organizer.catalog import Catalog

    root = tmp_path / "photos"
    root.mkdir()
    for f in ONE_PERSON["biden"]:
        shutil.copy(FACES / f, root / Path(f).name)
    base = {"catalog.path": (str(tmp_path / "catalog.db"), "test"), "scan.roots": ([str(root)], "test"),
            "scan.inline": (True, "test")}
    off = config.load(env={}, overrides={**base, "faces.enabled": ("off", "test")})
    on = config.load(env={}, overrides={**base, "faces.enabled": ("on", "test")})
    with Catalog(off.catalog.path) as catalog:
        index.index(catalog, off, [str(root)])
        version = features.version("faces", features.wanted(on)["faces"])
        assert catalog.photos.features("faces", version) == ([], [])
        indexer = index.Indexer(catalog, on, background=True)
        try:
            assert len(indexer.stale((str(root) + "/",))) == 2
            indexer.refresh([str(root)], 10)
        finally:
            indexer.close()
        ids, blobs = catalog.photos.features("faces", version)
    assert len(ids) == 2 and [len(faces.unpack(b)) for b in blobs] == [1, 1]
