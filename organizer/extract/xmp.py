"""XMP packets and sidecars, parsed with defusedxml: no DTD, entity or external reference in a
file can make the parser fetch or expand anything. Values are matched by namespace URI (never by
the file's prefixes), as attributes or elements, across several rdf:Description blocks, with
rdf:Bag/Seq/Alt lists and nested structures (MWG face regions, Google's container directory)."""

from __future__ import annotations

import logging
import math
import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field

import defusedxml.ElementTree as SafeET
from defusedxml import DefusedXmlException

log = logging.getLogger(__name__)

NS = {
    "rdf": "http://www.w3.org/1999/02/22-rdf-syntax-ns#",
    "x": "adobe:ns:meta/",
    "xmp": "http://ns.adobe.com/xap/1.0/",
    "exif": "http://ns.adobe.com/exif/1.0/",
    "exifEX": "http://cipa.jp/exif/1.0/",
    "tiff": "http://ns.adobe.com/tiff/1.0/",
    "photoshop": "http://ns.adobe.com/photoshop/1.0/",
    "dc": "http://purl.org/dc/elements/1.1/",
    "lr": "http://ns.adobe.com/lightroom/1.0/",
    "digiKam": "http://www.digikam.org/ns/1.0/",
    "MicrosoftPhoto": "http://ns.microsoft.com/photo/1.0/",
    "mwg-rs": "http://www.metadataworkinggroup.com/schemas/regions/",
    "stArea": "http://ns.adobe.com/xmp/sType/Area#",
    "stDim": "http://ns.adobe.com/xap/1.0/sType/Dimensions#",
    "Camera": "http://ns.google.com/photos/1.0/camera/",
    "Container": "http://ns.google.com/photos/1.0/container/",
    "Item": "http://ns.google.com/photos/1.0/container/item/",
    "xmpDM": "http://ns.adobe.com/xmp/1.0/DynamicMedia/",
    "apple-fi": "http://ns.apple.com/faceinfo/1.0/",
}
_PREFIX = {uri: prefix for prefix, uri in NS.items()}
_RDF = "{%s}" % NS["rdf"]
_LIST_TAGS = {_RDF + "Bag", _RDF + "Seq", _RDF + "Alt"}
_SKIP_ATTRS = {_RDF + "about", _RDF + "parseType", "{http://www.w3.org/XML/1998/namespace}lang"}
_MAX_PACKET = 4 << 20


class XmpError(ValueError):
    """An XMP packet that is not well-formed or that tries to use DTDs or entities."""


@dataclass(frozen=True)
class Face:
    """A named region (MWG): centre and size as fractions of the image."""

    name: str | None
    x: float
    y: float
    w: float
    h: float


@dataclass
class Xmp:
    """The flattened properties ("prefix:Name" -> text or list of texts) and the face regions."""

    values: dict[str, object] = field(default_factory=dict)
    faces: list[Face] = field(default_factory=list)
    items: list[dict[str, str]] = field(default_factory=list)  # Google's Container:Directory

    def motion_video_length(self) -> int | None:
        """Bytes of the video at the end of a Motion Photo (GCamera:MicroVideoOffset in the first
        format, the MotionPhoto item's Length in the second)."""
        if self.text("Camera:MicroVideo") == "1":
            return _int(self.text("Camera:MicroVideoOffset"))
        if self.text("Camera:MotionPhoto") == "1":
            for item in self.items:
                if item.get("Semantic") == "MotionPhoto":
                    return _int(item.get("Length"))
        return None

    def text(self, key: str) -> str | None:
        value = self.values.get(key)
        if isinstance(value, list):
            value = value[0] if value else None
        if not isinstance(value, str):
            return None
        return value.strip() or None

    def texts(self, key: str) -> list[str]:
        value = self.values.get(key)
        items = value if isinstance(value, list) else [value]
        return [v.strip() for v in items if isinstance(v, str) and v.strip()]


def _decode(data: bytes) -> str:
    """Text of a packet in UTF-8 or UTF-16 (with or without a BOM), without its XML declaration."""
    if data[:2] in (b"\xff\xfe", b"\xfe\xff"):
        text = data.decode("utf-16")
    elif len(data) > 3 and data[0] == 0 and data[1] != 0:
        text = data.decode("utf-16-be", "replace")
    elif len(data) > 3 and data[1] == 0 and data[0] != 0:
        text = data.decode("utf-16-le", "replace")
    else:
        text = data.decode("utf-8", "replace")
    text = text.lstrip("\ufeff").replace("\x00", "")
    return re.sub(r"^\s*<\?xml[^>]*\?>", "", text)


