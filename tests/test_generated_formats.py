"""Readers the corpora hold no file for, on fixtures built here byte by byte (struct) or written by
Pillow, pillow-heif and PyAV: Canon CR3, CR2 and NEF maker-note time zones, XMP embedded in
HEIF, TIFF and WebP, a HEIF dated only by its ISO-BMFF box, MPEG-TS/M2TS clips, a RAF."""

from __future__ import annotations

import os
import struct
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import av
import numpy as np
import piexif
import pillow_heif
import pytest

from organizer.extract import Options, extract_file

from conftest import make_jpeg, picture
from test_readers import packet

NOW = datetime(2026, 11, 22, 12, 0)
pillow_heif.register_heif_opener()  # Pillow saves HEIF

# --- a TIFF writer: each IFD's out-of-line values follow it; a value may be a function of its
# own position (a sub-IFD, a maker note whose offsets count from the TIFF header) --------------

Data = bytes | Callable[[int], bytes]
Entry = tuple[int, int, int, Data]  # tag, type, count, value bytes (or a function of their position)
BYTE, ASCII, SHORT, LONG, RATIONAL, UNDEFINED, SSHORT, SLONG, SRATIONAL = 1, 2, 3, 4, 5, 7, 8, 9, 10


def ifd(entries: list[Entry], order: str) -> Callable[[int], bytes]:
    """An IFD to be placed at offset `at` from the TIFF header, its values after it."""

    def build(at: int) -> bytes:
        head = struct.pack(order + "H", len(entries))
        data = b""
        data_at = at + 2 + 12 * len(entries) + 4
        for tag, typ, count, value in sorted(entries, key=lambda e: e[0]):
            where = data_at + len(data)
            raw = value(where) if callable(value) else value
            if callable(value) or len(raw) > 4:
                data += raw + b"\x00" * (len(raw) & 1)
                field = struct.pack(order + "I", where)
            else:
                field = raw.ljust(4, b"\x00")
            head += struct.pack(order + "HHI", tag, typ, count) + field
        return head + b"\x00\x00\x00\x00" + data

    return build


def tiff(entries: list[Entry], order: str = "<") -> bytes:
    mark = b"II*\x00" if order == "<" else b"MM\x00*"
    return mark + struct.pack(order + "I", 8) + ifd(entries, order)(8)


def text(tag: int, value: str) -> Entry:
    raw = value.encode() + b"\x00"
    return tag, ASCII, len(raw), raw


def ints(tag: int, typ: int, values: tuple[int, ...], order: str) -> Entry:
    fmt = {SHORT: "H", LONG: "I", SSHORT: "h", SLONG: "i"}[typ]
    return tag, typ, len(values), struct.pack(f"{order}{len(values)}{fmt}", *values)


def rationals(tag: int, values: tuple[tuple[int, int], ...], order: str) -> Entry:
    return tag, RATIONAL, len(values), b"".join(struct.pack(order + "II", n, d) for n, d in values)


def sub_ifd(tag: int, entries: list[Entry], order: str) -> Entry:
    return tag, LONG, 1, ifd(entries, order)


def gps_entries(order: str) -> list[Entry]:
    """Arezzo: 43 28' 26.8" N, 11 52' 58.08" E."""
    return [text(1, "N"), rationals(2, ((43, 1), (28, 1), (2680, 100)), order),
            text(3, "E"), rationals(4, ((11, 1), (52, 1), (5808, 100)), order)]


def canon_time_info(zone: int, dst: int, order: str) -> Entry:
    """Canon TimeInfo (0x0035): int32s[4] size, TimeZone minutes, city, DaylightSavings minutes."""
    return ints(0x0035, SLONG, (16, zone, 0, dst), order)


def facts(path: Path, **options):
    return extract_file(str(path), path.stat().st_mtime, NOW, Options(**options))


# --- Canon CR3: ISO-BMFF, the EXIF in the CMT boxes of Canon's uuid box ----------------------

CANON_UUID = bytes.fromhex("85c0b687820f11e08111f4ce462b6a48")


