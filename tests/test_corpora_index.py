"""Indexing the real corpora in ../shared/corpora (skipped when absent)."""

from __future__ import annotations

import csv
import re
from datetime import datetime
from pathlib import Path

import pytest

from organizer.catalog import Catalog
from organizer.cli import reports
from organizer.extract.dates import plausible

from conftest import CORPORA

pytestmark = pytest.mark.skipif(not CORPORA.is_dir(), reason="../shared/corpora is not present")


@pytest.fixture(scope="module")
def indexed(corpora_indexed):
    report, cfg = corpora_indexed
    catalog = Catalog(cfg.catalog.path, readonly=True)
    yield report, catalog
    catalog.close()


def row(catalog: Catalog, rel: str) -> dict:
    return reports.explain(catalog, str(CORPORA / rel))


def test_every_file_is_accounted_for(indexed) -> None:
    report, catalog = indexed
    on_disk = [p for p in CORPORA.rglob("*") if p.is_file() and not any(part.startswith(".") for part in p.parts)]
    assert report.seen == len(on_disk)
    assert (report.indexed + report.known + report.errors + report.unsupported + report.ignored + report.skipped
            == report.seen)
    assert report.indexed > 300 and not report.interrupted
    assert catalog.integrity_check() == "ok"


def test_bad_inputs_are_indexed_or_one_error_row(indexed) -> None:
    _, catalog = indexed
    with open(CORPORA / "_truth" / "bad_inputs.csv") as fh:
        bad = [r["path"] for r in csv.DictReader(fh)]
    assert len(bad) >= 20
    for rel in bad:
        info = row(catalog, rel)
        if info["state"] == "ok":  # read; pixels that fail leave the metadata and a [pixels] error
            assert info["digest"] and all(e["stage"] == "pixels" for e in info["errors"]), rel
        else:
            if info["state"] == "ignored":  # an empty file without an image's name is not a photo
                assert info["size"] == 0 and not rel.lower().endswith((".jpg", ".png", ".heic")), rel
                continue
            if info["state"] == "unsupported":  # a format organizer recognises but does not read
                assert info["format"], rel
                continue
            assert info["state"] == "error", rel
            assert len(info["errors"]) == 1 and info["errors"][0]["message"], rel


def test_gps_locations_within_1e5_degree(indexed) -> None:
    _, catalog = indexed
    with open(CORPORA / "_truth" / "gps_locations.csv") as fh:
        truth = list(csv.DictReader(fh))
    assert len(truth) > 30
    zero = [t for t in truth if t["cluster_1km"] == "invalid"]
    assert zero and all(float(t["lat"]) == float(t["lon"]) == 0 for t in zero)  # no fix: rejected
    for t in zero:
        assert row(catalog, t["path"])["lat"] is None
    for t in truth:
        if t in zero:
            continue
        info = row(catalog, t["path"])
        assert info["lat"] == pytest.approx(float(t["lat"]), abs=1e-5), t["path"]
        assert info["lon"] == pytest.approx(float(t["lon"]), abs=1e-5), t["path"]
        if t["datetime_original"]:
            expected = datetime.strptime(t["datetime_original"], "%Y:%m:%d %H:%M:%S")
            assert info["taken_at"][:19] == expected.isoformat(), t["path"]


def _dump_dates(dump: Path, prefix: str, folder: str) -> dict[str, str]:
    dates: dict[str, str] = {}
    current = None
    for line in dump.read_text(errors="replace").splitlines():
        if line.startswith("Opening: "):
            current = folder + "/" + line[len("Opening: "):].removeprefix(prefix)
        m = re.match(r"EXIF DateTimeOriginal \(ASCII\): (\d{4}:\d\d:\d\d \d\d:\d\d:\d\d)$", line)
        if m and current:
            dates[current] = m[1]
    return dates


def test_datetime_original_as_in_the_upstream_dumps(indexed) -> None:
    _, catalog = indexed
    dates = _dump_dates(CORPORA / "A_exif-samples" / "dump", "exif-samples-master/", "A_exif-samples")
    dates |= _dump_dates(CORPORA / "A_exif-py-extras" / "dump.txt", "tests/resources/", "A_exif-py-extras")
    checked = 0
    for rel, text in dates.items():
        if not (CORPORA / rel).is_file():
            continue
        try:
            expected = datetime.strptime(text, "%Y:%m:%d %H:%M:%S")
        except ValueError:
            continue  # an impossible date in the file: rejected by design
        if not plausible(expected, datetime.now()):
            continue  # e.g. a camera clock in the future: rejected by design
        info = row(catalog, rel)
        if info["state"] != "ok":
            continue
        assert info["taken_at_source"] == "exif", rel
        assert info["taken_at"][:19] == expected.isoformat(), rel
        checked += 1
    assert checked >= 60


def test_misnamed_formats_images_are_jpeg(indexed) -> None:
    _, catalog = indexed
    folder = "B_imagededup/tests/data/formats_images"
    for name in ("ukbench09380.bmp", "ukbench09380.png", "ukbench09380.svg", "ukbench09380.jpeg"):
        assert row(catalog, f"{folder}/{name}")["format"] == "jpeg", name
    assert row(catalog, f"{folder}/ukbench09380.webp")["format"] == "webp"
    assert row(catalog, f"{folder}/copyleft.tiff")["format"] == "tiff"
    # one content under three names is one photo
    assert len(row(catalog, f"{folder}/ukbench09380.png")["same_content"]) >= 2
