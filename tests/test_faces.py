"""Faces and People albums (the `faces` extra, installed in CI): real photos of the
face_recognition corpus, a real catalog, the CLI."""

from __future__ import annotations

import csv
import shutil
import sqlite3
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
    persons = [p.photos for p in people.find_people(np.array(photo_of), np.concatenate(descriptors), 0.55, 1)]
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
    assert found == [people.Person((0, 1, 2), frozenset({1, 2, 3})), people.Person((3, 4), frozenset({4, 5}))]
    assert [p.photos for p in people.find_people(np.array([1, 2, 3, 4, 5]), x, 0.5, 3)] == [frozenset({1, 2, 3})]


def test_pins_hold_faces_and_new_faces_follow_the_nearest_pin() -> None:
    rng = np.random.default_rng(1)
    a = rng.normal(size=128)
    a /= np.linalg.norm(a)
    step = rng.normal(size=128)
    step *= 0.3 / np.linalg.norm(step)
    x = np.array([a, a + 0.02, a + step, a + step + 0.02, a + 0.01, a + step + 0.01], dtype=np.float32)
    photos = np.arange(10, 16)
    assert [p.photos for p in people.find_people(photos, x, 0.5, 2)] == [frozenset(photos)]  # one chain
    # split: faces 0, 1 pinned to "a", 2, 3 to "b"; 4 and 5 (new) go to their nearest pin
    split = people.find_people(photos, x, 0.5, 2, {0: "a", 1: "a", 2: "b", 3: "b"})
    assert {p.key: p.photos for p in split} == {"a": {10, 11, 14}, "b": {12, 13, 15}}
    # forgotten: the pinned faces and those nearest them are no person; a pinned person needs no min_faces
    forgot = people.find_people(photos, x, 0.5, 3, {0: None, 1: None, 2: "b"})
    assert {p.key: p.photos for p in forgot} == {"b": {12, 13, 15}}
    assert people.find_people(photos[:1], x[:1], 0.5, 2, {0: "c"}) == [people.Person((0,), frozenset({10}), "c")]


def test_faces_on_without_the_extra_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    from organizer import config

    auto = {"faces.enabled": ("auto", "test")}
    assert "faces" in features.wanted(config.load(env={}))  # auto by default: on, with the extra installed
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


