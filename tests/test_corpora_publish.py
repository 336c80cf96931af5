"""`organizer organize` end to end on the real corpora (skipped when absent)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from conftest import CORPORA, Cli

pytestmark = pytest.mark.skipif(not CORPORA.is_dir(), reason="../shared/corpora is not present")


def test_organize_the_corpora(tmp_path: Path, run: Cli) -> None:
    out = tmp_path / "Albums"
    report = run.json("organize", str(CORPORA), "--output", str(out))
    assert report["scan"]["indexed"] > 300 and report["scan"]["errors"] > 20
    for album in (out / "Events" / "2008-10-22 Arezzo", out / "Places" / "Italy" / "Arezzo"):
        links = sorted(album.iterdir())
        assert [p.name for p in links] == [f"DSCN00{n}.jpg" for n in (10, 12, 21, 25, 27, 29, 38, 40, 42)]
        for link in links:
            assert link.is_symlink() and not os.path.isabs(os.readlink(link))
            assert link.resolve() == (CORPORA / "A_exif-samples/jpg/gps" / link.name).resolve()
            assert link.read_bytes()[:3] == b"\xff\xd8\xff"
    stereo = out / "Similar" / "motorcycle_left"
    assert sorted(p.name for p in stereo.iterdir()) == ["motorcycle_left.png", "motorcycle_right.png"]
    assert (out / "map.html").stat().st_size > 1000
    again = run.json("organize", str(CORPORA), "--output", str(out))
    assert again["publish"]["written"] == 0 and again["scan"]["indexed"] == 0
