"""When a photo was taken: local time, UTC when known, the offset, and where each came from."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone, tzinfo
from functools import lru_cache
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from organizer.extract.metadata import Meta

if TYPE_CHECKING:
    from timezonefinder import TimezoneFinder

EARLIEST_YEAR = 1826  # the oldest surviving photograph


@dataclass(frozen=True)
class Taken:
    local: datetime  # naive local wall-clock time
    source: str  # exif | filename | filename-date | mtime
    offset_minutes: int | None = None
    offset_source: str | None = None  # exif-offset | gps-timezone | gps-time | system

    @property
    def utc(self) -> datetime | None:
        if self.offset_minutes is None:
            return None
        return self.local - timedelta(minutes=self.offset_minutes)


_EXIF_DATE = re.compile(r"^\s*(\d{4})[:\-/.](\d{1,2})[:\-/.](\d{1,2})(?:[ T](\d{1,2}):(\d{1,2})(?::(\d{1,2}))?)?")
_OFFSET = re.compile(r"^\s*([+-])(\d{1,2}):?(\d{2})\s*$")


def plausible(value: datetime, now: datetime) -> bool:
    """Rejects dates before photography and more than a day in the future."""
    return value.year >= EARLIEST_YEAR and value <= now + timedelta(days=1)


def parse_exif_datetime(text: str | None, subsec: str | None = None) -> datetime | None:
    """'2008:10:22 16:28:39' -> datetime; None for blanks, zeros and impossible values."""
    if not text:
        return None
    m = _EXIF_DATE.match(text)
    if not m:
        return None
    year, month, day = int(m[1]), int(m[2]), int(m[3])
    hour, minute, second = (int(m[i]) if m[i] else 0 for i in (4, 5, 6))
    try:
        value = datetime(year, month, day, hour, minute, second)
    except ValueError:
        return None
    if subsec:
        digits = re.match(r"\s*(\d+)", subsec)
        if digits:
            value = value.replace(microsecond=int(digits[1][:6].ljust(6, "0")))
    return value


def parse_offset(text: str | None) -> int | None:
    """'+02:00' -> 120 minutes; None when absent or impossible."""
    if not text:
        return None
    m = _OFFSET.match(text)
    if not m:
        return None
    minutes = int(m[2]) * 60 + int(m[3])
    if minutes > 14 * 60 or int(m[3]) >= 60:
        return None
    return -minutes if m[1] == "-" else minutes


_NAME_PATTERNS: list[tuple[re.Pattern[str], bool]] = [
    # Screenshot_2020-01-01-12-34-56, 2020-01-01 12.34.56, 2020-01-01_12-34-56
    (re.compile(r"(?<!\d)(\d{4})-(\d{2})-(\d{2})[ _T-](\d{2})[.\-:](\d{2})[.\-:](\d{2})(?!\d)"), True),
    # IMG_20200101_123456, PXL_20200101_123456789, 20200101_123456, VID-20200101-123456
    (re.compile(r"(?<!\d)(\d{4})(\d{2})(\d{2})[_\- T](\d{2})(\d{2})(\d{2})"), True),
    # IMG-20200101-WA0001 (WhatsApp: date only)
    (re.compile(r"(?<!\d)(\d{4})(\d{2})(\d{2})-WA\d+", re.IGNORECASE), False),
]


def from_filename(name: str, now: datetime) -> tuple[datetime, bool] | None:
    """A date written in a file name; the flag says whether it has a time of day too."""
    for pattern, has_time in _NAME_PATTERNS:
        for m in pattern.finditer(name):
            parts = [int(g) for g in m.groups()]
            try:
                value = datetime(*parts) if has_time else datetime(*parts[:3])
            except ValueError:
                continue
            if plausible(value, now):
                return value, has_time
    return None


@lru_cache(maxsize=1)
def _timezone_finder() -> TimezoneFinder:  # the finder loads its data once per process
    from timezonefinder import TimezoneFinder

    return TimezoneFinder()


def timezone_at(lat: float, lon: float) -> tzinfo | None:
    name = _timezone_finder().timezone_at(lng=lon, lat=lat)
    if not name:
        return None
    try:
        return ZoneInfo(name)
    except ZoneInfoNotFoundError:
        return None


def _offset_in(zone: tzinfo, local: datetime) -> int | None:
    delta = local.replace(tzinfo=zone).utcoffset()
    return None if delta is None else int(delta.total_seconds() // 60)


def _offset_from_gps_time(local: datetime, gps_time: tuple[float, ...] | None) -> int | None:
    """Local time-of-day minus the GPS (UTC) time-of-day, to the nearest 15 minutes.

    Only the time of day is used: several cameras write a GPS date a day off.
    """
    if not gps_time or len(gps_time) < 3:
        return None
    h, m, s = gps_time[:3]
    if not (0 <= h < 24 and 0 <= m < 60 and 0 <= s < 61):
        return None
    utc_seconds = h * 3600 + m * 60 + s
    local_seconds = local.hour * 3600 + local.minute * 60 + local.second
    diff = (local_seconds - utc_seconds) % 86400
    if diff > 14 * 3600:
        diff -= 86400
    minutes = int(round(diff / 900.0)) * 15
    return minutes if -12 * 60 <= minutes <= 14 * 60 else None


def resolve(
    meta: Meta,
    position: tuple[float, float] | None,
    filename: str,
    mtime: float,
    now: datetime,
    local_zone: tzinfo | None = None,
) -> Taken:
    """Pick the best evidence of when a photo was taken.

    EXIF (DateTimeOriginal, then DateTimeDigitized, then DateTime) with OffsetTimeOriginal, else
    the timezone at the GPS position, else the GPS clock; then a date in the file name; then the
    file's mtime (in `local_zone`, the machine's zone by default).
    """
    candidates = [
        (meta.datetime_original, meta.subsec_original),
        (meta.datetime_digitized, None),
        (meta.datetime, None),
    ]
    for text, subsec in candidates:
        value = parse_exif_datetime(text, subsec)
        if value is None or not plausible(value, now):
            continue
        offset, offset_source = parse_offset(meta.offset_original), "exif-offset"
        if offset is None and position is not None:
            zone = timezone_at(*position)
            offset, offset_source = (_offset_in(zone, value), "gps-timezone") if zone else (None, None)
        if offset is None:
            offset, offset_source = _offset_from_gps_time(value, meta.gps_time), "gps-time"
        return Taken(value, "exif", offset, offset_source if offset is not None else None)

    found = from_filename(filename, now)
    if found is not None:
        value, has_time = found
        return Taken(value, "filename" if has_time else "filename-date")

    instant = datetime.fromtimestamp(mtime, tz=timezone.utc).astimezone(local_zone)
    offset = instant.utcoffset()
    minutes = None if offset is None else int(offset.total_seconds() // 60)
    return Taken(instant.replace(tzinfo=None), "mtime", minutes, "system")

