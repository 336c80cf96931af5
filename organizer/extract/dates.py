"""When a photo was taken: local time, UTC when known, the offset, and where each came from."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone, tzinfo
from functools import lru_cache
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from organizer.extract import iptc

if TYPE_CHECKING:
    from organizer.extract.evidence import Evidence
    from timezonefinder import TimezoneFinder

EARLIEST_YEAR = 1826  # the oldest surviving photograph

# Where a date can come from, best first (docs/catalog.md explains each).
SOURCES = ("xmp-sidecar", "exif", "xmp", "iptc", "quicktime", "takeout", "png", "filename", "filename-date",
           "exif-modified", "mtime")
# The sources that say when a photo was taken (events use only these).
CAPTURE_SOURCES = frozenset(SOURCES) - {"exif-modified", "mtime"}
OFFSET_SOURCES = ("exif-offset", "xmp-offset", "iptc-offset", "quicktime-offset", "vendor-offset",
                  "gps-timezone", "gps-time", "system")


@dataclass(frozen=True)
class Taken:
    local: datetime  # naive local wall-clock time
    source: str  # one of SOURCES
    offset_minutes: int | None = None
    offset_source: str | None = None  # one of OFFSET_SOURCES

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
    # macOS and WhatsApp: 'Screenshot 2019-05-21 at 10.45.52.png', 'Screen Shot 2019-05-21 at 10.45.52 PM.png',
    # 'WhatsApp Image 2019-05-21 at 10.45.52.jpeg'
    (re.compile(r"(?<!\d)(\d{4})-(\d{2})-(\d{2}) at (\d{1,2})[.:](\d{2})[.:](\d{2})(?:\s*([AaPp][Mm]))?"), True),
    # Screenshot_2020-01-01-12-34-56, 2020-01-01 12.34.56, 2020-01-01_12-34-56, Screenshot from 2020-01-01 12-34-56
    (re.compile(r"(?<!\d)(\d{4})-(\d{2})-(\d{2})[ _T-](\d{2})[.\-:](\d{2})[.\-:](\d{2})(?!\d)"), True),
    # Windows 11 'Screenshot 2024-01-05 103045.png', Signal 'signal-2020-01-01-123456.jpg'
    (re.compile(r"(?<!\d)(\d{4})-(\d{2})-(\d{2})[ _-](\d{2})(\d{2})(\d{2})(?!\d)"), True),
    # IMG_20200101_123456, PXL_20200101_123456789, 20200101_123456, VID-20200101-123456
    (re.compile(r"(?<!\d)(\d{4})(\d{2})(\d{2})[_\- T](\d{2})(\d{2})(\d{2})"), True),
    # DJI_20230101123456_0001, Pixel 'PXL_' motion 14-digit stamps
    (re.compile(r"(?<!\d)(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})(?!\d)"), True),
    # IMG-20200101-WA0001 (WhatsApp: date only)
    (re.compile(r"(?<!\d)(\d{4})(\d{2})(\d{2})-WA\d+", re.IGNORECASE), False),
    # 'Photo 2020-01-01.jpg', 'IMG_2020-01-01.jpg' (date only)
    (re.compile(r"(?<!\d)(\d{4})-(\d{2})-(\d{2})(?![\d-])"), False),
]


def from_filename(name: str, now: datetime) -> tuple[datetime, bool] | None:
    """A date written in a file name; the flag says whether it has a time of day too."""
    for pattern, has_time in _NAME_PATTERNS:
        for m in pattern.finditer(name):
            parts = [int(g) for g in m.groups()[:6] if g is not None]
            meridiem = m.groups()[6].lower() if len(m.groups()) > 6 and m.groups()[6] else None
            if meridiem and 1 <= parts[3] <= 12:
                parts[3] = parts[3] % 12 + (12 if meridiem == "pm" else 0)
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


_ISO = re.compile(
    r"^\s*(?:UTC\s+)?(\d{4})[-:](\d{2})[-:](\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d+))?)?)?\s*(Z|UTC|[+-]\d{2}:?\d{2})?"
)


def parse_iso(text: str | None) -> tuple[datetime, int | None] | None:
    """An XMP/QuickTime date ('2008-10-22T16:28:39.25+02:00', '...Z', '2008-10-22') -> (wall-clock
    time, offset minutes or None); None for anything else."""
    m = _ISO.match(text) if text else None
    if not m:
        return None
    parts = [int(g) if g else 0 for g in m.groups()[:6]]
    try:
        value = datetime(*parts)
    except ValueError:
        return None
    if m[7]:
        value = value.replace(microsecond=int(m[7][:6].ljust(6, "0")))
    zone = m[8]
    if zone in ("Z", "UTC"):
        return value, 0
    return value, parse_offset(zone) if zone else None


@dataclass(frozen=True)
class _Candidate:
    source: str
    local: datetime
    offset: int | None = None
    offset_source: str | None = None
    utc: bool = False  # `local` is UTC: the wall-clock time comes from the zone


_XMP_DATES = ("exif:DateTimeOriginal", "photoshop:DateCreated", "xmp:CreateDate", "exif:DateTimeDigitized")


def _from_xmp(values: object, source: str) -> _Candidate | None:
    for key in _XMP_DATES:
        found = parse_iso(values.text(key))  # type: ignore[attr-defined]
        if found:
            return _Candidate(source, found[0], found[1], "xmp-offset" if found[1] is not None else None)
    return None


def _from_exif(ev: Evidence, modified: bool) -> _Candidate | None:
    meta = ev.exif
    rows = [(meta.datetime, meta.subsec, meta.offset)] if modified else [
        (meta.datetime_original, meta.subsec_original, meta.offset_original),
        (meta.datetime_digitized, meta.subsec_digitized, meta.offset_digitized)]
    for text, subsec, offset in rows:
        value = parse_exif_datetime(text, subsec)
        if value is not None:
            minutes = parse_offset(offset)
            return _Candidate("exif-modified" if modified else "exif", value, minutes,
                              "exif-offset" if minutes is not None else None)
    return None


def _from_iptc(ev: Evidence) -> _Candidate | None:
    for date, time in (("date", "time"), ("digital_date", "digital_time")):
        found = iptc.date_time(ev.iptc.text(date), ev.iptc.text(time))
        value = parse_exif_datetime(found[0]) if found else None
        if found and value:
            minutes = parse_offset(found[1])
            return _Candidate("iptc", value, minutes, "iptc-offset" if minutes is not None else None)
    return None


def _from_quicktime(ev: Evidence) -> _Candidate | None:
    tags = ev.quicktime
    apple = parse_iso(tags.get("com.apple.quicktime.creationdate"))
    if apple and apple[1] is not None:
        return _Candidate("quicktime", apple[0], apple[1], "quicktime-offset")
    for key in ("creation_time", "date", "recorded_date"):
        text = tags.get(key)
        found = parse_iso(text)
        if found and found[0].year > 1970:  # 1904 and 1970 are empty clocks
            # a local time with its offset: FFmpeg's 'date'; AVCHD's recording date, in the camera's
            # zone (MediaInfo marks only an instant 'UTC')
            if found[1] is not None and (key == "date" or (key == "recorded_date" and "UTC" not in (text or ""))):
                return _Candidate("quicktime", found[0], found[1], "quicktime-offset")
            if found[1] is None:
                return _Candidate("quicktime", found[0])
            return _Candidate("quicktime", found[0] - timedelta(minutes=found[1]), utc=True)
    return None


def _from_png(ev: Evidence) -> _Candidate | None:
    from email.utils import parsedate_to_datetime

    text = ev.png_text.get("Creation Time") or ev.png_text.get("creation time")
    if not text:
        return None
    found = parse_iso(text)
    if found:
        return _Candidate("png", found[0], found[1], "xmp-offset" if found[1] is not None else None)
    try:
        value = parsedate_to_datetime(text.strip())
    except (TypeError, ValueError, IndexError):
        return None
    offset = value.utcoffset()
    minutes = None if offset is None else int(offset.total_seconds() // 60)
    return _Candidate("png", value.replace(tzinfo=None), minutes, "xmp-offset" if minutes is not None else None)


def _candidates(ev: Evidence, filename: str, now: datetime) -> list[_Candidate]:
    found = [
        _from_xmp(ev.sidecar, "xmp-sidecar"),
        _from_exif(ev, modified=False),
        _from_xmp(ev.xmp, "xmp"),
        _from_iptc(ev),
        _from_quicktime(ev),
        _Candidate("takeout", ev.takeout.taken_utc, utc=True) if ev.takeout and ev.takeout.taken_utc else None,
        _from_png(ev),
    ]
    named = from_filename(filename, now)
    if named is not None:
        found.append(_Candidate("filename" if named[1] else "filename-date", named[0]))
    found.append(_from_exif(ev, modified=True))
    return [c for c in found if c is not None and plausible(c.local, now)]


def _zone_evidence(ev: Evidence) -> list[tuple[datetime, int, str]]:
    """Explicit offsets written beside some date: (that wall-clock time, offset, source)."""
    out = []
    for values in (ev.sidecar, ev.xmp):
        for key in _XMP_DATES:
            found = parse_iso(values.text(key))
            if found and found[1] is not None:
                out.append((found[0], found[1], "xmp-offset"))
    iptc_date = _from_iptc(ev)
    if iptc_date and iptc_date.offset is not None:
        out.append((iptc_date.local, iptc_date.offset, "iptc-offset"))
    return out


def _offset(chosen: _Candidate, ev: Evidence, position: tuple[float, float] | None) -> tuple[int | None, str | None]:
    """The best evidence of the chosen date's UTC offset: its own, an explicit zone written beside
    the same wall-clock time elsewhere, a camera's time-zone setting, the GPS position's zone, the
    GPS clock."""
    if chosen.offset is not None:
        return chosen.offset, chosen.offset_source
    if chosen.source.startswith("filename"):
        return None, None
    for local, minutes, source in _zone_evidence(ev):
        if local.replace(microsecond=0) == chosen.local.replace(microsecond=0):
            return minutes, source
    if ev.vendor_offset is not None and chosen.source in ("exif", "exif-modified"):
        return ev.vendor_offset, "vendor-offset"
    if position is not None:
        zone = timezone_at(*position)
        minutes = _offset_in(zone, chosen.local) if zone else None
        if minutes is not None:
            return minutes, "gps-timezone"
    if chosen.source in ("exif", "exif-modified"):
        minutes = _offset_from_gps_time(chosen.local, ev.exif.gps_time)
        if minutes is not None:
            return minutes, "gps-time"
    return None, None


def _from_utc(chosen: _Candidate, position: tuple[float, float] | None, local_zone: tzinfo | None) -> Taken:
    """A UTC instant (QuickTime's CreateDate, Takeout's timestamp) as local time: in the zone at
    the GPS position, else in `local_zone` (the machine's by default)."""
    instant = chosen.local.replace(tzinfo=timezone.utc)
    zone = timezone_at(*position) if position is not None else None
    source = "gps-timezone" if zone else "system"
    local = instant.astimezone(zone or local_zone)
    offset = local.utcoffset()
    minutes = None if offset is None else int(offset.total_seconds() // 60)
    return Taken(local.replace(tzinfo=None), chosen.source, minutes, source)


def resolve(
    ev: Evidence,
    position: tuple[float, float] | None,
    filename: str,
    mtime: float,
    now: datetime,
    local_zone: tzinfo | None = None,
) -> Taken:
    """The best date over all sources, in SOURCES order (an XMP sidecar, the user's correction,
    first; EXIF's DateTime, when the file was last written, below a date in the file name), with
    the best offset; last, the file's mtime in `local_zone` (the machine's zone by default)."""
    for chosen in _candidates(ev, filename, now):
        if chosen.utc:
            return _from_utc(chosen, position, local_zone)
        offset, offset_source = _offset(chosen, ev, position)
        return Taken(chosen.local, chosen.source, offset, offset_source)
    instant = datetime.fromtimestamp(mtime, tz=timezone.utc).astimezone(local_zone)
    offset = instant.utcoffset()
    minutes = None if offset is None else int(offset.total_seconds() // 60)
    return Taken(instant.replace(tzinfo=None), "mtime", minutes, "system")
