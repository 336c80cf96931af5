"""Metadata wherever it is, on generated files named by their case: XMP (embedded and sidecars),
IPTC, PNG text, maker notes, Takeout JSON, dates by precedence, pixels that fail, large images."""

from __future__ import annotations

import io
import struct
import zlib
from datetime import datetime
from pathlib import Path

import piexif
import pytest
from PIL import Image, PngImagePlugin

from organizer.extract import Options, bands, dates, decode, extract_file, xmp

from conftest import gps_ifd, make_jpeg, picture

NOW = datetime(2026, 11, 22, 12, 0)


def facts(path: Path, *sidecars: Path, **options):
    return extract_file(str(path), path.stat().st_mtime, NOW, Options(**options), tuple(str(s) for s in sidecars))


def packet(body: str, extra_ns: str = "") -> bytes:
    return (
        '<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>'
        '<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
        '<rdf:Description rdf:about="" xmlns:xmp="http://ns.adobe.com/xap/1.0/" '
        'xmlns:exif="http://ns.adobe.com/exif/1.0/" xmlns:photoshop="http://ns.adobe.com/photoshop/1.0/" '
        'xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:lr="http://ns.adobe.com/lightroom/1.0/" '
        'xmlns:digiKam="http://www.digikam.org/ns/1.0/" xmlns:MicrosoftPhoto="http://ns.microsoft.com/photo/1.0/" '
        'xmlns:tiff="http://ns.adobe.com/tiff/1.0/" ' + extra_ns + body + '</rdf:RDF></x:xmpmeta><?xpacket end="w"?>'
    ).encode()


def jpeg_with_segments(path: Path, *segments: tuple[int, bytes], exif: bytes | None = None) -> Path:
    """A real JPEG with extra APPn segments inserted after SOI."""
    out = io.BytesIO()
    if exif:
        picture((64, 48), 1).save(out, "JPEG", exif=exif)
    else:
        picture((64, 48), 1).save(out, "JPEG")
    data = out.getvalue()
    extra = b"".join(b"\xff" + bytes([m]) + struct.pack(">H", len(p) + 2) + p for m, p in segments)
    path.write_bytes(data[:2] + extra + data[2:])
    return path


def xmp_segment(body: str, extra_ns: str = "") -> tuple[int, bytes]:
    return 0xE1, b"http://ns.adobe.com/xap/1.0/\x00" + packet(body, extra_ns)


def test_xmp_date_with_zone_in_a_jpeg_without_exif(tmp_path: Path) -> None:
    path = jpeg_with_segments(tmp_path / "xmp-photoshop-date-created.jpg",
                              xmp_segment('photoshop:DateCreated="2011-03-04T05:06:07.5+05:30"/>'))
    f = facts(path)
    assert (f.taken.local, f.taken.source) == (datetime(2011, 3, 4, 5, 6, 7, 500000), "xmp")
    assert (f.taken.offset_minutes, f.taken.offset_source) == (330, "xmp-offset")


def test_xmp_values_as_elements_bags_ratings_titles_keywords(tmp_path: Path) -> None:
    body = ('><xmp:CreateDate>2012-01-02T03:04:05</xmp:CreateDate>'
            '<dc:subject><rdf:Bag><rdf:li>Tuscany</rdf:li><rdf:li>holiday</rdf:li></rdf:Bag></dc:subject>'
            '<lr:hierarchicalSubject><rdf:Bag><rdf:li>Places|Italy|Arezzo</rdf:li></rdf:Bag></lr:hierarchicalSubject>'
            '<digiKam:TagsList><rdf:Seq><rdf:li>People/Anna</rdf:li></rdf:Seq></digiKam:TagsList>'
            '<MicrosoftPhoto:Rating>50</MicrosoftPhoto:Rating>'
            '<dc:title><rdf:Alt><rdf:li xml:lang="x-default">Piazza Grande</rdf:li></rdf:Alt></dc:title>'
            '<dc:description><rdf:Alt><rdf:li xml:lang="x-default">Market day</rdf:li></rdf:Alt></dc:description>'
            '</rdf:Description>')
    f = facts(jpeg_with_segments(tmp_path / "xmp-elements.jpg", xmp_segment(body)))
    assert f.taken.local == datetime(2012, 1, 2, 3, 4, 5) and f.taken.source == "xmp"
    assert f.keywords == ("Tuscany", "holiday")
    assert f.keyword_paths == ("Places/Italy/Arezzo", "People/Anna")
    assert f.rating == 3  # MicrosoftPhoto's 50 % is three stars, never 50
    assert (f.title, f.description) == ("Piazza Grande", "Market day")
    assert f.sources["keywords"] == "xmp" and f.sources["rating"] == "xmp"


