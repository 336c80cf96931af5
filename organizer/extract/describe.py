"""What a file says about itself besides its date: camera, position, keywords, rating, title,
description and named faces, each taken from the best source (a user's XMP sidecar first) and
recorded with that source."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field

from organizer.extract import metadata, video, xmp
from organizer.extract.evidence import Evidence
from organizer.extract.xmp import Face, Xmp

_XMP_GPS = re.compile(r"^\s*(\d+(?:\.\d+)?)(?:,(\d+(?:\.\d+)?))?(?:,(\d+(?:\.\d+)?))?\s*([NSEW])\s*$", re.IGNORECASE)


@dataclass(frozen=True)
class Described:
    make: str | None = None
    model: str | None = None
    position: tuple[float, float] | None = None
    alt: float | None = None
    keywords: tuple[str, ...] = ()
    keyword_paths: tuple[str, ...] = ()  # hierarchies, 'Places/Italy/Arezzo'
    rating: int | None = None  # -1 (rejected) .. 5
    title: str | None = None
    description: str | None = None
    faces: tuple[Face, ...] = ()
    sources: dict[str, str] = field(default_factory=dict)


def _xmp_degrees(text: str | None) -> float | None:
    """XMP GPS: '51,15.2911N' (degrees, decimal minutes) or '51,15,17.5N' or '51.25N'."""
    m = _XMP_GPS.match(text) if text else None
    if not m:
        return None
    value = float(m[1]) + (float(m[2]) / 60 if m[2] else 0) + (float(m[3]) / 3600 if m[3] else 0)
    return -value if m[4].upper() in "SW" else value


def _xmp_position(values: Xmp) -> tuple[float, float] | None:
    lat, lon = _xmp_degrees(values.text("exif:GPSLatitude")), _xmp_degrees(values.text("exif:GPSLongitude"))
    if lat is None or lon is None or not (-90 <= lat <= 90 and -180 <= lon <= 180) or (lat, lon) == (0, 0):
        return None
    return round(lat, 7), round(lon, 7)


def _position(ev: Evidence) -> tuple[tuple[float, float] | None, float | None, str | None]:
    found = _xmp_position(ev.sidecar)
    if found:
        return found, None, "xmp-sidecar"
    found = metadata.gps(ev.exif)
    if found:
        return found, metadata.altitude(ev.exif), "exif"
    found = _xmp_position(ev.xmp)
    if found:
        return found, None, "xmp"
    tags = ev.quicktime
    place = video.location(tags.get("com.apple.quicktime.location.iso6709") or tags.get("location")
                           or tags.get("location-eng"))
    if place:
        return (round(place[0], 7), round(place[1], 7)), place[2], "quicktime"
    if ev.takeout and ev.takeout.lat is not None and ev.takeout.lon is not None:
        return (round(ev.takeout.lat, 7), round(ev.takeout.lon, 7)), ev.takeout.alt, "takeout"
    return None, None, None


def _camera(ev: Evidence) -> tuple[str | None, str | None, str | None]:
    tags = ev.quicktime
    for source, make, model in (
        ("exif", ev.exif.make, ev.exif.model),
        ("xmp", ev.xmp.text("tiff:Make"), ev.xmp.text("tiff:Model")),
        ("quicktime", tags.get("com.apple.quicktime.make") or tags.get("make") or tags.get("com.android.manufacturer"),
         tags.get("com.apple.quicktime.model") or tags.get("model") or tags.get("com.android.model")),
        ("xmp-sidecar", ev.sidecar.text("tiff:Make"), ev.sidecar.text("tiff:Model")),
    ):
        if make or model:
            return make, model, source
    return None, None, None


def _unique(items: list[str]) -> tuple[str, ...]:
    """Each keyword once, ignoring case, in NFC: macOS writes 'Café' decomposed, Windows composed,
    and the same tag made two albums ('Café' and 'Café 2')."""
    seen: dict[str, str] = {}
    for item in items:
        item = unicodedata.normalize("NFC", item.strip())
        if item and item.casefold() not in seen:
            seen[item.casefold()] = item
    return tuple(seen.values())


def _keywords(values: Xmp) -> tuple[list[str], list[str]]:
    flat = values.texts("dc:subject") + values.texts("MicrosoftPhoto:LastKeywordXMP")
    paths = [p.replace("|", "/") for p in values.texts("lr:hierarchicalSubject")] + values.texts("digiKam:TagsList")
    return flat, [p for p in paths if "/" in p] + [p for p in paths if "/" not in p and p not in flat]


_MS_RATING = ((0, None), (12, 1), (37, 2), (62, 3), (87, 4), (99, 5))


def _rating(values: Xmp) -> int | None:
    """xmp:Rating (-1 rejected, 0 none, 1..5); else MicrosoftPhoto:Rating, a percentage (1, 25, 50,
    75, 99 for one to five stars), never taken as stars."""
    stars = xmp.number(values.text("xmp:Rating"))
    if stars is not None and -1 <= round(stars) <= 5:
        return round(stars)
    percent = xmp.number(values.text("MicrosoftPhoto:Rating"))
    if percent is None or not 0 <= int(percent) <= 99:
        return None
    return next(value for limit, value in _MS_RATING if int(percent) <= limit)


def _texts(ev: Evidence) -> dict[str, tuple[str, str]]:
    """title and description -> (value, source)."""
    found: dict[str, tuple[str, str]] = {}
    takeout = ev.takeout
    for source, title, description in (
        ("xmp-sidecar", ev.sidecar.text("dc:title"), ev.sidecar.text("dc:description")),
        ("xmp", ev.xmp.text("dc:title"), ev.xmp.text("dc:description")),
        ("iptc", ev.iptc.text("title") or ev.iptc.text("headline"), ev.iptc.text("caption")),
        ("exif", None, ev.exif.description),
        ("takeout", takeout.title if takeout else None, takeout.description if takeout else None),
    ):
        for key, value in (("title", title), ("description", description)):
            if value and key not in found:
                found[key] = (value, source)
    return found


def resolve(ev: Evidence) -> Described:
    sources: dict[str, str] = {}
    make, model, camera_source = _camera(ev)
    position, alt, gps_source = _position(ev)
    for key, source in (("camera", camera_source), ("gps", gps_source)):
        if source:
            sources[key] = source
    flat, paths = _keywords(ev.sidecar)
    keyword_source = "xmp-sidecar"
    if not flat and not paths:
        flat, paths = _keywords(ev.xmp)
        flat += ev.iptc.values.get("keywords", [])
        keyword_source = "xmp" if ev.xmp.texts("dc:subject") else "iptc"
    if flat or paths:
        sources["keywords"] = keyword_source
    rating = None
    for source, values in (("xmp-sidecar", ev.sidecar), ("xmp", ev.xmp)):
        rating = _rating(values)
        if rating is not None:
            sources["rating"] = source
            break
    if rating is None and ev.exif.rating is not None and -1 <= ev.exif.rating <= 5:
        rating, sources["rating"] = ev.exif.rating, "exif"
    texts = _texts(ev)
    for key, (_, source) in texts.items():
        sources[key] = source
    faces = ev.sidecar.faces or ev.xmp.faces
    if faces:
        sources["faces"] = "xmp-sidecar" if ev.sidecar.faces else "xmp"
    return Described(
        make=make, model=model, position=position, alt=alt, keywords=_unique(flat), keyword_paths=_unique(paths),
        rating=rating, title=texts.get("title", (None,))[0], description=texts.get("description", (None,))[0],
        faces=tuple(faces), sources=sources,
    )
