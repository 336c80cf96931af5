"""Names that are not UTF-8 (shares fed by old Windows tools and zip files): indexed, stored
losslessly, published with a readable link name and the exact target, shown escaped, accepted as
arguments (issue 12, part 3)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from organizer.catalog import Catalog

from conftest import Cli, gps_ifd, make_jpeg

AREZZO = (43.4674483, 11.8851267)


def raw(path: Path, *names: bytes) -> Path:
    """A path under `path` whose last parts are the given bytes."""
    return Path(os.fsdecode(os.path.join(os.fsencode(path), *names)))


@pytest.fixture(autouse=True)
def no_vectors(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ORGANIZER_VECTORS_ENABLED", "false")


def test_names_that_are_not_utf8_are_indexed_published_and_shown(tmp_path: Path, run: Cli) -> None:
    root, out = tmp_path / "Pictures", tmp_path / "Albums"
    for i in range(250):
        make_jpeg(root / "good" / f"IMG_{i:03d}.jpg", seed=i, size=(32, 24))
    cafe = make_jpeg(raw(root, b"caf\xe9.jpg"), original="2008:10:22 16:28:39", gps=gps_ifd(*AREZZO), seed=300,
                     size=(96, 64))
    os.makedirs(raw(root, b"Urlaub\xe9"))
    for i in range(3):
        make_jpeg(raw(root, b"Urlaub\xe9", f"D{i}.jpg".encode()), original=f"2008:10:22 16:3{i}:00",
                  gps=gps_ifd(*AREZZO), seed=301 + i, size=(96, 64))
    raw(root, b"Urlaub\xe9", b"copy of caf\xe9.jpg").write_bytes(cafe.read_bytes())
    raw(root, b"bad\xff.jpg").write_bytes(b"\xff\xd8\xff\xe0" + b"\0" * 40)
    report = run.json("organize", str(root), "--output", str(out))
    assert report["scan"]["indexed"] == 254 and report["scan"]["errors"] == 1 and report["scan"]["known"] == 1
    with Catalog(run.catalog, readonly=True) as cat:  # the bytes, losslessly
        stored = {bytes(r[0]) for r in cat.conn.execute("SELECT path FROM files")}
    assert os.fsencode(cafe) in stored and os.fsencode(raw(root, b"Urlaub\xe9", b"D0.jpg")) in stored

    # shown escaped, in text and in JSON
    info = run.json("explain", str(cafe))
    assert info["path"] == f"{root}/caf\\xe9.jpg" and info["taken_at"] == "2008-10-22T16:28:39"
    assert info["same_content"] == [f"{root}/Urlaub\\xe9/copy of caf\\xe9.jpg"]
    assert run("explain", str(cafe)).stdout.splitlines()[0].endswith("caf\\xe9.jpg")
    # accepted as typed: the raw bytes (a shell passes them) or the escaped form organizer shows
    assert run.json("explain", f"{root}/caf\\xe9.jpg")["digest"] == info["digest"]
    errors = run.json("errors")
    assert [e["path"] for e in errors] == [f"{root}/bad\\xff.jpg"]
    assert f"{root}/bad\\xff.jpg: [extract]" in run("errors").stdout
    dupes = run.json("dupes")
    assert sorted(f["path"] for f in dupes[0]["files"]) == sorted(
        [f"{root}/Urlaub\\xe9/copy of caf\\xe9.jpg", f"{root}/caf\\xe9.jpg"])
    json.dumps(run.json("status"))

    # published: readable link names, exact targets
    event = out / "Events" / "2008-10-22 Arezzo"
    assert os.readlink(event / "café.jpg") == os.path.relpath(cafe, event)
    assert (event / "café.jpg").resolve() == cafe.resolve()
    assert sorted(p.name for p in (out / "Duplicates").iterdir()) == ["café"]
    copies = sorted(p.name for p in (out / "Duplicates" / "café").iterdir())
    assert copies == ["1 keep - café (Pictures).jpg", "2 - copy of café (Urlaubé).jpg"]
    page = (out / "map.html").read_text(encoding="utf-8")
    assert "caf\\\\xe9.jpg" in page  # the name reaches the map escaped, as JSON text
    # a rerun changes nothing
    assert run.json("publish", "--output", str(out))["written"] == 0


def test_control_characters_in_names_cannot_forge_lines(tmp_path: Path, run: Cli) -> None:
    """A name holding a newline, an ANSI escape or a bidi override is one escaped line in the
    log, in `organizer errors` and in `explain`; typed back as shown, it still names the file."""
    root = tmp_path / "Pictures"
    root.mkdir()
    forged = "x.jpg\nERROR: the catalog is corrupt; run rm -rf\x1b[2K\u202egpj.jpg"
    (root / forged).write_bytes(b"\xff\xd8\xff\xe0 not a jpeg")  # a warning and an error row
    make_jpeg(root / "ok\nINFO: fine.jpg", original="2020:01:01 10:00:00")
    done = subprocess.run([sys.executable, "-m", "organizer", "--catalog", str(run.catalog), "scan", str(root)],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    lines = done.stderr.splitlines()
    assert not [ln for ln in lines if ln.startswith(("ERROR: the catalog", "INFO: fine"))], lines
    assert any("x.jpg\\x0aERROR: the catalog is corrupt; run rm -rf\\x1b[2K\\u202egpj.jpg" in ln for ln in lines), lines
    assert "\x1b" not in done.stderr and "\u202e" not in done.stderr
    text = run("errors").stdout.splitlines()
    assert len(text) == 2 and text[0].startswith(str(root / "x.jpg\\x0aERROR")) and text[1] == "1 errors"
    explained = run("explain", str(root / "ok\\x0aINFO: fine.jpg")).stdout  # as shown, typed back
    assert "\\x0a" in explained and "\nINFO: fine" not in explained
