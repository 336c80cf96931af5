"""Date and time rules, on the pure functions (no files, no catalog)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from organizer.extract.dates import from_filename, parse_exif_datetime, parse_offset, resolve
from organizer.extract.evidence import Evidence
from organizer.extract.metadata import Meta

NOW = datetime(2026, 11, 22, 12, 0, 0)
UTC = timezone.utc
MTIME = datetime(2021, 6, 1, 10, 0, tzinfo=UTC).timestamp()


def taken(meta: Meta, name: str = "x.jpg", position=None, zone=UTC):
    return resolve(Evidence(exif=meta), position, name, MTIME, NOW, zone)


def test_original_before_digitized_before_datetime() -> None:
    t = taken(Meta(datetime_original="2010:01:02 03:04:05", datetime_digitized="2011:01:01 00:00:00",
                   datetime="2012:01:01 00:00:00"))
    assert (t.local, t.source) == (datetime(2010, 1, 2, 3, 4, 5), "exif")
    t = taken(Meta(datetime_digitized="2011:01:01 00:00:00", datetime="2012:01:01 00:00:00"))
    assert t.local == datetime(2011, 1, 1)
    t = taken(Meta(datetime="2012:01:01 00:00:00"))
    assert t.local == datetime(2012, 1, 1)


def test_subseconds_and_offset_give_utc() -> None:
    t = taken(Meta(datetime_original="2020:07:01 12:00:00", subsec_original="25", offset_original="+09:30"))
    assert t.local == datetime(2020, 7, 1, 12, 0, 0, 250000)
    assert (t.offset_minutes, t.offset_source) == (570, "exif-offset")
    assert t.utc == datetime(2020, 7, 1, 2, 30, 0, 250000)


@pytest.mark.parametrize("text", ["0000:00:00 00:00:00", "    :  :     :  :  ", "1700:01:01 00:00:00",
                                  "2019:02:30 10:00:00", "2027:01:01 00:00:00", "garbage", ""])
def test_impossible_exif_dates_are_rejected(text: str) -> None:
    t = taken(Meta(datetime_original=text))
    assert t.source == "mtime"


def test_a_rejected_original_falls_back_to_digitized() -> None:
    t = taken(Meta(datetime_original="0000:00:00 00:00:00", datetime_digitized="2015:05:05 05:05:05"))
    assert (t.local, t.source) == (datetime(2015, 5, 5, 5, 5, 5), "exif")


def test_gps_position_gives_the_timezone_with_daylight_saving() -> None:
    arezzo = (43.4674483, 11.8851267)
    summer = taken(Meta(datetime_original="2008:10:22 16:28:39"), position=arezzo)
    winter = taken(Meta(datetime_original="2008:12:22 16:28:39"), position=arezzo)
    assert (summer.offset_minutes, summer.offset_source) == (120, "gps-timezone")
    assert winter.offset_minutes == 60
    assert summer.utc == datetime(2008, 10, 22, 14, 28, 39)


def test_exif_offset_beats_the_position() -> None:
    t = taken(Meta(datetime_original="2008:10:22 16:28:39", offset_original="-05:00"), position=(43.46, 11.88))
    assert (t.offset_minutes, t.offset_source) == (-300, "exif-offset")


def test_gps_clock_gives_the_offset_even_with_a_wrong_gps_date() -> None:
    # Nikon P6000 writes the GPS date one day off: only the GPS time of day is read.
    t = taken(Meta(datetime_original="2008:10:22 16:28:39", gps_time=(14.0, 27.0, 7.24)))
    assert (t.offset_minutes, t.offset_source) == (120, "gps-time")
    t = taken(Meta(datetime_original="2020:01:01 01:00:00", gps_time=(20.0, 0.0, 0.0)))
    assert t.offset_minutes == 5 * 60  # crosses midnight


def test_no_offset_means_no_utc() -> None:
    t = taken(Meta(datetime_original="2020:01:01 01:00:00"))
    assert t.offset_minutes is None and t.utc is None and t.offset_source is None


@pytest.mark.parametrize(
    "name, expected, source",
    [
        ("IMG_20200101_123456.jpg", datetime(2020, 1, 1, 12, 34, 56), "filename"),
        ("PXL_20200102_123456789.jpg", datetime(2020, 1, 2, 12, 34, 56), "filename"),
        ("20200103_123456.jpg", datetime(2020, 1, 3, 12, 34, 56), "filename"),
        ("IMG-20200104-WA0001.jpg", datetime(2020, 1, 4), "filename-date"),
        ("Screenshot_2020-01-05-12-34-56.png", datetime(2020, 1, 5, 12, 34, 56), "filename"),
        ("2020-01-06 12.34.56.jpg", datetime(2020, 1, 6, 12, 34, 56), "filename"),
    ],
)
def test_dates_in_file_names(name: str, expected: datetime, source: str) -> None:
    t = taken(Meta(), name=name)
    assert (t.local, t.source, t.offset_minutes) == (expected, source, None)


@pytest.mark.parametrize("name", ["IMG_20201301_123456.jpg", "IMG_99991231_123456.jpg", "DSC_1234.jpg",
                                  "IMG_17000101_000000.jpg"])
def test_names_without_a_valid_date(name: str) -> None:
    assert from_filename(name, NOW) is None


def test_mtime_is_the_last_resort_in_the_given_zone() -> None:
    t = taken(Meta(), name="DSC_0001.jpg", zone=timezone(timedelta(hours=-4)))
    assert (t.local, t.source, t.offset_minutes) == (datetime(2021, 6, 1, 6, 0), "mtime", -240)
    assert t.utc == datetime(2021, 6, 1, 10, 0)


def test_parsers() -> None:
    assert parse_exif_datetime("2008:10:22 16:28:39") == datetime(2008, 10, 22, 16, 28, 39)
    assert parse_exif_datetime("2008-10-22T16:28") == datetime(2008, 10, 22, 16, 28)
    assert parse_offset("+05:45") == 345 and parse_offset("-0800") == -480
    assert parse_offset("+25:00") is None and parse_offset("   :  ") is None