def parse(data: bytes) -> Xmp:
    """Raises XmpError on a packet that is not XML or that holds a DTD or entities."""
    if len(data) > _MAX_PACKET:
        raise XmpError(f"XMP packet of {len(data)} bytes, over the {_MAX_PACKET} limit")
    try:
        root = SafeET.fromstring(_decode(data), forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except (ET.ParseError, DefusedXmlException, ValueError) as exc:
        raise XmpError(f"XMP not readable ({type(exc).__name__}: {exc})") from None
    out = Xmp()
    for rdf in root.iter(_RDF + "RDF"):
        for desc in rdf.findall(_RDF + "Description"):
            _collect(desc, out.values)
    out.faces = _faces(root)
    out.items = _items(root)
    return out


def _items(root: ET.Element) -> list[dict[str, str]]:
    prefix = "{%s}" % NS["Item"]
    found = []
    for element in root.iter("{%s}Item" % NS["Container"]):
        fields = {k[len(prefix):]: v for k, v in element.attrib.items() if k.startswith(prefix)}
        for sub in element.iter():
            if sub.tag.startswith(prefix) and sub.text and sub.text.strip():
                fields.setdefault(sub.tag[len(prefix):], sub.text.strip())
            fields.update({k[len(prefix):]: v for k, v in sub.attrib.items() if k.startswith(prefix)})
        found.append(fields)
    return found


def _int(text: str | None) -> int | None:
    try:
        value = int(text) if text is not None else None
    except ValueError:
        return None
    return value if value is not None and value > 0 else None


def _key(tag: str) -> str | None:
    if not tag.startswith("{"):
        return None
    uri, _, name = tag[1:].partition("}")
    prefix = _PREFIX.get(uri)
    return f"{prefix}:{name}" if prefix else None


def _collect(desc: ET.Element, values: dict[str, object]) -> None:
    for attr, value in desc.attrib.items():
        key = _key(attr)
        if key and attr not in _SKIP_ATTRS:
            values.setdefault(key, value)
    for child in desc:
        key = _key(child.tag)
        if key is None or key in values:
            continue
        lists = [c for c in child if c.tag in _LIST_TAGS]
        if lists:
            values[key] = [(li.text or "").strip() for li in lists[0] if li.tag == _RDF + "li"]
        elif child.text and child.text.strip():
            values[key] = child.text.strip()
        elif child.get(_RDF + "resource"):
            values[key] = child.get(_RDF + "resource")
        else:  # a structure: its fields as "key/prefix:Field"
            nested: dict[str, object] = {}
            _collect(child, nested)
            for sub in child.iter(_RDF + "Description"):
                _collect(sub, nested)
            for sub_key, sub_value in nested.items():
                values.setdefault(f"{key}/{sub_key}", sub_value)


def _field(node: ET.Element, prefix: str, name: str) -> str | None:
    """A structure field written as an attribute or as a child element, at any depth."""
    tag = "{%s}%s" % (NS[prefix], name)
    for element in node.iter():
        if tag in element.attrib:
            return element.attrib[tag]
        if element.tag == tag and element.text and element.text.strip():
            return element.text.strip()
    return None


def _faces(root: ET.Element) -> list[Face]:
    faces: list[Face] = []
    for region_list in root.iter("{%s}RegionList" % NS["mwg-rs"]):
        for li in region_list.iter(_RDF + "li"):
            kind = _field(li, "mwg-rs", "Type")
            if kind is not None and kind.lower() != "face":
                continue
            area = {k: number(_field(li, "stArea", k)) for k in ("x", "y", "w", "h")}
            if any(v is None or not 0 <= v <= 1 for v in area.values()):
                continue
            unit = _field(li, "stArea", "unit")
            if unit is not None and unit != "normalized":
                continue
            faces.append(Face(_field(li, "mwg-rs", "Name"), area["x"], area["y"], area["w"], area["h"]))  # type: ignore[arg-type]
    return faces


def number(text: str | None) -> float | None:
    """A finite number written as text ('inf', 'nan' and '1e400' are none)."""
    try:
        value = float(text) if text is not None else None
    except ValueError:
        return None
    return value if value is not None and math.isfinite(value) else None


def merge(packets: list[bytes], warnings: list[str]) -> Xmp:
    """All packets of one file as one Xmp (the first value of each property wins)."""
    parsed = []
    for data in packets:
        try:
            parsed.append(parse(data))
        except XmpError as exc:
            warnings.append(str(exc))
    return combine(parsed)


def combine(parsed: list[Xmp]) -> Xmp:
    """Several parsed packets as one Xmp (the first value of each property wins)."""
    out = Xmp()
    for one in parsed:
        for key, value in one.values.items():
            out.values.setdefault(key, value)
        out.faces = out.faces or one.faces
        out.items = out.items or one.items
    return out