def test_xmp_rating_beats_microsoft_rating_and_faces_are_read(tmp_path: Path) -> None:
    regions = (
        'xmlns:mwg-rs="http://www.metadataworkinggroup.com/schemas/regions/" '
        'xmlns:stArea="http://ns.adobe.com/xmp/sType/Area#" xmp:Rating="4" MicrosoftPhoto:Rating="99">'
        '<mwg-rs:Regions rdf:parseType="Resource"><mwg-rs:RegionList><rdf:Bag>'
        '<rdf:li><rdf:Description mwg-rs:Name="Anna" mwg-rs:Type="Face">'
        '<mwg-rs:Area stArea:x="0.25" stArea:y="0.5" stArea:w="0.1" stArea:h="0.2" stArea:unit="normalized"/>'
        '</rdf:Description></rdf:li>'
        '<rdf:li><rdf:Description mwg-rs:Name="Pet" mwg-rs:Type="Pet">'
        '<mwg-rs:Area stArea:x="0.5" stArea:y="0.5" stArea:w="0.1" stArea:h="0.1" stArea:unit="normalized"/>'
        '</rdf:Description></rdf:li></rdf:Bag></mwg-rs:RegionList></mwg-rs:Regions></rdf:Description>')
    f = facts(jpeg_with_segments(tmp_path / "xmp-faces.jpg", xmp_segment(regions)))
    assert f.rating == 4
    assert [(face.name, face.x, face.y, face.w, face.h) for face in f.faces] == [("Anna", 0.25, 0.5, 0.1, 0.2)]


def test_xmp_with_entities_or_a_dtd_is_refused_not_expanded(tmp_path: Path) -> None:
    bomb = (b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;">]>'
            b'<x:xmpmeta xmlns:x="adobe:ns:meta/">&b;</x:xmpmeta>')
    with pytest.raises(xmp.XmpError):
        xmp.parse(bomb)
    external = b'<!DOCTYPE x SYSTEM "http://127.0.0.1:9/evil.dtd"><x:xmpmeta xmlns:x="adobe:ns:meta/"/>'
    with pytest.raises(xmp.XmpError):
        xmp.parse(external)
    path = make_jpeg(tmp_path / "xmp-sidecar-entity-bomb.jpg", original="2015:01:01 10:00:00")
    side = tmp_path / "xmp-sidecar-entity-bomb.jpg.xmp"
    side.write_bytes(bomb)
    f = facts(path, side)
    assert f.taken.source == "exif" and [p for p, _ in f.refused] == [str(side)] and "XMP" in f.refused[0][1]


def test_a_sidecar_correction_wins_over_the_embedded_date(tmp_path: Path) -> None:
    path = make_jpeg(tmp_path / "sidecar-corrected.jpg", original="2015:01:01 10:00:00", offset="+01:00")
    side = tmp_path / "sidecar-corrected.jpg.xmp"
    side.write_bytes(packet('exif:DateTimeOriginal="2014-12-31T23:00:00-05:00" xmp:Rating="5"/>'))
    f = facts(path, side)
    assert (f.taken.local, f.taken.source, f.taken.offset_minutes) == (datetime(2014, 12, 31, 23), "xmp-sidecar", -300)
    assert f.rating == 5 and f.sources["rating"] == "xmp-sidecar" and f.sidecars == (str(side),)


