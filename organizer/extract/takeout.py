"""Google Takeout's JSON sidecars (`IMG_1.jpg.json`, `IMG_1.jpg.supplemental-metadata.json`):
when the photo was taken (a UTC timestamp), where, its description and favourite flag."""

from __future__ import annotations

import json
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
    doc = json.loads(data.decode("utf-8-sig"))
    if not isinstance(doc, dict):
        raise ValueError("Takeout sidecar is not a JSON object")
    taken = None
    for key in ("photoTakenTime", "creationTime"):
        stamp = doc.get(key)
        if isinstance(stamp, dict):
            try:
                seconds = int(stamp.get("timestamp", ""))
                taken = datetime.fromtimestamp(seconds, tz=timezone.utc).replace(tzinfo=None)
            except (ValueError, OverflowError, OSError):
                continue
            if seconds > 0:
                break
            taken = None
    lat = lon = alt = None
    for key in ("geoDataExif", "geoData"):
        geo = doc.get(key)
        if isinstance(geo, dict):
            try:
                la, lo = float(geo.get("latitude", 0)), float(geo.get("longitude", 0))
            except (TypeError, ValueError):
                continue
            if (la, lo) != (0.0, 0.0) and -90 <= la <= 90 and -180 <= lo <= 180:
                lat, lon = la, lo
                try:
                    alt = float(geo.get("altitude", 0)) or None
                except (TypeError, ValueError):
                    alt = None
                break
    text = {k: v.strip() for k in ("title", "description") if isinstance(v := doc.get(k), str) and v.strip()}
    return Takeout(taken, lat, lon, alt, text.get("title"), text.get("description"), doc.get("favorited") is True)