def test_people_with_faces_off_says_how_to_turn_them_on(run: Cli, tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ORGANIZER_FACES_ENABLED", "off")
    (tmp_path / "photos").mkdir()
    run("scan", str(tmp_path / "photos"))
    result = run("people")
    assert 'faces.enabled = "on"' in result.stdout and "pip install 'organizer[faces]'" in result.stdout
    assert result.stderr == ""
    assert run.json("people") == []
    assert "Faces are off" in run("people", "forget", "p1", code=1).stderr  # no decision without faces


def _library(tmp_path: Path, files: dict[str, list[str]]) -> tuple[Path, Path]:
    """The photos `files` (folder -> corpus files) under tmp_path/photos; returns (root, albums)."""
    root = tmp_path / "photos"
    for folder, names in files.items():
        (root / folder).mkdir(parents=True, exist_ok=True)
        for f in names:
            shutil.copy(FACES / f, root / folder / Path(f).name)
    return root, tmp_path / "albums"


def _organized(run: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Path, dict[str, str]]:
    """ONE_PERSON organized with faces on: (root, albums, person id by folder)."""
    monkeypatch.setenv("ORGANIZER_FACES_ENABLED", "on")
    root, out = _library(tmp_path, ONE_PERSON)
    run("organize", str(root), "--output", str(out))
    return root, out, {Path(p["sample"]).parent.name: p["id"] for p in run.json("people")}


def _listed(run: Cli) -> dict[str, tuple[int, str | None]]:
    return {p["id"]: (p["photos"], p["name"]) for p in run.json("people")}


def _album(out: Path, name: str) -> list[str]:
    return sorted(p.name for p in (out / "People" / name).iterdir())


def test_merged_persons_stay_merged_and_new_photos_of_either_join(truth: list, run: Cli, tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    root, out, ids = _organized(run, tmp_path, monkeypatch)
    run("people", "name", ids["biden"], "Joe")
    run("people", "merge", ids["obama"], "nobody", code=1)
    assert "'nobody'" in run("people", "merge", "nobody", ids["obama"], code=1).stderr
    assert "Joe" in run("people", "merge", ids["obama"], ids["biden"]).stdout
    # the first id kept, with the first name given among them
    listed = _listed(run)
    assert listed == {ids["obama"]: (5, "Joe"), ids["kit"]: (2, None)}

    with sqlite3.connect(tmp_path / "catalog.db") as db:  # as if the faces were detected anew, numbered otherwise:
        db.execute("UPDATE person_faces SET face = face + 10")  # each decision finds its face by its descriptor
    run("cluster")
    run("publish", "--output", str(out))
    assert sorted(p.name for p in (out / "People").iterdir()) == ["Joe", "Person"]
    assert _album(out, "Joe") == sorted(Path(f).name for f in ONE_PERSON["obama"] + ONE_PERSON["biden"])

    # new photos of either, a recluster: they join the one person
    shutil.copy(FACES / "tests/test_images/obama3.jpg", root / "obama" / "obama3.jpg")
    shutil.copy(FACES / "examples/knn_examples/test/obama_and_biden.jpg", root / "biden" / "obama_and_biden.jpg")
    run("organize", str(root), "--output", str(out))
    listed = _listed(run)
    assert listed[ids["obama"]] == (7, "Joe") and listed[ids["kit"]] == (2, None)
    assert {"obama3.jpg", "obama_and_biden.jpg"} <= set(_album(out, "Joe"))


def test_split_and_forgotten_persons_hold_across_reclusters(truth: list, run: Cli, tmp_path: Path,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    root, out, ids = _organized(run, tmp_path, monkeypatch)
    run("people", "name", ids["obama"], "Barack")
    run("people", "name", ids["kit"], "Kit")
    run("people", "merge", ids["obama"], ids["biden"])  # a wrong merge, then the split that mends it
    biden = [str(root / "biden" / Path(f).name) for f in ONE_PERSON["biden"]]
    assert "'nobody'" in run("people", "split", "nobody", *biden, code=1).stderr
    kit_photo = str(root / "kit" / "john1.jpeg")
    assert "no face of person" in run("people", "split", ids["obama"], kit_photo, code=1).stderr
    everyone = [str(p) for p in (root / "obama").iterdir()] + biden
    assert "nothing would be left" in run("people", "split", ids["obama"], *everyone, code=1).stderr
    new = run("people", "split", ids["obama"], *biden, "--name", "Joe").stdout.split(":")[0]
    assert new != ids["obama"]  # (named after its first photo, as every new group: here biden's old key)

    assert "'nobody'" in run("people", "forget", "nobody", code=1).stderr
    run("people", "forget", ids["kit"])
    assert run("people", "forget", "--list").stdout.split()[0] == ids["kit"]
    expected = {ids["obama"]: (3, "Barack"), new: (2, "Joe")}
    assert _listed(run) == expected

    # a recluster and new photos: the split stays, each face of a photo of both goes to its own
    # person, and the forgotten person's new photo makes no person
    run("cluster")
    assert _listed(run) == expected
    shutil.copy(FACES / "examples/knn_examples/test/obama_and_biden.jpg", root / "obama_and_biden.jpg")
    shutil.copy(FACES / "examples/knn_examples/test/johnsnow_test1.jpg", root / "kit" / "johnsnow_test1.jpg")
    run("organize", str(root), "--output", str(out))
    assert _listed(run) == {
        ids["obama"]: (4, "Barack"), new: (3, "Joe")}
    assert sorted(p.name for p in (out / "People").iterdir()) == ["Barack", "Joe"]
    assert _album(out, "Joe") == ["biden.jpg", "biden2.jpg", "obama_and_biden.jpg"]
    assert "obama_and_biden.jpg" in _album(out, "Barack")

    # forgetting undone: the person is back, with its name and its new photo
    assert "'nobody'" in run("people", "forget", "--undo", "nobody", code=1).stderr
    run("people", "forget", "--undo", ids["kit"])
    run("cluster")
    run("publish", "--output", str(out))
    assert _album(out, "Kit") == ["john1.jpeg", "john2.jpeg", "johnsnow_test1.jpg"]
    assert run("people", "forget", "--list").stdout == ""


@pytest.mark.parametrize("orientation", range(1, 9))
def test_a_region_turns_with_the_photos_orientation(orientation: int) -> None:
    """A region written on the image as stored lands where the decode's turn puts its pixels."""
    from organizer.extract.decode import _TRANSPOSE

    stored = Image.new("L", (200, 100))
    stored.paste(255, (20, 10, 60, 40))  # centre (0.2, 0.25), size (0.2, 0.3)
    shown = stored.transpose(_TRANSPOSE[orientation]) if orientation in _TRANSPOSE else stored
    left, top, right, bottom = shown.getbbox()
    want = (left / shown.width, top / shown.height, right / shown.width, bottom / shown.height)
    assert people.region_box(0.2, 0.25, 0.2, 0.3, orientation) == pytest.approx(want)


def test_labels_go_to_the_face_a_region_overlaps_or_surrounds() -> None:
    boxes = np.array([[0.10, 0.10, 0.20, 0.20], [0.50, 0.50, 0.60, 0.60], [0.80, 0.10, 0.90, 0.20]])
    regions = [("Head", (0.45, 0.42, 0.65, 0.70)),  # around the whole head: IoU 0.18, centres inside each other
               ("Near", (0.11, 0.11, 0.21, 0.21)),  # IoU 0.68
               ("Also near", (0.09, 0.09, 0.19, 0.19)),  # IoU 0.68 too: the face is Near's, a face takes one name
               ("Elsewhere", (0.30, 0.70, 0.40, 0.80)),  # on no face
               ("Corner", (0.86, 0.16, 0.99, 0.30))]  # overlaps the third face a little: IoU 0.06, centres outside
    assert people.labels(boxes, regions) == ["Near", "Head", None]
    assert people.labels(boxes, []) == [None, None, None]


def _region_xmp(regions: list[tuple[str, tuple[float, float, float, float]]]) -> str:
    """An XMP packet with MWG face regions (name, left, top, right, bottom), as digiKam writes it."""
    items = "".join(
        f'<rdf:li><rdf:Description mwg-rs:Name="{name}" mwg-rs:Type="Face"><mwg-rs:Area stArea:x="{(x0 + x1) / 2}" '
        f'stArea:y="{(y0 + y1) / 2}" stArea:w="{x1 - x0}" stArea:h="{y1 - y0}" stArea:unit="normalized"/>'
        f'</rdf:Description></rdf:li>' for name, (x0, y0, x1, y1) in regions)
    return ('<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
            '<rdf:Description rdf:about="" xmlns:mwg-rs="http://www.metadataworkinggroup.com/schemas/regions/" '
            'xmlns:stArea="http://ns.adobe.com/xmp/sType/Area#"><mwg-rs:Regions rdf:parseType="Resource">'
            f'<mwg-rs:RegionList><rdf:Bag>{items}</rdf:Bag></mwg-rs:RegionList></mwg-rs:Regions>'
            '</rdf:Description></rdf:RDF></x:xmpmeta>')


def _head(photo: Path) -> tuple[float, float, float, float]:
    """The box of the photo's one face, grown by half on each side: a region drawn around the head."""
    found = faces.detect(_open(photo), 20, 0.0)
    assert len(found) == 1
    x0, y0, x1, y1 = (float(v) for v in found.box[0])
    w, h = x1 - x0, y1 - y0
    return max(x0 - w / 4, 0.0), max(y0 - h / 2, 0.0), min(x1 + w / 4, 1.0), min(y1 + h / 4, 1.0)


def test_xmp_face_regions_name_persons_and_a_users_name_wins(truth: list, run: Cli, tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """Regions named in XMP (sidecars as digiKam and Lightroom write them, and a packet in the JPEG
    itself) name the faces dlib finds in them: a person takes its faces' most frequent name; two
    persons of one name are two albums; a region on no face names nobody; a user's name wins."""
    monkeypatch.setenv("ORGANIZER_FACES_ENABLED", "on")
    root, out = _library(tmp_path, ONE_PERSON)
    obama, biden, kit = (sorted((root / n).iterdir()) for n in ("obama", "biden", "kit"))
    nowhere = ("Nobody", (0.0, 0.0, 0.05, 0.05))
    for photo, name in zip(obama, ["Barack Obama", "Barack Obama", "Obama"]):
        (photo.parent / (photo.name + ".xmp")).write_text(_region_xmp([(name, _head(photo)), nowhere]))  # digiKam
    (biden[0].with_suffix(".xmp")).write_text(_region_xmp([("Joe", _head(biden[0]))]))  # Lightroom: photo.xmp
    data = kit[0].read_bytes()  # in the JPEG: an APP1 XMP packet after SOI
    packet = b"http://ns.adobe.com/xap/1.0/\x00" + _region_xmp([("Joe", _head(kit[0]))]).encode()
    kit[0].write_bytes(data[:2] + b"\xff\xe1" + (len(packet) + 2).to_bytes(2, "big") + packet + data[2:])
    run("organize", str(root), "--output", str(out))

    listed = {Path(p["sample"]).parent.name: p for p in run.json("people")}
    assert {n: (p["name"], p["named_by"], p["photos"]) for n, p in listed.items()} == {
        "obama": ("Barack Obama", "xmp", 3), "biden": ("Joe", "xmp", 2), "kit": ("Joe", "xmp", 2)}
    assert "Barack Obama (XMP)" in run("people").stdout
    assert sorted(p.name for p in (out / "People").iterdir()) == ["Barack Obama", "Joe", "Joe 2"]  # not merged
    assert _album(out, "Barack Obama") == sorted(p.name for p in obama)
    joes = {tuple(_album(out, "Joe")), tuple(_album(out, "Joe 2"))}
    assert joes == {tuple(sorted(p.name for p in biden)), tuple(sorted(p.name for p in kit))}

    run("people", "name", listed["obama"]["id"], "Barack")
    run("people", "name", listed["kit"]["id"], "Kit")
    run("publish", "--output", str(out))
    assert sorted(p.name for p in (out / "People").iterdir()) == ["Barack", "Joe", "Kit"]
    assert {p["name"]: p["named_by"] for p in run.json("people")} == {"Barack": "user", "Joe": "xmp", "Kit": "user"}
    # the sidecar retagged in Lightroom: the next organize reads it again and the album follows
    (biden[0].with_suffix(".xmp")).write_text(_region_xmp([("Joseph", _head(biden[0]))]))
    run("organize", str(root), "--output", str(out))
    assert sorted(p.name for p in (out / "People").iterdir()) == ["Barack", "Joseph", "Kit"]
