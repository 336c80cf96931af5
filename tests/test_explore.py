"""`organizer demo`, every similar method and feature from the config on a real (generated)
library, and `organizer similar FILE` for a photo outside the catalog."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from PIL import Image

from conftest import Cli
from organizer import config

ALL_FEATURES = '["cnn", "hog", "grey", "phash", "orb"]'


@pytest.fixture(scope="module")
def demo_library(tmp_path_factory: pytest.TempPathFactory) -> tuple[Cli, Path, dict[str, str]]:
    tmp = tmp_path_factory.mktemp("demo")
    run = Cli(tmp / "catalog.db")
    env = {"XDG_CACHE_HOME": str(tmp / "cache"), "ORGANIZER_SIMILAR_FEATURES": ALL_FEATURES}
    made = run.json("demo", str(tmp / "Pictures"), env=env)
    assert made == {"folder": str(tmp / "Pictures"), "photos": 36, "trips": 3, "bursts": 6, "duplicates": 3,
                    "undated": 3}
    report = run.json("scan", str(tmp / "Pictures"), env=env)
    assert report["indexed"] == 36 and report["errors"] == 0
    return run, tmp / "Pictures", env


def test_demo_makes_trips_with_dates_and_places_and_refuses_a_used_folder(demo_library, tmp_path: Path) -> None:
    run, root, env = demo_library
    photo = next(root.glob("2019/Lisbon/IMG_100.jpg"))
    facts = run.json("explain", str(photo), env=env)
    assert facts["taken_at"] == "2019-06-12T09:30:00" and facts["taken_at_source"] == "exif"
    assert facts["lat"] == pytest.approx(38.72, abs=0.05) and facts["lon"] == pytest.approx(-9.14, abs=0.05)
    scan = run.json("explain", str(root / "Scans" / "scan0000.jpg"), env=env)
    assert scan["lat"] is None and scan["taken_at_source"] == "mtime"
    used = tmp_path / "used"
    used.mkdir()
    (used / "mine.jpg").write_bytes(b"a user's file")
    result = run("demo", str(used), code=1)
    assert "not an empty folder" in result.stderr and (used / "mine.jpg").read_bytes() == b"a user's file"
    cluster = run.json("cluster", env=env)
    assert cluster["groups"]["event"] == 3 and cluster["groups"]["place"] == 3
    assert cluster["groups"]["duplicate"] >= 3


def _bursts_together(run: Cli, root: Path, env: dict[str, str]) -> int:
    """How many of the demo's bursts (4 frames, 2 s apart) have all their frames in one similar group."""
    together = 0
    for first in sorted(root.glob("*/*/IMG_??0.jpg")):
        frames = [first.with_name(first.name.replace("0.jpg", f"{f}.jpg")) for f in range(4)]
        if not frames[1].exists():
            continue
        keys = [{g["key"] for g in run.json("explain", str(f), env=env)["groups"] if g["kind"] == "similar"}
                for f in frames]
        together += bool(set.intersection(*keys))
    return together


@pytest.mark.parametrize(("features", "method", "extra"), [
    (name, "chain", {"ORGANIZER_SIMILAR_SIM": sim}) for name, sim in
    (("hog", "0.8"), ("grey", "0.8"), ("phash", "0.6"), ("orb", "0.6"), ("pca", "0.8"))
] + [("hog", method, {"ORGANIZER_SIMILAR_SIM": "0.8", "ORGANIZER_SIMILAR_K_CHOICE": "silhouette"})
     for method in config.SIMILAR_METHODS] + [
    ("hog", "average", {"ORGANIZER_SIMILAR_RESCORE": f'["{name}"]', "ORGANIZER_SIMILAR_RESCORE_MIN": "0.4"})
    for name in config.RESCORERS
])
def test_every_feature_method_and_rescorer_runs_from_the_config(demo_library, features: str, method: str,
                                                                 extra: dict[str, str]) -> None:
    run, root, env = demo_library
    env = {**env, "ORGANIZER_SIMILAR_FEATURES": f'["{features}"]', "ORGANIZER_SIMILAR_METHOD": method, **extra}
    report = run.json("cluster", env=env)
    assert report["groups"]["similar"] >= 1, report
    if method in ("chain", "average", "agglomerative", "mix"):
        assert _bursts_together(run, root, env) >= 4  # of the 6 bursts


def test_a_feature_not_yet_computed_is_left_out_until_a_scan(demo_library) -> None:
    run, root, env = demo_library
    env = {**env, "ORGANIZER_SIMILAR_FEATURES": '["phash"]', "ORGANIZER_SIMILAR_PHASH_SIZE": "12"}
    assert run.json("cluster", env=env)["groups"]["similar"] == 0  # no phash at size 12 stored yet
    assert run.json("scan", str(root), env=env)["indexed"] == 0  # computes only what lacks
    assert run.json("cluster", env=env)["groups"]["similar"] >= 1
    run.json("scan", str(root), env=demo_library[2])  # back to the module's phash (one version is kept)


def test_similar_accepts_a_photo_outside_the_catalog(demo_library, tmp_path: Path) -> None:
    run, root, env = demo_library
    original = root / "2021" / "Berlin" / "IMG_220.jpg"
    outside = tmp_path / "sent by a friend.jpg"
    Image.open(original).resize((400, 300)).save(outside, quality=70)
    found = run.json("similar", str(outside), "-k", "3", env=env)
    assert found[0]["path"].endswith("IMG_220.jpg") or "Berlin" in found[0]["path"], found
    assert found[0]["cosine"] > 0.95
    (tmp_path / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 truncated")
    for bad, message in ((tmp_path / "broken.jpg", "cannot decode"), (tmp_path / "nope.jpg", "no such file"),
                         (tmp_path, "a folder")):
        result = run("similar", str(bad), code=1, env=env)
        assert message in result.stderr and len(result.stderr.strip().splitlines()) == 1


def test_explore_without_the_features_says_how_to_get_them(demo_library, tmp_path: Path) -> None:
    run, _, env = demo_library
    result = run("explore", "--features", "hog", "--output", str(tmp_path / "r.html"), code=1,
                 env={**env, "ORGANIZER_SIMILAR_HOG_SIZE": "64"})
    assert "ORGANIZER_SIMILAR_FEATURES='[\"hog\"]' organizer scan" in result.stderr
    assert not (tmp_path / "r.html").exists()


def test_explore_json_reports_the_comparison(demo_library, tmp_path: Path) -> None:
    run, _, env = demo_library
    out = tmp_path / "report.html"
    report = run.json("explore", "--output", str(out), "--sample", "20", "--compare",
                      "features=hog,method=chain,sim=0.9", env=env)
    assert report["photos"] == 20 and report["library"] == 36 and report["output"] == str(out)
    assert report["compare_groups"] >= 1 and -1 <= report["agreement"] <= 1
    text = out.read_text()
    assert "http://" not in text and "https://" not in text
    data = json.loads(text.split('id="explore-data">', 1)[1].split("</script>", 1)[0])
    assert len(data["photos"]) == 20 and data["edges"] and set(data["maps"]) == {"first", "a", "b"}
