"""Sidecars as an attacker (or a careless sync tool) leaves them: a name that points at a device,
a FIFO, a file outside the library, numbers no reader expects, JSON no Takeout wrote. Each photo
is indexed all the same; a sidecar that cannot be read is a warning and an error row of its own;
a deleted sidecar takes its keywords and rating with it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import Cli, make_jpeg
from organizer import config, index
from organizer.catalog import Catalog


def _xmp(keywords: tuple[str, ...] = (), rating: str | None = None) -> str:
    items = "".join(f"<rdf:li>{k}</rdf:li>" for k in keywords)
    stars = f' xmp:Rating="{rating}"' if rating is not None else ""
    return ('<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
            f'<rdf:Description xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:xmp="http://ns.adobe.com/xap/1.0/"{stars}>'
            f'<dc:subject><rdf:Bag>{items}</rdf:Bag></dc:subject></rdf:Description></rdf:RDF></x:xmpmeta>')


@pytest.fixture(autouse=True)
def no_vectors(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ORGANIZER_VECTORS_ENABLED", "false")


def _explain(run: Cli, path: Path) -> dict:
    return run.json("explain", str(path))


def test_hostile_sidecars_never_hang_exhaust_or_escape(tmp_path: Path, run: Cli) -> None:
    root, outside = tmp_path / "Pictures", tmp_path / "private"
    outside.mkdir()
    (outside / "secret.xmp").write_text(_xmp(("leaked",)))
    for i, name in enumerate(["zero", "fifo", "escape", "inf", "nan", "broken", "null", "deep", "list", "alt"]):
        make_jpeg(root / f"{name}.jpg", original=None if name == "list" else f"2021:06:0{i % 9 + 1} 12:00:00", seed=i)
    (root / "zero.jpg.xmp").symlink_to("/dev/zero")  # read whole, this was an out-of-memory kill
    os.mkfifo(root / "fifo.jpg.xmp")  # opened, this hung a worker until its time-out
    (root / "escape.jpg.xmp").symlink_to(outside / "secret.xmp")  # follow_symlinks is off
    (root / "inf.jpg.xmp").write_text(_xmp(("ok",), "inf"))
    (root / "nan.jpg.xmp").write_text(_xmp(("ok",), "1e400"))
    (root / "broken.jpg.xmp").write_text("<x:xmpmeta><unclosed>")
    (root / "null.jpg.json").write_text(json.dumps({"photoTakenTime": {"timestamp": None}, "title": "t"}))
    (root / "deep.jpg.json").write_text("[" * 200_000 + "]" * 200_000)
    (root / "list.jpg.json").write_text(json.dumps({"photoTakenTime": {"timestamp": [1, 2]},
                                                    "creationTime": {"timestamp": "1600000000"}}))
    (root / "alt.jpg.json").write_text('{"geoData": {"latitude": 45.5, "longitude": 9.2, "altitude": 1e999}}')
    # a child process: a hang or an out-of-memory kill is a failed test, not a stuck suite
    done = subprocess.run([sys.executable, "-m", "organizer", "--catalog", str(run.catalog), "scan", str(root)],
                          capture_output=True, text=True, timeout=120, env={**os.environ, "ORGANIZER_SCAN_INLINE": "false"})
    assert done.returncode == 0, done.stderr
    for name in ["zero", "fifo", "escape", "inf", "nan", "broken", "null", "deep", "list", "alt"]:
        facts = _explain(run, root / f"{name}.jpg")
        assert facts["state"] == "ok" and facts["taken_at_source"] in ("exif", "takeout"), (name, facts)
        assert not [e for e in facts["errors"] if e["stage"] != "sidecar"], (name, facts["errors"])
    assert _explain(run, root / "escape.jpg")["keywords"] == []  # the file outside was not read
    assert _explain(run, root / "inf.jpg")["keywords"] == ["ok"] and _explain(run, root / "inf.jpg")["rating"] is None
    assert _explain(run, root / "list.jpg")["taken_at_utc"].startswith("2020-09-13T12:26:40")  # creationTime's
    alt = _explain(run, root / "alt.jpg")
    assert (alt["lat"], alt["lon"], alt["alt"]) == (45.5, 9.2, None)
    errors = {Path(e["path"]).name: e for e in run.json("errors")}
    assert {n for n, e in errors.items() if e["stage"] == "sidecar"} == {"broken.jpg.xmp", "deep.jpg.json"}
    assert "not Takeout JSON" in errors["deep.jpg.json"]["message"]
    assert "broken.jpg.xmp" in done.stderr and "deep.jpg.json" in done.stderr  # warnings, not only rows
    assert _explain(run, root / "broken.jpg")["errors"][0]["stage"] == "sidecar"

    (root / "broken.jpg.xmp").write_text(_xmp(("fixed",)))
    run("scan", str(root))
    assert _explain(run, root / "broken.jpg")["keywords"] == ["fixed"]
    assert "broken.jpg.xmp" not in {Path(e["path"]).name for e in run.json("errors")}


def test_a_deleted_sidecar_takes_its_keywords_and_rating_along(tmp_path: Path, run: Cli) -> None:
    root = tmp_path / "Pictures"
    for name in ("scan", "watch"):
        make_jpeg(root / f"{name}.jpg", original="2021:06:01 12:00:00", seed=len(name))
        (root / f"{name}.jpg.xmp").write_text(_xmp(("Family",), "5"))
    run("scan", str(root))
    assert [(_explain(run, root / f"{n}.jpg")["keywords"], _explain(run, root / f"{n}.jpg")["rating"])
            for n in ("scan", "watch")] == [(["Family"], 5)] * 2

    (root / "scan.jpg.xmp").unlink()
    run("scan", str(root))
    gone = _explain(run, root / "scan.jpg")
    assert (gone["keywords"], gone["rating"], gone["sidecars"]) == ([], None, [])

    (root / "watch.jpg.xmp").unlink()  # what the daemon's watcher reports
    cfg = config.load(env={}, overrides={"catalog.path": (str(run.catalog), "test"),
                                         "scan.roots": ([str(root)], "test"), "scan.inline": (True, "test"),
                                         "vectors.enabled": (False, "test")})
    with Catalog(cfg.catalog.path) as catalog:
        indexer = index.Indexer(catalog, cfg, background=True)
        try:
            indexer.update(lambda p: str(root), gone=[str(root / "watch.jpg.xmp")])
        finally:
            indexer.close()
    watched = _explain(run, root / "watch.jpg")
    assert (watched["keywords"], watched["rating"]) == ([], None)
    assert _explain(run, root / "scan.jpg")["state"] == "ok"


def test_explain_json_is_strict_json(tmp_path: Path, run: Cli) -> None:
    root = tmp_path / "Pictures"
    make_jpeg(root / "a.jpg", original="2021:06:01 12:00:00")
    (root / "a.jpg.json").write_text('{"geoData": {"latitude": 45.5, "longitude": 9.2, "altitude": NaN}}')
    run("scan", str(root))
    text = run("explain", str(root / "a.jpg"), "--json").stdout
    facts = json.loads(text, parse_constant=lambda c: pytest.fail(f"{c} in explain --json"))
    assert (facts["lat"], facts["alt"]) == (45.5, None)
