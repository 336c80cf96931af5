"""Every corpus file whose capture date ExifTool reads gets the same date (to the second) and,
where ExifTool shows the offset beside that date, the same offset (skipped without exiftool or
the corpora)."""

from __future__ import annotations

import json
import shutil
import subprocess
from datetime import datetime

import pytest

from organizer.extract import extract_file
from organizer.extract.dates import parse_exif_datetime, parse_iso, parse_offset, plausible

from conftest import CORPORA

pytestmark = [
    pytest.mark.skipif(not CORPORA.is_dir(), reason="../shared/corpora is not present"),
    pytest.mark.skipif(shutil.which("exiftool") is None, reason="exiftool is not installed"),
]

# ExifTool's tags in the order organizer ranks their sources (docs/catalog.md), with the tag that
# holds each one's offset.
_ORDER = [
    ("ExifIFD:DateTimeOriginal", "ExifIFD:OffsetTimeOriginal"), ("ExifIFD:CreateDate", "ExifIFD:OffsetTimeDigitized"),
    ("XMP-exif:DateTimeOriginal", None), ("XMP-photoshop:DateCreated", None), ("XMP-xmp:CreateDate", None),
    ("XMP-exif:DateTimeDigitized", None), ("IPTC:DateCreated", None), ("QuickTime:CreateDate", None),
    ("PNG:CreationTime", None), ("IFD0:ModifyDate", "ExifIFD:OffsetTime"),
]
# corpus path -> why organizer reads another date than ExifTool (none left today)
KNOWN: dict[str, str] = {}


def _expected(row: dict) -> tuple[str, datetime, int | None] | None:
    for tag, offset_tag in _ORDER:
        value = row.get(tag)
        if value is None:
            continue
        text = str(value)
        if tag == "IPTC:DateCreated" and row.get("IPTC:TimeCreated"):
            text += " " + str(row["IPTC:TimeCreated"])
        if tag.startswith(("ExifIFD", "IFD0")):
            local = parse_exif_datetime(text)
            found = (local, parse_offset(row.get(offset_tag))) if local else None
        else:
            found = parse_iso(text.replace(":", "-", 2))
        if found and plausible(found[0], datetime.now()):
            return tag, found[0].replace(microsecond=0), found[1]
    return None


def test_dates_and_offsets_as_exiftool_reads_them() -> None:
    out = subprocess.run(["exiftool", "-q", "-q", "-r", "-j", "-n", "-time:all", "-G1", "--ext", "txt", "--ext", "csv",
                          "--ext", "pkl", "--ext", "md", "--ext", "rst", "."], cwd=CORPORA, capture_output=True,
                         check=False, timeout=300)
    rows = json.loads(out.stdout)
    checked, wrong = 0, []
    for row in rows:
        expected = _expected(row)
        rel = row["SourceFile"].removeprefix("./")
        if expected is None or rel in KNOWN:
            continue
        path = CORPORA / rel
        facts = extract_file(str(path), path.stat().st_mtime, datetime.now())
        got = facts.taken.local.replace(microsecond=0), facts.taken.offset_minutes
        if got[0] != expected[1] or (expected[2] is not None and got[1] != expected[2]):
            wrong.append((rel, expected, got, facts.taken.source))
        checked += 1
    assert checked >= 150
    assert wrong == []
