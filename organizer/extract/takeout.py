"""Google Takeout's JSON sidecars (`IMG_1.jpg.json`, `IMG_1.jpg.supplemental-metadata.json`):
when the photo was taken (a UTC timestamp), where, its description and favourite flag."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from datetime import datetime, timezone

MAX_BYTES = 1 << 20


@dataclass(frozen=True)
class Takeout:
    taken_utc: datetime | None = None  # naive UTC
    lat: float | None = None
    lon: float | None = None
    alt: float | None = None
    title: str | None = None
    description: str | None = None
    favorite: bool = False


def parse(data: bytes) -> Takeout:
    """Raises ValueError for a file that is not a Takeout JSON object."""
    if len(data) > MAX_BYTES:
        raise ValueError("Takeout sidecar over 1 MB")
    try:
        doc = json.loads(data.decode("utf-8-sig"))
    except RecursionError:
        raise ValueError("Takeout sidecar nested too deep") from None
    if not isinstance(doc, dict):
        raise ValueError("Takeout sidecar is not a JSON object")
    taken = None
    for key in ("photoTakenTime", "creationTime"):
        stamp = doc.get(key)
        if isinstance(stamp, dict):
            try:
                seconds = int(stamp.get("timestamp", ""))
                taken = datetime.fromtimestamp(seconds, tz=timezone.utc).replace(tzinfo=None)
            except (TypeError, ValueError, OverflowError, OSError):  # null, a list, 1e400, a string of digits
                continue
            if seconds > 0:
                break
            taken = None
    lat = lon = alt = None
    for key in ("geoDataExif", "geoData"):
        geo = doc.get(key)
        if isinstance(geo, dict):
            la, lo = _number(geo.get("latitude")), _number(geo.get("longitude"))
            if la is not None and lo is not None and (la, lo) != (0.0, 0.0) and -90 <= la <= 90 and -180 <= lo <= 180:
                lat, lon, alt = la, lo, _number(geo.get("altitude")) or None
                break
    text = {k: v.strip() for k in ("title", "description") if isinstance(v := doc.get(k), str) and v.strip()}
    return Takeout(taken, lat, lon, alt, text.get("title"), text.get("description"), doc.get("favorited") is True)


def _number(value: object) -> float | None:
    """A finite JSON number or numeric string (Takeout writes both); none for null, lists, 1e400."""
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        return None
    try:
        number = float(value)
    except (ValueError, OverflowError):
        return None
    return number if math.isfinite(number) else None
