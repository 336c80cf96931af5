"""EXIF facts: exifread first, Pillow's reader for whatever exifread did not find; Canon CR3's
EXIF from its CMT boxes."""

from __future__ import annotations

import io
import logging
import math
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, fields, replace
from typing import BinaryIO

import exifread
from PIL import Image

from organizer.extract.tiff import Buffer

log = logging.getLogger(__name__)

_EXIF_IFD = 0x8769
_GPS_IFD = 0x8825


@dataclass(frozen=True)
class Meta:
    """The EXIF values organizer uses, as found (strings and numbers, not yet judged)."""

    make: str | None = None
    model: str | None = None
    datetime_original: str | None = None
    datetime_digitized: str | None = None
    datetime: str | None = None
    subsec_original: str | None = None
    offset_original: str | None = None
    subsec_digitized: str | None = None
    offset_digitized: str | None = None
    subsec: str | None = None  # of DateTime
    offset: str | None = None  # OffsetTime: the offset of DateTime (when the file was last written)
    description: str | None = None
    rating: int | None = None
    gps_lat: tuple[float, ...] | None = None
    gps_lat_ref: str | None = None
    gps_lon: tuple[float, ...] | None = None
    gps_lon_ref: str | None = None
    gps_alt: float | None = None
    gps_alt_ref: int | None = None
    gps_time: tuple[float, ...] | None = None


_EXIFREAD_TAGS = {
    "make": "Image Make",
    "model": "Image Model",
    "datetime_original": "EXIF DateTimeOriginal",
    "datetime_digitized": "EXIF DateTimeDigitized",
    "datetime": "Image DateTime",
    "subsec_original": "EXIF SubSecTimeOriginal",
    "offset_original": "EXIF OffsetTimeOriginal",
    "subsec_digitized": "EXIF SubSecTimeDigitized",
    "offset_digitized": "EXIF OffsetTimeDigitized",
    "subsec": "EXIF SubSecTime",
    "offset": "EXIF OffsetTime",
    "description": "Image ImageDescription",
    "rating": "Image Rating",
    "gps_lat": "GPS GPSLatitude",
    "gps_lat_ref": "GPS GPSLatitudeRef",
    "gps_lon": "GPS GPSLongitude",
    "gps_lon_ref": "GPS GPSLongitudeRef",
    "gps_alt": "GPS GPSAltitude",
    "gps_alt_ref": "GPS GPSAltitudeRef",
    "gps_time": "GPS GPSTimeStamp",
}

# (IFD, tag) for Pillow's reader; IFD None is the main one.
_PILLOW_TAGS = {
    "make": (None, 0x010F),
    "model": (None, 0x0110),
    "datetime": (None, 0x0132),
    "datetime_original": (_EXIF_IFD, 0x9003),
    "datetime_digitized": (_EXIF_IFD, 0x9004),
    "subsec_original": (_EXIF_IFD, 0x9291),
    "offset_original": (_EXIF_IFD, 0x9011),
    "subsec_digitized": (_EXIF_IFD, 0x9292),
    "offset_digitized": (_EXIF_IFD, 0x9012),
    "subsec": (_EXIF_IFD, 0x9290),
    "offset": (_EXIF_IFD, 0x9010),
    "description": (None, 0x010E),
    "rating": (None, 0x4746),
    "gps_lat_ref": (_GPS_IFD, 1),
    "gps_lat": (_GPS_IFD, 2),
    "gps_lon_ref": (_GPS_IFD, 3),
    "gps_lon": (_GPS_IFD, 4),
    "gps_alt_ref": (_GPS_IFD, 5),
    "gps_alt": (_GPS_IFD, 6),
    "gps_time": (_GPS_IFD, 7),
}


def _number(value: object) -> float | None:
    """A float from an int, a float or a rational; None for 0/0 and other nonsense."""
    num = getattr(value, "numerator", getattr(value, "num", None))
    den = getattr(value, "denominator", getattr(value, "den", None))
    try:
        if num is not None and den is not None:
            if int(den) == 0:
                return None
            result = int(num) / int(den)
        else:
            result = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError, ZeroDivisionError, OverflowError):
        return None
    return result if math.isfinite(result) else None


def _numbers(value: object) -> tuple[float, ...] | None:
    items = value if isinstance(value, (list, tuple)) else [value]
    out = tuple(_number(v) for v in items)
    if not out or any(v is None for v in out):
        return None
    return out  # type: ignore[return-value]


def _text(value: object) -> str | None:
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    if isinstance(value, (list, tuple)):
        if value and all(isinstance(v, int) for v in value):
            value = bytes(v for v in value if 0 <= v < 256).decode("utf-8", "replace")
        else:
            return None
    if not isinstance(value, str):
        return None
    text = value.replace("\x00", "").strip()
    return text or None


def _first_int(value: object) -> int | None:
    nums = _numbers(value)
    return int(nums[0]) if nums else None


