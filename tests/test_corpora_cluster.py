"""Clustering quality on the real corpora (skipped when ../shared/corpora is absent)."""

from __future__ import annotations

import csv

import pytest

from organizer import regroup
from organizer.catalog import Catalog
from organizer.cli import reports

from conftest import CORPORA

pytestmark = pytest.mark.skipif(not CORPORA.is_dir(), reason="../shared/corpora is not present")


@pytest.fixture(scope="module")
def clustered(corpora_indexed):
    _, cfg = corpora_indexed
    with Catalog(cfg.catalog.path) as catalog:
        regroup.regroup(catalog, cfg)
    catalog = Catalog(cfg.catalog.path, readonly=True)
    yield catalog
    catalog.close()


def groups_of(catalog: Catalog, rel: str, kind: str) -> list[str]:
    return [g["key"] for g in reports.explain(catalog, str(CORPORA / rel))["groups"] if g["kind"] == kind]


def test_arezzo_is_one_event_and_one_place(clustered: Catalog) -> None:
    gps = sorted((CORPORA / "A_exif-samples/jpg/gps").glob("DSCN*.jpg"))
    assert len(gps) == 9
    rels = [str(p.relative_to(CORPORA)) for p in gps]
    events = {tuple(groups_of(clustered, r, "event")) for r in rels}
    places = {tuple(groups_of(clustered, r, "place")) for r in rels}
    assert len(events) == 1 and len(places) == 1 and () not in events and () not in places
    (event,), (place,) = events.pop(), places.pop()
    row = clustered.conn.execute("SELECT size, start, end FROM groups WHERE key = ?", (event,)).fetchone()
    assert row == (9, "2008-10-22T16:28:39", "2008-10-22T17:00:07")
    lat, lon, size = clustered.conn.execute("SELECT lat, lon, size FROM groups WHERE key = ?", (place,)).fetchone()
    assert size == 9 and lat == pytest.approx(43.467, abs=0.002) and lon == pytest.approx(11.882, abs=0.003)


def _truth() -> list[dict]:
    with open(CORPORA / "_truth" / "visual_groups.csv") as fh:
        return list(csv.DictReader(fh))


def test_copies_at_distance_zero_are_duplicates(clustered: Catalog) -> None:
    rows = _truth()
    bases = {r["group"]: r for r in rows if r["relation"].startswith("base")}
    checked = 0
    for r in rows:
        base = bases.get(r["group"])
        if base is None or r is base or r["phash"] != base["phash"]:
            continue
        info = reports.explain(clustered, str(CORPORA / r["file"]))
        if info["state"] != "ok":
            continue  # the corrupt copy: an error row, by design
        mine = groups_of(clustered, r["file"], "duplicate")
        assert mine and mine == groups_of(clustered, base["file"], "duplicate"), r["file"]
        checked += 1
    assert checked >= 10


def test_distinct_photos_are_not_grouped_with_each_other(clustered: Catalog) -> None:
    rows = _truth()
    distinct = [r for r in rows if r["relation"].startswith("base") or r["relation"] == "singleton"]
    assert len(distinct) >= 20
    seen: dict[str, str] = {}
    for r in distinct:
        for key in groups_of(clustered, r["file"], "duplicate"):
            assert key not in seen, f"{r['file']} and {seen[key]} are distinct photos"
            seen[key] = r["file"]


def test_similar_groups_join_the_stereo_pair_and_keep_distinct_photos_apart(clustered: Catalog) -> None:
    left = groups_of(clustered, "B_skimage-data/motorcycle_left.png", "similar")
    assert left and left == groups_of(clustered, "B_skimage-data/motorcycle_right.png", "similar")
    singles = [r["file"] for r in _truth() if r["relation"] == "singleton"]
    seen: dict[str, str] = {}
    for rel in singles:
        for key in groups_of(clustered, rel, "similar"):
            assert key not in seen, f"{rel} and {seen[key]} are distinct photos"
            seen[key] = rel
