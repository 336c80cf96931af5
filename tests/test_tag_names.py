"""Keywords as a hostile (or careless) tagger writes them become Tags/ folders that stay inside
the output, fit every file system, and never clash on a share that ignores case or Unicode form."""

from __future__ import annotations

import os
import unicodedata
from pathlib import Path
from xml.sax.saxutils import escape

import pytest

from organizer import config, publish
from organizer.catalog import Catalog

from conftest import Cli, make_jpeg, wait_for

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


def _tagged(root: Path, name: str, keywords: list[str], seed: int, year: int = 2022) -> None:
    root.mkdir(parents=True, exist_ok=True)
    (root / f"{name}.xmp").write_text(_xmp(keywords))
    make_jpeg(root / f"{name}.jpg", original=f"{year}:05:01 1{seed}:00:00", seed=seed)


def test_a_keyword_in_two_cases_on_two_photos_is_one_album_named_by_its_commonest_spelling(
        tmp_path: Path, run: Cli) -> None:
    """Lightroom wrote 'Family', digiKam 'family': one album with every photo (it was 'Family' and
    'family 2'), named as most photos spell it; of a tie, the first spelling in sort order."""
    root, out = tmp_path / "Pictures", tmp_path / "Albums"
    for i, (name, words) in enumerate([("a", ["Family", "Zoo"]), ("b", ["family", "zoo"]), ("c", ["FAMILY"]),
                                       ("d", ["family"])]):
        _tagged(root, name, words, i)
    run("organize", str(root), "--output", str(out))
    assert sorted(os.listdir(out / "Tags")) == ["Zoo", "family"]
    assert sorted(os.listdir(out / "Tags" / "family")) == ["a.jpg", "b.jpg", "c.jpg", "d.jpg"]
    assert sorted(os.listdir(out / "Tags" / "Zoo")) == ["a.jpg", "b.jpg"]
    assert run.json("explain", str(root / "c.jpg"))["keywords"] == ["FAMILY"]  # the photo keeps its spelling


def test_keywords_that_are_only_dots_are_no_albums(tmp_path: Path, run: Cli) -> None:
    """'.', '..', '...' (a broken tagger's) were 'Unnamed', 'Unnamed 2', 'Unnamed 3' beside a real
    'Unnamed' keyword; they are no album, and `explain` still shows them."""
    root, out = tmp_path / "Pictures", tmp_path / "Albums"
    _tagged(root, "p", [".", "..", "...", "- -", "\u2764", "Unnamed", "2022"], 0)
    run("organize", str(root), "--output", str(out))
    assert sorted(os.listdir(out / "Tags")) == ["- -", "2022", "Unnamed", "\u2764"]  # what a folder can show stays
    assert os.listdir(out / "Tags" / "Unnamed") == ["p.jpg"]
    assert {".", "..", "...", "- -", "\u2764"} <= set(run.json("explain", str(root / "p.jpg"))["keywords"])


def test_the_daemons_quick_update_adds_a_spelling_to_the_whole_album(tmp_path: Path, daemon) -> None:
    """A photo tagged 'FAMILY' arrives while the daemon runs: its quick update (which plans only
    the albums the new photo touches) fills the one 'Family' album with every spelling's photos,
    never a 'FAMILY' album of one photo, nor 'Family' cut down to the new photo."""
    root = tmp_path / "Pictures"
    _tagged(root, "a", ["Family"], 0)
    _tagged(root, "b", ["family"], 1)
    d = daemon(root)
    tags = d.out / "Tags"
    assert os.listdir(tags) == ["Family"] and sorted(os.listdir(tags / "Family")) == ["a.jpg", "b.jpg"]
    _tagged(root / "new", "c", ["FAMILY"], 2, year=2023)  # another month: only the tag brings a and b in
    wait_for(lambda: (tags / "Family" / "c.jpg").is_symlink(), 30, "the new photo in Tags/Family")
    assert os.listdir(tags) == ["Family"] and sorted(os.listdir(tags / "Family")) == ["a.jpg", "b.jpg", "c.jpg"]
    assert d.stop() < 10


def test_a_tag_album_recorded_by_its_exact_keyword_keeps_its_folder_in_quick_updates(tmp_path: Path,
                                                                                   run: Cli) -> None:
    """An older organizer recorded a tag album by its exact keyword ('a/B'); the next full publish
    records it by its identity, so a quick update of a new 'a/B' photo (another month: only the tag
    brings the album in) finds it at its folder 'Tags/a B 2' (numbered beside 'a b'), never makes
    a 'Tags/a B' of its own."""
    root, out = tmp_path / "Pictures", tmp_path / "Albums"
    _tagged(root, "p", ["a/B"], 0)
    _tagged(root, "q", ["a b"], 1)
    run("organize", str(root), "--output", str(out))
    assert sorted(os.listdir(out / "Tags")) == ["a B 2", "a b"]
    with Catalog(run.catalog) as catalog, catalog.transaction():  # as the older organizer recorded it
        catalog.conn.execute("UPDATE albums SET group_key = 'a/B' WHERE path = 'Tags/a B 2'")
    run("organize", str(root), "--output", str(out))
    _tagged(root, "r", ["a/B"], 2, year=2023)
    run("scan", str(root))
    cfg = config.load(env={}, overrides={"catalog.path": (str(run.catalog), "test")})
    with Catalog(run.catalog) as catalog:
        new = catalog.files.row(str(root / "r.jpg"))["photo_id"]
        publish.publish(catalog, cfg, str(out), with_map=False, verify=False, touched={new})
    assert sorted(os.listdir(out / "Tags")) == ["a B 2", "a b"]
    assert sorted(os.listdir(out / "Tags" / "a B 2")) == ["p.jpg", "r.jpg"]