def box(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I", 8 + len(payload)) + kind + payload


def make_cr3(path: Path, *, original: str = "2021:07:04 18:30:05", zone: int = 60, dst: int = 60) -> Path:
    """A CR3 as Canon lays it out (no image data: LibRaw cannot decode it)."""
    o = "<"
    cmt1 = tiff([text(0x010F, "Canon"), text(0x0110, "Canon EOS R5")], o)
    cmt2 = tiff([text(0x9003, original), text(0x9004, original)], o)
    cmt3 = tiff([canon_time_info(zone, dst, o)], o)
    cmt4 = tiff(gps_entries(o), o)
    canon = box(b"uuid", CANON_UUID + box(b"CNCV", b"CanonCR3_001/00.09.00/00.00.00")
                + b"".join(box(name, data) for name, data in
                           ((b"CMT1", cmt1), (b"CMT2", cmt2), (b"CMT3", cmt3), (b"CMT4", cmt4))))
    ftyp = box(b"ftyp", b"crx \x00\x00\x00\x01crx isom")
    path.write_bytes(ftyp + box(b"moov", canon) + box(b"mdat", b"\x00" * 64))
    return path


def test_cr3_date_camera_place_and_the_canon_time_zone(tmp_path: Path) -> None:
    f = facts(make_cr3(tmp_path / "IMG_0001.CR3"))
    assert (f.kind, f.format) == ("raw", "cr3")
    assert (f.make, f.model) == ("Canon", "Canon EOS R5")
    assert (f.taken.local, f.taken.source) == (datetime(2021, 7, 4, 18, 30, 5), "exif")
    # TimeZone +60 plus DaylightSavings 60: two hours, from the camera, before the GPS zone
    assert (f.taken.offset_minutes, f.taken.offset_source) == (120, "vendor-offset")
    assert (f.lat, f.lon) == (pytest.approx(43.4741111), pytest.approx(11.8828))
    assert f.decode_error  # no image data: the metadata alone


def test_cr3_time_zone_without_daylight_saving_and_west_of_greenwich(tmp_path: Path) -> None:
    f = facts(make_cr3(tmp_path / "IMG_0002.CR3", original="2020:01:15 09:00:00", zone=-300, dst=0))
    assert (f.taken.offset_minutes, f.taken.offset_source) == (-300, "vendor-offset")
    assert f.taken.utc == datetime(2020, 1, 15, 14, 0)


def test_cr3_whose_pixels_cannot_be_decoded_is_catalogued_with_its_date(tmp_path: Path, run) -> None:
    root = tmp_path / "photos"
    root.mkdir()
    path = make_cr3(root / "IMG_0003.CR3")
    run("scan", str(root), env={"ORGANIZER_VECTORS_ENABLED": "false"})
    info = run.json("explain", str(path))
    assert (info["taken_at"], info["utc_offset"], info["taken_at_source"]) == ("2021-07-04T18:30:05", 120, "exif")
    assert (info["kind"], info["camera"], info["state"]) == ("raw", "Canon Canon EOS R5", "ok")
    assert (info["lat"], info["phash"], info["thumbnail"]) == (pytest.approx(43.4741111), None, None)
    assert [e["stage"] for e in info["errors"]] == ["pixels"] and "RAW" in info["errors"][0]["message"]


# --- CR2 and NEF: TIFF-based RAW, the time zone in the maker note ----------------------------

def maker_note(build: Callable[[int], bytes]) -> Entry:
    return 0x927C, UNDEFINED, len(build(0)), build


def make_tiff_raw(path: Path, make: str, model: str, note: Entry, order: str, *, original: str,
                  offset: str | None = None) -> Path:
    exif = [text(0x9003, original), note] + ([text(0x9011, offset)] if offset else [])
    path.write_bytes(tiff([text(0x010F, make), text(0x0110, model), ints(0x0112, SHORT, (1,), order),
                           sub_ifd(0x8769, exif, order)], order))
    return path


def make_cr2(path: Path, *, zone: int, dst: int, original: str = "2019:08:10 14:00:00",
             offset: str | None = None) -> Path:
    """Canon's maker note is an IFD whose offsets count from the file's TIFF header."""
    note = maker_note(ifd([canon_time_info(zone, dst, "<")], "<"))
    return make_tiff_raw(path, "Canon", "Canon EOS 5D Mark IV", note, "<", original=original, offset=offset)


def make_nef(path: Path, *, zone: int, dst: int, original: str = "2019:08:10 14:00:00",
             offset: str | None = None) -> Path:
    """Nikon's type-3 note: 'Nikon\\0', a version, then its own TIFF header; WorldTime (0x0024) is
    int16s TimeZone minutes, int8 DaylightSavings, int8 DateDisplayFormat."""
    world_time = 0x0024, UNDEFINED, 4, struct.pack(">hBB", zone, dst, 0)
    note = b"Nikon\x00\x02\x10\x00\x00" + tiff([world_time], ">")
    return make_tiff_raw(path, "NIKON CORPORATION", "NIKON D850", (0x927C, UNDEFINED, len(note), note), ">",
                         original=original, offset=offset)


def test_cr2_offset_from_the_canon_maker_note(tmp_path: Path) -> None:
    f = facts(make_cr2(tmp_path / "IMG_0001.CR2", zone=-300, dst=60))
    assert (f.kind, f.format, f.make, f.model) == ("raw", "cr2", "Canon", "Canon EOS 5D Mark IV")
    assert (f.taken.local, f.taken.source) == (datetime(2019, 8, 10, 14, 0), "exif")
    assert (f.taken.offset_minutes, f.taken.offset_source) == (-240, "vendor-offset")
    assert f.decode_error


def test_nef_offset_from_the_nikon_world_time(tmp_path: Path) -> None:
    f = facts(make_nef(tmp_path / "DSC_0001.NEF", zone=330, dst=0))
    assert (f.kind, f.format, f.make) == ("raw", "nef", "NIKON CORPORATION")
    assert (f.taken.local, f.taken.source) == (datetime(2019, 8, 10, 14, 0), "exif")
    assert (f.taken.offset_minutes, f.taken.offset_source) == (330, "vendor-offset")
    dst = facts(make_nef(tmp_path / "DSC_0002.NEF", zone=60, dst=1))
    assert (dst.taken.offset_minutes, dst.taken.offset_source) == (120, "vendor-offset")


@pytest.mark.parametrize("make", [make_cr2, make_nef])
def test_offset_time_original_wins_over_the_maker_note(tmp_path: Path, make) -> None:
    """docs/catalog.md: the chosen date's own offset first, the camera's time-zone setting after."""
    f = facts(make(tmp_path / f"{make.__name__}.{make.__name__[-3:]}", zone=60, dst=0, offset="+09:00"))
    assert (f.taken.offset_minutes, f.taken.offset_source) == (540, "exif-offset")


# --- DNG: a Bayer mosaic LibRaw demosaics (no preview in the file) -----------------------------

def make_dng(path: Path, *, original: str = "2021:07:04 21:00:00", size: tuple[int, int] = (256, 192),
             seed: int = 0) -> Path:
    """A DNG of 16-bit RGGB mosaic samples of `picture(size, seed)`, with its date and a GPS IFD
    (Arezzo); LibRaw reads it, finds no preview, and demosaics it."""
    o, (w, h) = "<", size
    rgb = np.asarray(picture(size, seed), dtype="<u2") * 16  # 12-bit samples
    mosaic = np.empty((h, w), dtype="<u2")
    mosaic[0::2, 0::2], mosaic[0::2, 1::2] = rgb[0::2, 0::2, 0], rgb[0::2, 1::2, 1]
    mosaic[1::2, 0::2], mosaic[1::2, 1::2] = rgb[1::2, 0::2, 1], rgb[1::2, 1::2, 2]
    samples = mosaic.tobytes()
    matrix = (6722, -635, -963, -4287, 12460, 2028, -908, 2162, 5668)  # a Canon's ColorMatrix1 x 10^4

    def file(at: int) -> bytes:
        return tiff([ints(254, LONG, (0,), o), ints(256, LONG, (w,), o), ints(257, LONG, (h,), o),
                     ints(258, SHORT, (16,), o), ints(259, SHORT, (1,), o), ints(262, SHORT, (32803,), o),
                     text(0x010F, "Canon"), text(0x0110, "Canon EOS 5D Mark IV"), ints(273, LONG, (at,), o),
                     ints(274, SHORT, (1,), o), ints(277, SHORT, (1,), o), ints(278, LONG, (h,), o),
                     ints(279, LONG, (len(samples),), o), ints(33421, SHORT, (2, 2), o),
                     (33422, BYTE, 4, bytes([0, 1, 1, 2])), (50706, BYTE, 4, bytes([1, 4, 0, 0])),
                     text(50708, "Canon EOS 5D Mark IV"),
                     (50721, SRATIONAL, 9, b"".join(struct.pack(o + "iI", v, 10000) for v in matrix)),
                     ints(50778, SHORT, (21,), o), sub_ifd(0x8769, [text(0x9003, original)], o),
                     sub_ifd(0x8825, gps_entries(o), o)], o)

    path.write_bytes(file(len(file(0))) + samples)  # the samples after the IFDs: their offset is fixed size
    return path


def test_dng_without_a_preview_is_demosaiced_at_its_sensor_size(tmp_path: Path) -> None:
    f = facts(make_dng(tmp_path / "DSC_0001.dng"))
    assert (f.kind, f.format, f.width, f.height, f.make) == ("raw", "dng", 256, 192, "Canon")
    assert (f.taken.local, f.taken.source, f.lat) == (datetime(2021, 7, 4, 21, 0), "exif", pytest.approx(43.4741111))
    assert f.decode_error is None and f.thumbnail and f.phash


# --- XMP embedded in HEIF (a mime item), TIFF (tag 700) and WebP (an 'XMP ' chunk) -----------

def save_image(path: Path, fmt: str, xmp: bytes, exif: bytes | None = None) -> Path:
    extra = {"tiffinfo": {700: xmp}} if fmt == "TIFF" else {"xmp": xmp}
    picture((64, 48), 3).save(path, fmt, **extra, **({"exif": exif} if exif else {}))
    return path


KEYWORDS = '<dc:subject><rdf:Bag><rdf:li>Tuscany</rdf:li><rdf:li>market</rdf:li></rdf:Bag></dc:subject>'


@pytest.mark.parametrize("fmt, ext, found", [("HEIF", "heic", "heif"), ("TIFF", "tif", "tiff"), ("WEBP", "webp", "webp")])
@pytest.mark.parametrize("prop", ["exif:DateTimeOriginal", "xmp:CreateDate"])
def test_embedded_xmp_date_with_offset_and_keywords(tmp_path: Path, fmt: str, ext: str, found: str,
                                                    prop: str) -> None:
    xmp = packet(f'{prop}="2015-05-06T07:08:09.5+03:00">{KEYWORDS}</rdf:Description>')
    f = facts(save_image(tmp_path / f"photo.{ext}", fmt, xmp))
    assert f.format == found and f.thumbnail  # the pixels decode too
    assert (f.taken.local, f.taken.source) == (datetime(2015, 5, 6, 7, 8, 9, 500000), "xmp")
    assert (f.taken.offset_minutes, f.taken.offset_source) == (180, "xmp-offset")
    assert f.keywords == ("Tuscany", "market") and f.sources["keywords"] == "xmp"


def test_heif_exif_date_wins_and_takes_the_zone_of_the_same_time_in_xmp(tmp_path: Path) -> None:
    exif = piexif.dump({"Exif": {piexif.ExifIFD.DateTimeOriginal: b"2015:05:06 07:08:09"}})
    xmp = packet('xmp:CreateDate="2015-05-06T07:08:09+03:00" photoshop:DateCreated="2001-01-01"/>')
    f = facts(save_image(tmp_path / "both.heic", "HEIF", xmp, exif))
    assert (f.taken.local, f.taken.source) == (datetime(2015, 5, 6, 7, 8, 9), "exif")
    assert (f.taken.offset_minutes, f.taken.offset_source) == (180, "xmp-offset")


# --- a HEIF dated only by ISO-BMFF: a movie header (an image sequence's) beside the image -----

MAC_EPOCH = datetime(1904, 1, 1)


def mvhd(created: datetime) -> bytes:
    """A version-0 movie header: creation and modification times in seconds since 1904 (UTC)."""
    seconds = int((created - MAC_EPOCH).total_seconds())
    return box(b"mvhd", struct.pack(">B3xIIII", 0, seconds, seconds, 1000, 0) + b"\x00" * 80)


def test_heif_dated_only_by_its_movie_header(tmp_path: Path) -> None:
    path = tmp_path / "sequence.heic"
    picture((64, 48), 5).save(path, "HEIF")
    with open(path, "ab") as fh:
        fh.write(box(b"moov", mvhd(datetime(2018, 3, 4, 11, 0, 0))))
    f = facts(path, local_zone=ZoneInfo("Europe/Rome"))
    assert f.format == "heif" and f.thumbnail
    # mvhd is UTC: local time in the given zone (no GPS), 11:00 UTC is 12:00 in Rome in March
    assert (f.taken.local, f.taken.source) == (datetime(2018, 3, 4, 12, 0), "quicktime")
    assert (f.taken.offset_minutes, f.taken.offset_source) == (60, "system")


# --- MPEG-TS and M2TS (AVCHD's .mts): H.264 from PyAV, the recording date in an SEI ----------

def bcd(value: int) -> int:
    return int(str(value), 16)


def mdpm(when: datetime, zone_hours: int) -> bytes:
    """AVCHD's recording date: SEI user data (UUID 17ee8c60-f84d-11d9-8cd6-0800200c9a66, 'MDPM',
    a count, 5-byte entries). 0x18: zone byte (0x20 sign, 0x1e hours, 0x01 half hour), year (two
    BCD bytes), month; 0x19: day, hour, minute, second in BCD."""
    zone = (0x20 if zone_hours < 0 else 0) | (abs(zone_hours) << 1)
    entries = bytes([0x18, zone, bcd(when.year // 100), bcd(when.year % 100), bcd(when.month),
                     0x19, bcd(when.day), bcd(when.hour), bcd(when.minute), bcd(when.second)])
    return bytes.fromhex("17ee8c60f84d11d98cd60800200c9a66") + b"MDPM" + bytes([2]) + entries


def sei_nal(payload: bytes) -> bytes:
    """An H.264 SEI NAL unit (user data unregistered), with emulation prevention bytes."""
    rbsp, out, zeros = bytes([5, len(payload)]) + payload + b"\x80", bytearray(), 0
    for byte in rbsp:
        if zeros >= 2 and byte <= 3:
            out.append(3)
            zeros = 0
        out.append(byte)
        zeros = zeros + 1 if byte == 0 else 0
    return b"\x00\x00\x00\x01\x06" + bytes(out)


def make_ts(path: Path, *, m2ts: bool, sei: bytes | None = None, gop: int = 5, frames: int = 20) -> Path:
    """An H.264 clip in MPEG-TS (188-byte packets) or M2TS (192: a timestamp before each), 10 fps,
    `sei` inserted before the first picture's slice."""
    out = av.open(str(path), "w", format="mpegts", options={"mpegts_m2ts_mode": "1"} if m2ts else {})
    stream = out.add_stream("libx264", rate=10)
    stream.width, stream.height, stream.pix_fmt = 96, 64, "yuv420p"
    stream.options = {"g": str(gop)}
    stream.codec_context.thread_count = 1  # no encoder threads left behind (see test_videos_raw)
    image = np.asarray(picture((96, 64), 6))
    pending = sei

    def mux(encoded: av.Packet) -> None:
        nonlocal pending
        data = bytes(encoded)
        if pending and encoded.is_keyframe:
            idr = next(i for i in range(len(data) - 3) if data[i : i + 3] == b"\x00\x00\x01" and data[i + 3] & 0x1F == 5)
            idr -= 1 if idr and data[idr - 1] == 0 else 0
            edited = av.Packet(data[:idr] + sei_nal(pending) + data[idr:])
            edited.pts, edited.dts, edited.time_base, edited.stream = encoded.pts, encoded.dts, encoded.time_base, stream
            edited.is_keyframe, encoded, pending = True, edited, None
        out.mux(encoded)

    for _ in range(frames):
        for encoded in stream.encode(av.VideoFrame.from_ndarray(image, format="rgb24")):
            mux(encoded)
    for encoded in stream.encode():
        mux(encoded)
    out.close()
    return path


@pytest.mark.parametrize("name, m2ts, fmt", [("00001.MTS", True, "m2ts"), ("clip.ts", False, "mpegts")])
def test_avchd_recording_date_in_the_camera_zone(tmp_path: Path, name: str, m2ts: bool, fmt: str) -> None:
    path = make_ts(tmp_path / name, m2ts=m2ts, sei=mdpm(datetime(2015, 4, 24, 15, 17, 53), 8))
    f = facts(path)
    assert (f.kind, f.format, f.duration, bool(f.thumbnail)) == ("video", fmt, pytest.approx(2.0), True)
    # the camera's wall clock and its zone, as ExifTool shows it (2015:04:24 15:17:53+08:00)
    assert (f.taken.local, f.taken.source) == (datetime(2015, 4, 24, 15, 17, 53), "quicktime")
    assert (f.taken.offset_minutes, f.taken.offset_source) == (480, "quicktime-offset")


def test_avchd_recording_date_west_of_greenwich(tmp_path: Path) -> None:
    f = facts(make_ts(tmp_path / "00002.MTS", m2ts=True, sei=mdpm(datetime(2012, 12, 24, 19, 45, 12), -5)))
    assert (f.taken.local, f.taken.offset_minutes) == (datetime(2012, 12, 24, 19, 45, 12), -300)
    assert f.taken.utc == datetime(2012, 12, 25, 0, 45, 12)


def test_ts_without_a_recording_date_has_its_duration_and_its_mtime(tmp_path: Path) -> None:
    path = make_ts(tmp_path / "00003.MTS", m2ts=True)
    os.utime(path, (1_500_000_000, 1_500_000_000))
    f = facts(path, local_zone=timezone.utc)
    assert (f.kind, f.format, f.duration) == ("video", "m2ts", pytest.approx(2.0))
    assert (f.taken.local, f.taken.source) == (datetime(2017, 7, 14, 2, 40), "mtime")


def test_ts_whose_only_key_frame_is_the_first_has_a_thumbnail(tmp_path: Path) -> None:
    """Seeks in MPEG-TS land on the next key frame after the target: a clip shorter than its GOP
    has none after 10, 30 or 50 %, and the frame comes from the start."""
    f = facts(make_ts(tmp_path / "long-gop.mts", m2ts=True, gop=250, frames=40))
    assert f.thumbnail and f.decode_error is None and f.duration == pytest.approx(4.0)


def test_avchd_recording_date_at_zone_zero_is_an_instant(tmp_path: Path) -> None:
    """MediaInfo writes a zero zone as 'UTC': the instant is kept, shown in the machine's zone."""
    f = facts(make_ts(tmp_path / "00004.MTS", m2ts=True, sei=mdpm(datetime(2015, 4, 24, 15, 17, 53), 0)),
              local_zone=ZoneInfo("Asia/Tokyo"))
    assert (f.taken.utc, f.taken.source) == (datetime(2015, 4, 24, 15, 17, 53), "quicktime")
    assert (f.taken.local, f.taken.offset_source) == (datetime(2015, 4, 25, 0, 17, 53), "system")


# --- Fujifilm RAF: the metadata is the embedded JPEG's ---------------------------------------

def test_raf_metadata_from_its_embedded_jpeg(tmp_path: Path) -> None:
    """A RAF header: magic and version, the camera's name, and at byte 84 the offset and length of
    the JPEG preview (big-endian)."""
    jpeg = make_jpeg(tmp_path / "preview.jpg", original="2022:09:01 10:11:12", offset="-03:00",
                     make="FUJIFILM", model="X-T4").read_bytes()
    head = b"FUJIFILMCCD-RAW 0201FF393501" + b"X-T4".ljust(32, b"\x00")
    head = head.ljust(84, b"\x00") + struct.pack(">II", 160, len(jpeg))
    path = tmp_path / "DSCF0001.RAF"
    path.write_bytes(head.ljust(160, b"\x00") + jpeg)
    f = facts(path)
    assert (f.kind, f.format, f.make, f.model) == ("raw", "raf", "FUJIFILM", "X-T4")
    assert (f.taken.local, f.taken.offset_minutes, f.taken.offset_source) == (
        datetime(2022, 9, 1, 10, 11, 12), -180, "exif-offset")
