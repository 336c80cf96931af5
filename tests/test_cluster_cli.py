"""`organizer cluster` and `dupes` end to end on generated photos in real folders."""

from __future__ import annotations

import io
import shutil
from pathlib import Path

import pytest
from PIL import Image

from conftest import Cli, gps_ifd, make_jpeg

AREZZO = (43.4674, 11.8851)
BERLIN = (52.5200, 13.4050)


def library(tmp_path: Path) -> Path:
    root = tmp_path / "Pictures"
    for i in range(3):
        make_jpeg(root / "trip" / f"A{i}.jpg", original=f"2008:10:22 16:{10 + i * 10}:00", size=(160, 120),
                  gps=gps_ifd(AREZZO[0] + i * 1e-4, AREZZO[1]), seed=10 + i)
    for i in range(4):
        make_jpeg(root / "home" / f"B{i}.jpg", original=f"2008:10:24 09:{10 + i * 5}:00", size=(160, 120),
                  gps=gps_ifd(BERLIN[0], BERLIN[1] + i * 1e-4), seed=20 + i)
    # no date at all: mtime only, left out of events
    make_jpeg(root / "scan0001.jpg", seed=30, mtime=1224685000)
    # a smaller, recompressed copy of A0 and an identical copy of B0
    big = Image.open(root / "trip" / "A0.jpg")
    small = io.BytesIO()
    big.resize((80, 60)).save(small, "JPEG", quality=40)
    (root / "shared").mkdir()
    (root / "shared" / "A0-small.jpg").write_bytes(small.getvalue())
    shutil.copy(root / "home" / "B0.jpg", root / "shared" / "B0-copy.jpg")
    return root


def test_cluster_finds_events_places_and_duplicates_and_keeps_identity(
    tmp_path: Path, run: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    # similar groups (CNN) and persons are tested on real photos; generated blobs all look alike to a CNN
    monkeypatch.setenv("ORGANIZER_VECTORS_ENABLED", "false")
    monkeypatch.setenv("ORGANIZER_FACES_ENABLED", "off")
    root = library(tmp_path)
    run.json("scan", str(root))
    report = run.json("cluster")
    assert report["groups"] == {"event": 2, "place": 2, "duplicate": 2}
    assert report["photos"] == 9
    status = run.json("status")
    assert (status["events"], status["places"], status["duplicate_groups"]) == (2, 2, 2)

    trip = run.json("explain", str(root / "trip" / "A1.jpg"))
    kinds = {g["kind"]: g for g in trip["groups"]}
    assert set(kinds) == {"event", "place"}
    assert (kinds["event"]["start"], kinds["event"]["end"], kinds["event"]["size"]) == (
        "2008-10-22T16:10:00", "2008-10-22T16:30:00", 3)
    assert run.json("explain", str(root / "scan0001.jpg"))["groups"] == []

    dupes = run.json("dupes")
    names = sorted(sorted(Path(f["path"]).name for f in g["files"]) for g in dupes)
    assert names == [["A0-small.jpg", "A0.jpg"], ["B0-copy.jpg", "B0.jpg"]]
    small_group = next(g for g in dupes if len(g["files"]) == 2 and g["files"][1]["path"].endswith("small.jpg"))
    assert small_group["files"][0]["width"] == 160  # the larger original first
    assert "duplicate groups" in run("dupes").stdout

    keys = {g["kind"]: g["key"] for g in trip["groups"]}
    again = run.json("cluster")
    assert all(c["kept"] == again["groups"][k] for k, c in again["changes"].items())

    # a fourth photo of the trip: the event and the place keep their keys and grow
    make_jpeg(root / "trip" / "A3.jpg", original="2008:10:22 16:45:00", size=(160, 120),
              gps=gps_ifd(AREZZO[0], AREZZO[1] + 1e-4), seed=13)
    run.json("scan", str(root))
    grown = run.json("cluster")
    assert grown["changes"]["event"] == {"kept": 1, "changed": 1, "added": 0, "dropped": 0}
    after = {g["kind"]: g for g in run.json("explain", str(root / "trip" / "A3.jpg"))["groups"]}
    assert after["event"]["key"] == keys["event"] and after["event"]["size"] == 4
    assert after["place"]["key"] == keys["place"] and after["place"]["size"] == 4

    # a removed photo leaves its groups
    (root / "home" / "B3.jpg").unlink()
    run.json("scan", str(root))
    run.json("cluster")
    sizes = {g["kind"]: g["size"] for g in run.json("explain", str(root / "home" / "B1.jpg"))["groups"]}
    assert sizes == {"event": 3, "place": 3}