def test_utf16_sidecar_with_gps_in_degrees_and_minutes(tmp_path: Path) -> None:
    path = make_jpeg(tmp_path / "utf16-sidecar.jpg")
    side = tmp_path / "utf16-sidecar.xmp"
    text = packet('exif:GPSLatitude="53,20.982N" exif:GPSLongitude="6,15.6W" '
                  'exif:DateTimeOriginal="2019-08-01T10:00:00"/>').decode()
    side.write_bytes(b"\xff\xfe" + text.encode("utf-16-le"))
    f = facts(path, side)
    assert f.lat == pytest.approx(53.3497, abs=1e-5) and f.lon == pytest.approx(-6.26, abs=1e-5)
    assert f.sources["gps"] == "xmp-sidecar" and f.taken.source == "xmp-sidecar"
    assert f.taken.offset_source == "gps-timezone"  # Dublin in summer
    assert f.taken.offset_minutes == 60


def iptc_segment(records: list[tuple[int, bytes]]) -> tuple[int, bytes]:
    iim = b"".join(b"\x1c\x02" + bytes([n]) + struct.pack(">H", len(v)) + v for n, v in records)
    resource = b"8BIM\x04\x04\x00\x00" + struct.pack(">I", len(iim)) + iim + (b"\x00" if len(iim) % 2 else b"")
    return 0xED, b"Photoshop 3.0\x00" + resource


def test_iptc_date_with_zone_keywords_and_caption(tmp_path: Path) -> None:
    path = jpeg_with_segments(tmp_path / "iptc-only.jpg", iptc_segment(
        [(55, b"20091123"), (60, b"143015-0500"), (25, b"snow"), (25, b"Caf\xc3\xa9"), (120, b"First snow")]))
    f = facts(path)
    assert (f.taken.local, f.taken.source) == (datetime(2009, 11, 23, 14, 30, 15), "iptc")
    assert (f.taken.offset_minutes, f.taken.offset_source) == (-300, "iptc-offset")
    assert f.keywords == ("snow", "Café") and f.description == "First snow"


def test_exif_date_takes_its_offset_from_iptc_of_the_same_time(tmp_path: Path) -> None:
    exif = piexif.dump({"Exif": {piexif.ExifIFD.DateTimeOriginal: b"2009:11:23 14:30:15"}})
    path = jpeg_with_segments(tmp_path / "exif-with-iptc-zone.jpg",
                              iptc_segment([(55, b"20091123"), (60, b"143015+0900")]), exif=exif)
    f = facts(path)
    assert (f.taken.source, f.taken.offset_minutes, f.taken.offset_source) == ("exif", 540, "iptc-offset")


def test_png_text_creation_time_and_itxt_xmp(tmp_path: Path) -> None:
    info = PngImagePlugin.PngInfo()
    info.add_text("Creation Time", "Tue, 21 May 2019 10:45:52 +0200")
    path = tmp_path / "png-creation-time.png"
    picture((40, 30), 1).save(path, pnginfo=info)
    f = facts(path)
    assert (f.taken.local, f.taken.source, f.taken.offset_minutes) == (datetime(2019, 5, 21, 10, 45, 52), "png", 120)
    info = PngImagePlugin.PngInfo()
    info.add_itxt("XML:com.adobe.xmp", packet('xmp:CreateDate="2018-02-03T04:05:06Z"/>').decode(), zip=True)
    path = tmp_path / "png-itxt-xmp.png"
    picture((40, 30), 2).save(path, pnginfo=info)
    f = facts(path)
    assert (f.taken.local, f.taken.source, f.taken.offset_minutes) == (datetime(2018, 2, 3, 4, 5, 6), "xmp", 0)


@pytest.mark.parametrize("name, expected", [
    ("Screenshot 2019-05-21 at 10.45.52.png", datetime(2019, 5, 21, 10, 45, 52)),
    ("Screen Shot 2019-05-21 at 1.45.52 PM.png", datetime(2019, 5, 21, 13, 45, 52)),
    ("WhatsApp Image 2019-05-21 at 10.45.52.jpeg", datetime(2019, 5, 21, 10, 45, 52)),
    ("Screenshot 2024-01-05 103045.png", datetime(2024, 1, 5, 10, 30, 45)),
    ("Screenshot from 2019-05-21 10-45-52.png", datetime(2019, 5, 21, 10, 45, 52)),
    ("signal-2020-01-01-123456.jpg", datetime(2020, 1, 1, 12, 34, 56)),
    ("DJI_20230101123456_0001.JPG", datetime(2023, 1, 1, 12, 34, 56)),
    ("photo_2021-02-03_04-05-06.jpg", datetime(2021, 2, 3, 4, 5, 6)),
])
def test_screenshot_and_export_names(name: str, expected: datetime) -> None:
    assert dates.from_filename(name, NOW) == (expected, True)