def _first_number(value: object) -> float | None:
    nums = _numbers(value)
    return nums[0] if nums else None


_CONVERT: dict[str, Callable[[object], object]] = {
    "gps_lat": _numbers,
    "gps_lon": _numbers,
    "gps_time": _numbers,
    "gps_alt": _first_number,
    "gps_alt_ref": _first_int,
    "rating": _first_int,
}


def _convert(name: str, raw: object) -> object:
    return _CONVERT.get(name, _text)(raw)


def from_exifread(data: Buffer | BinaryIO) -> Meta:
    """From a file's bytes, a bare TIFF structure, or a seekable binary file. Raises whatever
    exifread raises on a broken file; the caller falls back to Pillow."""
    fh = io.BytesIO(data) if isinstance(data, (bytes, bytearray, memoryview)) else data
    tags = exifread.process_file(fh, details=False, extract_thumbnail=False)
    found = {}
    for name, tag_name in _EXIFREAD_TAGS.items():
        tag = tags.get(tag_name)
        if tag is not None:
            found[name] = _convert(name, tag.values)
    return Meta(**found)


def from_pillow(exif: Image.Exif) -> Meta:
    found = {}
    ifds: dict[int | None, object] = {None: exif}
    for name, (ifd, tag) in _PILLOW_TAGS.items():
        if ifd not in ifds:
            try:
                ifds[ifd] = exif.get_ifd(ifd)
            except Exception:  # Pillow raises a variety of errors on broken IFDs
                ifds[ifd] = {}
        table = ifds[ifd]
        if tag in table:  # type: ignore[operator]
            found[name] = _convert(name, table[tag])  # type: ignore[index]
    return Meta(**found)


def pillow_exif(tiff: Buffer | None) -> Image.Exif:
    """Pillow's reader over a bare TIFF structure (empty when there is none)."""
    exif = Image.Exif()
    if tiff:
        with warnings.catch_warnings():  # a tag past the first megabyte is skipped, as it should be
            warnings.simplefilter("ignore")
            exif.load(b"Exif\x00\x00" + bytes(tiff[: 1 << 20]))
    return exif


def from_cr3(cmt: dict[str, bytes]) -> Meta:
    """Canon CR3 keeps IFD0, the EXIF IFD and the GPS IFD as three TIFF structures (CMT1, CMT2,
    CMT4), each as its own IFD0."""
    tables: dict[int | None, Image.Exif] = {}
    for ifd, box in ((None, "CMT1"), (_EXIF_IFD, "CMT2"), (_GPS_IFD, "CMT4")):
        tables[ifd] = pillow_exif(cmt.get(box))
    found = {}
    for name, (ifd, tag) in _PILLOW_TAGS.items():
        if tag in tables[ifd]:
            found[name] = _convert(name, tables[ifd][tag])
    return Meta(**found)


def read(data: Buffer | BinaryIO, pil_exif: Image.Exif, warnings: list[str]) -> Meta:
    """EXIF from exifread, each missing value completed from Pillow's reader.

    Problems that do not stop indexing are appended to `warnings`.
    """
    try:
        first = from_exifread(data)
    except Exception as exc:  # exifread raises many types on broken files
        warnings.append(f"exifread failed ({type(exc).__name__}: {exc}); used Pillow's EXIF reader")
        first = Meta()
    try:
        second = from_pillow(pil_exif)
    except Exception as exc:
        warnings.append(f"Pillow's EXIF reader failed ({type(exc).__name__}: {exc})")
        return first
    missing = {f.name: getattr(second, f.name) for f in fields(Meta) if getattr(first, f.name) is None}
    return replace(first, **{k: v for k, v in missing.items() if v is not None})


def _degrees(parts: Sequence[float] | None, ref: str | None, negative: str) -> float | None:
    if not parts:
        return None
    value = parts[0] + (parts[1] / 60 if len(parts) > 1 else 0) + (parts[2] / 3600 if len(parts) > 2 else 0)
    if ref and ref.strip().upper().startswith(negative):
        value = -value
    return value


def gps(meta: Meta) -> tuple[float, float] | None:
    """(lat, lon) in degrees, or None when absent, unconvertible, out of range or (0, 0)."""
    lat = _degrees(meta.gps_lat, meta.gps_lat_ref, "S")
    lon = _degrees(meta.gps_lon, meta.gps_lon_ref, "W")
    if lat is None or lon is None:
        return None
    if not (-90 <= lat <= 90 and -180 <= lon <= 180):
        return None
    if lat == 0 and lon == 0:
        return None
    return round(lat, 7), round(lon, 7)


def altitude(meta: Meta) -> float | None:
    if meta.gps_alt is None or abs(meta.gps_alt) > 100_000:
        return None
    return -meta.gps_alt if meta.gps_alt_ref == 1 else meta.gps_alt
