"""IPTC-IIM (the block in a JPEG's Photoshop APP13 or TIFF tag 33723): keywords, title, caption
and the creation date and time with its zone."""

from __future__ import annotations

import struct
from dataclasses import dataclass, field

_DATASETS = {5: "title", 25: "keywords", 55: "date", 60: "time", 62: "digital_date", 63: "digital_time",
             80: "byline", 105: "headline", 120: "caption", 90: "city", 101: "country"}


@dataclass
class Iptc:
    values: dict[str, list[str]] = field(default_factory=dict)

    def text(self, key: str) -> str | None:
        items = self.values.get(key)
        return items[0] if items else None


def parse(data: bytes) -> Iptc:
    """Records of application record 2; text decoded as UTF-8 (ESC % G, or when valid), else
    Latin-1. Stops at the first malformed record."""
    out = Iptc()
    records: list[tuple[int, bytes]] = []
    utf8 = b"\x1b%G" in data[:200]
    pos = 0
    while pos + 5 <= len(data) and data[pos] == 0x1C:
        record, dataset, size = data[pos + 1], data[pos + 2], struct.unpack(">H", data[pos + 3 : pos + 5])[0]
        pos += 5
        if size & 0x8000:  # extended length: rare, never for the fields read here
            break
        if record == 2:
            records.append((dataset, data[pos : pos + size]))
        pos += size
    for dataset, raw in records:
        name = _DATASETS.get(dataset)
        if name is None:
            continue
        out.values.setdefault(name, []).append(_text(raw, utf8))
    return out


def _text(raw: bytes, utf8: bool) -> str:
    try:
        return raw.decode("utf-8").strip()
    except UnicodeDecodeError:
        return raw.decode("utf-8" if utf8 else "latin-1", "replace").strip()


def date_time(date: str | None, time: str | None) -> tuple[str, str | None] | None:
    """'20081022' + '162839+0200' -> ('2008:10:22 16:28:39', '+02:00'); the zone may be absent."""
    if not date or len(date) < 8 or not date[:8].isdigit():
        return None
    text = f"{date[:4]}:{date[4:6]}:{date[6:8]}"
    zone = None
    if time and len(time) >= 6 and time[:6].isdigit():
        text += f" {time[:2]}:{time[2:4]}:{time[4:6]}"
        rest = time[6:]
        if len(rest) == 5 and rest[0] in "+-" and rest[1:].isdigit():
            zone = f"{rest[0]}{rest[1:3]}:{rest[3:5]}"
    return text, zone