def test_exif_modified_ranks_below_the_file_name_and_is_no_capture_source(tmp_path: Path) -> None:
    named = make_jpeg(tmp_path / "IMG_20200101_123456.jpg", datetime="2024:05:05 05:05:05")
    assert (facts(named).taken.local, facts(named).taken.source) == (datetime(2020, 1, 1, 12, 34, 56), "filename")
    plain = make_jpeg(tmp_path / "stock-export.jpg", datetime="2024:05:05 05:05:05")
    assert facts(plain).taken.source == "exif-modified"
    assert "exif-modified" not in dates.CAPTURE_SOURCES and "mtime" not in dates.CAPTURE_SOURCES
    assert {"exif", "xmp", "xmp-sidecar", "iptc", "quicktime", "takeout", "png", "filename"} <= dates.CAPTURE_SOURCES


def test_takeout_json_sidecar_gives_utc_time_and_place(tmp_path: Path) -> None:
    path = make_jpeg(tmp_path / "takeout-photo.jpg")
    side = tmp_path / "takeout-photo.jpg.supplemental-metadata.json"
    side.write_text('{"title": "takeout-photo.jpg", "description": "Beach", "photoTakenTime": {"timestamp": '
                    '"1562245200"}, "geoData": {"latitude": 48.8583, "longitude": 2.2945, "altitude": 35.0}}')
    f = facts(path, side)
    assert f.taken.source == "takeout" and f.taken.offset_source == "gps-timezone"
    assert f.taken.utc == datetime(2019, 7, 4, 13, 0) and f.taken.local == datetime(2019, 7, 4, 15, 0)
    assert (f.lat, f.lon, f.sources["gps"], f.description) == (48.8583, 2.2945, "takeout", "Beach")
    broken = tmp_path / "broken.jpg.json"
    broken.write_text("[1, 2")
    assert any("not Takeout JSON" in why for _, why in facts(path, broken).refused)


