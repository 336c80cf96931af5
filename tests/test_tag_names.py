"""Keywords as a hostile (or careless) tagger writes them become Tags/ folders that stay inside
the output, fit every file system, and never clash on a share that ignores case or Unicode form."""

from __future__ import annotations

import os
import unicodedata
from pathlib import Path
from xml.sax.saxutils import escape

import pytest

from conftest import Cli, make_jpeg

HOSTILE = ["..", ".", "", "   ", "a/b", "../../escape", "back\\slash", "x" * 300, "é" * 200, "CON", "con.txt",
           "\u202eevil", "line\nbreak", " lead", "trail.", ".hidden", "Unnamed", "map", "Family", "family"]


def _xmp(keywords: list[str]) -> str:
    items = "".join(f"<rdf:li>{escape(k)}</rdf:li>" for k in keywords)
    return ('<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
            '<rdf:Description xmlns:dc="http://purl.org/dc/elements/1.1/">'
            f'<dc:subject><rdf:Bag>{items}</rdf:Bag></dc:subject></rdf:Description></rdf:RDF></x:xmpmeta>')


@pytest.fixture(autouse=True)
def no_vectors(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ORGANIZER_VECTORS_ENABLED", "false")


def _folded(name: str) -> str:
    return unicodedata.normalize("NFC", name).casefold()


def test_hostile_keywords_make_tag_folders_inside_the_output_that_fit_any_share(tmp_path: Path, run: Cli) -> None:
    root, out = tmp_path / "Pictures", tmp_path / "Albums"
    make_jpeg(root / "P.jpg", original="2022:05:01 10:00:00")
    (root / "P.xmp").write_text(_xmp(HOSTILE))
    before = set(os.listdir(tmp_path))
    run("organize", str(root), "--output", str(out))
    assert set(os.listdir(tmp_path)) - before <= {"Albums", "catalog.db", "xdg-cache"}  # "../../escape" made nothing here
    tags = os.listdir(out / "Tags")
    for name in tags:
        assert len(name.encode()) <= 255 and name not in (".", "..") and name.strip(" .") == name
        assert not any(c in name for c in "/\\\n\u202e") and (out / "Tags" / name).is_dir()
        assert not (out / "Tags" / name).is_symlink()
        assert [p.name for p in (out / "Tags" / name).iterdir()] == ["P.jpg"]
    assert len({_folded(n) for n in tags}) == len(tags)  # no two alike where case or Unicode form is ignored


def test_a_keyword_in_both_unicode_forms_is_one_album(tmp_path: Path, run: Cli) -> None:
    """macOS writes 'Café' decomposed (e + U+0301), Windows composed: one tag, one album holding
    both photos (it was 'Café' and 'Café 2'), whichever form each file has."""
    root, out = tmp_path / "Pictures", tmp_path / "Albums"
    make_jpeg(root / "mac.jpg", original="2022:05:01 10:00:00", seed=1)
    make_jpeg(root / "win.jpg", original="2022:05:01 11:00:00", seed=2)
    (root / "mac.xmp").write_text(_xmp(["Cafe\u0301", "Café"]))
    (root / "win.xmp").write_text(_xmp(["Café"]))
    run("organize", str(root), "--output", str(out))
    assert os.listdir(out / "Tags") == ["Café"]
    assert sorted(os.listdir(out / "Tags" / "Café")) == ["mac.jpg", "win.jpg"]
    assert run.json("explain", str(root / "mac.jpg"))["keywords"] == ["Café"]