def test_broken_pixels_keep_their_metadata(tmp_path: Path) -> None:
    good = make_jpeg(tmp_path / "good.jpg", size=(400, 300), original="2008:10:22 16:28:39", make="NIKON",
                     gps=gps_ifd(43.4674483, 11.8851267))
    truncated = tmp_path / "truncated-with-exif.jpg"
    truncated.write_bytes(good.read_bytes()[: len(good.read_bytes()) // 2])
    f = facts(truncated)
    assert f.decode_error and "truncated" in f.decode_error.lower()
    assert (f.taken.local, f.make, f.lat) == (datetime(2008, 10, 22, 16, 28, 39), "NIKON", pytest.approx(43.4674483))
    assert f.thumbnail is None and f.phash is None and f.taken.offset_source == "gps-timezone"


def test_tiff_orientation_is_kept(tmp_path: Path) -> None:
    path = tmp_path / "tiff-orientation-6.tif"
    exif = Image.Exif()
    exif[0x0112] = 6
    picture((400, 200), 3).save(path, "TIFF", exif=exif)
    f = facts(path)
    assert (f.orientation, f.width, f.height) == (6, 200, 400)


def test_over_the_pixel_limit_is_a_clear_error_with_metadata(tmp_path: Path) -> None:
    path = make_jpeg(tmp_path / "over-limit.jpg", size=(2000, 1500), original="2010:10:10 10:10:10")
    f = facts(path, max_megapixels=1)
    assert "scan.max_megapixels" in (f.decode_error or "") and f.taken.source == "exif"


@pytest.mark.parametrize("mode", ["RGB", "RGBA", "L", "P", "LA"])
def test_png_bands_equal_a_full_decode(tmp_path: Path, mode: str) -> None:
    base = picture((1030, 777), 5)
    img = base.convert(mode) if mode != "P" else base.quantize(64)
    path = tmp_path / f"bands-{mode}.png"
    img.save(path)
    with open(path, "rb") as fh, Image.open(fh) as opened:
        assert bands.eligible(opened)
        banded = bands.decode(opened, fh, 3)
    full = Image.open(path)
    out_mode = {"P": "RGB", "LA": "RGBA"}.get(mode, mode)
    assert banded.tobytes() == full.convert(out_mode).reduce(3).tobytes()


def test_truncated_png_bands_raise(tmp_path: Path) -> None:
    path = tmp_path / "bands-truncated.png"
    picture((800, 600), 1).save(path)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with open(path, "rb") as fh, Image.open(fh) as opened, pytest.raises(ValueError, match="truncated"):
        bands.decode(opened, fh, 2)


def test_large_png_and_heif_reduced_decode(tmp_path: Path) -> None:
    path = tmp_path / "large.png"
    Image.new("RGB", (7000, 6000), (10, 200, 30)).save(path, compress_level=1)
    decoded = decode.decode(open(path, "rb"), "png", 320)
    assert (decoded.width, decoded.height) == (7000, 6000) and decoded.image.size == (7000 // 18 + 1, 6000 // 18 + 1)


def apple_maker_note(content_id: bytes) -> bytes:
    """Apple iOS maker note: header, then an IFD (offsets from the note's start) with tag 0x11."""
    value = content_id + b"\x00"
    ifd_start = 14
    value_at = ifd_start + 2 + 12 + 4
    ifd = struct.pack(">H", 1) + struct.pack(">HHII", 0x0011, 2, len(value), value_at) + b"\x00" * 4
    return b"Apple iOS\x00\x00\x01MM" + ifd + value


def test_apple_content_identifier_from_the_maker_note(tmp_path: Path) -> None:
    key = b"6F9C2B9A-3C43-4B63-8F41-1234567890AB"
    exif = piexif.dump({"0th": {piexif.ImageIFD.Make: b"Apple"},
                        "Exif": {piexif.ExifIFD.DateTimeOriginal: b"2021:07:04 20:30:00",
                                 piexif.ExifIFD.MakerNote: apple_maker_note(key)}})
    path = tmp_path / "IMG_0001.JPG"
    picture((64, 48), 1).save(path, "JPEG", exif=exif)
    assert facts(path).content_id == key.decode()  # whole: exifread keeps only 22 characters


def test_motion_photo_video_length_from_xmp(tmp_path: Path) -> None:
    mp4 = b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom" + b"\x00" * 100
    ns = 'xmlns:GCamera="http://ns.google.com/photos/1.0/camera/" '
    path = jpeg_with_segments(tmp_path / "PXL_20230101_101010123.MP.jpg",
                              xmp_segment(f'GCamera:MicroVideo="1" GCamera:MicroVideoOffset="{len(mp4)}"/>', ns))
    path.write_bytes(path.read_bytes() + mp4)
    assert facts(path).motion_video == len(mp4)
    fake = jpeg_with_segments(tmp_path / "fake-motion.jpg", xmp_segment('GCamera:MicroVideo="1" '
                                                                        'GCamera:MicroVideoOffset="50"/>', ns))
    assert facts(fake).motion_video is None  # no MP4 where the XMP says


def test_iptc_and_png_text_parsers_stop_on_odd_bytes() -> None:
    from organizer.extract import containers, iptc

    assert iptc.parse(b"\x1c\x02\x19\xff\xff" + b"x" * 10).values == {}
    assert containers.photoshop_iptc(b"8BIM\x04\x04\x00\x00\xff\xff\xff\xff") == b""
    chunk = b"tEXt" + b"Creation Time\x00now"
    png = b"\x89PNG\r\n\x1a\n" + struct.pack(">I", 10**6) + chunk  # length past the end
    assert containers.find(png, "png").png_text == {}
    bomb = zlib.compress(b"a" * (5 << 20))
    ztxt = b"Comment\x00\x00" + bomb
    png = b"\x89PNG\r\n\x1a\n" + struct.pack(">I", len(ztxt)) + b"zTXt" + ztxt + b"\x00" * 4
    assert len(containers.find(png, "png").png_text["Comment"]) == 1 << 20
