"""Extraction on real generated files: GPS rules, orientation, one reduced decode, hashes, formats."""

from __future__ import annotations

import io
from datetime import datetime
from pathlib import Path

import piexif
import pytest
from PIL import Image

from organizer.extract import NotAPhoto, decode, extract, metadata
from organizer.extract.dates import from_filename

from conftest import gps_ifd, make_jpeg, picture

NOW = datetime(2026, 11, 22, 12, 0)


def facts_of(path: Path):
    return extract(path.read_bytes(), path.name, path.stat().st_mtime, NOW)


@pytest.mark.parametrize(
    "lat, lon, lat_ref, lon_ref, expected",
    [
        (43.4674483, 11.8851267, "N", "E", (43.4674483, 11.8851267)),
        (37.3667, 122.0334, "N", "W", (37.3667, -122.0334)),
        (33.8688, 151.2093, "S", "E", (-33.8688, 151.2093)),
        (22.9068, 43.1729, "S", "W", (-22.9068, -43.1729)),
    ],
)
def test_gps_refs_are_honoured(tmp_path: Path, lat, lon, lat_ref, lon_ref, expected) -> None:
    path = make_jpeg(tmp_path / "with-location.jpg", original="2020:01:01 10:00:00",
                     gps=gps_ifd(lat, lon, lat_ref, lon_ref))
    facts = facts_of(path)
    assert facts.lat == pytest.approx(expected[0], abs=1e-5)
    assert facts.lon == pytest.approx(expected[1], abs=1e-5)


def test_null_zero_and_out_of_range_coordinates_are_rejected(tmp_path: Path) -> None:
    null = {
        piexif.GPSIFD.GPSLatitudeRef: b"N",
        piexif.GPSIFD.GPSLatitude: ((0, 0), (0, 0), (0, 0)),
        piexif.GPSIFD.GPSLongitudeRef: b"E",
        piexif.GPSIFD.GPSLongitude: ((0, 0), (0, 0), (0, 0)),
    }
    zero = gps_ifd(0.0, 0.0)
    huge = gps_ifd(10, 20)
    huge[piexif.GPSIFD.GPSLatitude] = ((4294967295, 1), (0, 1), (0, 1))
    for name, gps in [("with-null-coordinates", null), ("with-zero-coordinates", zero), ("with-huge", huge)]:
        facts = facts_of(make_jpeg(tmp_path / f"{name}.jpg", original="2020:01:01 10:00:00", gps=gps))
        assert (facts.lat, facts.lon) == (None, None), name
        assert facts.taken.source == "exif"


def test_offset_time_is_not_offset_time_original(tmp_path: Path) -> None:
    path = make_jpeg(tmp_path / "offset-plain.jpg", original="2020:01:01 10:00:00", offset_plain="+03:00")
    assert facts_of(path).taken.offset_minutes is None
    path = make_jpeg(tmp_path / "offset-original.jpg", original="2020:01:01 10:00:00", offset="+03:00")
    assert facts_of(path).taken.offset_minutes == 180


def test_camera_size_and_hashes(tmp_path: Path) -> None:
    path = make_jpeg(tmp_path / "camera.jpg", size=(120, 80), make="NIKON", model="COOLPIX P6000",
                     original="2008:10:22 16:28:39")
    facts = facts_of(path)
    assert (facts.make, facts.model, facts.width, facts.height, facts.format) == ("NIKON", "COOLPIX P6000", 120, 80, "jpeg")
    assert len(facts.phash) == 16 and len(facts.dhash) == 16
    int(facts.phash, 16), int(facts.dhash, 16)
    assert len(facts.digest) == 32


@pytest.mark.parametrize("orientation", [1, 3, 6, 8])
def test_orientation_is_applied_once(tmp_path: Path, orientation: int) -> None:
    img = Image.new("RGB", (400, 200), (255, 255, 255))
    img.paste((255, 0, 0), (0, 0, 100, 100))  # a red square at the stored top-left
    path = tmp_path / f"orientation-{orientation}.jpg"
    exif = piexif.dump({"0th": {piexif.ImageIFD.Orientation: orientation}})
    img.save(path, "JPEG", exif=exif, quality=95)
    facts = facts_of(path)
    rotated = orientation in (6, 8)
    assert (facts.width, facts.height) == ((200, 400) if rotated else (400, 200))
    assert facts.orientation == orientation
    thumb = Image.open(io.BytesIO(facts.thumbnail))
    assert (thumb.width < thumb.height) == rotated
    # where the red corner ends up, as a viewer shows the photo
    w, h = thumb.size
    corners = {"tl": (5, 5), "tr": (w - 6, 5), "bl": (5, h - 6), "br": (w - 6, h - 6)}
    red = [k for k, xy in corners.items() if thumb.getpixel(xy)[0] > 200 and thumb.getpixel(xy)[1] < 80]
    assert red == [{1: "tl", 3: "br", 6: "tr", 8: "bl"}[orientation]]


def test_one_reduced_decode_of_a_large_jpeg(tmp_path: Path) -> None:
    path = tmp_path / "large.jpg"
    picture((4000, 3000), 1).save(path, "JPEG", quality=85)
    decoded = decode.decode(path.read_bytes(), "jpeg", min_side=320)
    assert (decoded.width, decoded.height) == (4000, 3000)
    assert decoded.image.size == (500, 375)  # DCT scaling 1/8, both sides still >= 320
    thumb = Image.open(io.BytesIO(facts_of(path).thumbnail))
    assert max(thumb.size) == 320


def test_content_decides_the_format_not_the_name(tmp_path: Path) -> None:
    jpeg_named_png = make_jpeg(tmp_path / "photo.png", original="2019:05:05 05:05:05")
    assert facts_of(jpeg_named_png).format == "jpeg"
    png = tmp_path / "UPPER.JPG"
    picture((40, 40), 2).save(png, "PNG")
    assert facts_of(png).format == "png"
    text = tmp_path / "notes.jpg"
    text.write_text("hello")
    with pytest.raises(NotAPhoto, match="not a supported image"):
        facts_of(text)


@pytest.mark.parametrize(
    "fmt, ext, expected, source",
    [
        ("WEBP", "webp", datetime(2017, 1, 2, 3, 4, 5), "exif"),
        ("PNG", "png", datetime(2017, 1, 2, 3, 4, 5), "exif"),
        # Pillow's TIFF writer keeps only IFD0, whose DateTime says when the file was written (issue 12)
        ("TIFF", "tif", datetime(2018, 3, 4, 5, 6, 7), "exif-modified"),
    ],
)
def test_exif_in_other_formats(tmp_path: Path, fmt: str, ext: str, expected: datetime, source: str) -> None:
    exif = Image.Exif()
    exif[0x0132] = "2018:03:04 05:06:07"
    exif.get_ifd(0x8769)[0x9003] = "2017:01:02 03:04:05"
    path = tmp_path / f"img.{ext}"
    picture((50, 40), 3).save(path, fmt, exif=exif)
    facts = facts_of(path)
    assert facts.format == {"WEBP": "webp", "PNG": "png", "TIFF": "tiff"}[fmt]
    assert (facts.taken.local, facts.taken.source) == (expected, source)


def test_heif_from_pillow_heif(tmp_path: Path) -> None:
    import pillow_heif

    pillow_heif.register_heif_opener()
    exif = Image.Exif()
    exif.get_ifd(0x8769)[0x9003] = "2021:04:11 15:47:53"
    path = tmp_path / "IMG_0001.HEIC"
    picture((64, 48), 4).save(path, "HEIF", exif=exif)
    facts = facts_of(path)
    assert facts.format == "heif" and (facts.width, facts.height) == (64, 48)
    assert facts.taken.local == datetime(2021, 4, 11, 15, 47, 53)


def test_filename_date_when_exif_has_none(tmp_path: Path) -> None:
    path = make_jpeg(tmp_path / "IMG_20200101_123456.jpg")
    assert (facts_of(path).taken.local, facts_of(path).taken.source) == (datetime(2020, 1, 1, 12, 34, 56), "filename")
    assert from_filename("nothing.jpg", NOW) is None


def test_broken_exif_falls_back_to_pillow() -> None:
    warnings: list[str] = []
    exif = Image.Exif()
    exif[0x0110] = "Model X"
    meta = metadata.read(b"not an image at all", exif, warnings)
    assert meta.model == "Model X"


def test_perceptual_hashes_equal_imagehash(corpora_or_generated) -> None:
    import imagehash

    from organizer.extract.hashes import perceptual

    for img in corpora_or_generated:
        assert perceptual(img) == (str(imagehash.phash(img)), str(imagehash.dhash(img)))


def test_phash_of_any_size_equals_imagehash(corpora_or_generated) -> None:
    """imgcmp's x*x pHash (the `phash` feature, x = 8..16) gives imagehash's bits at every size."""
    import imagehash

    from organizer.extract.hashes import phash_bits

    for img in corpora_or_generated:
        for size in (8, 12, 16):
            assert (phash_bits(img.convert("L"), size) == imagehash.phash(img, hash_size=size).hash).all(), size


@pytest.fixture
def corpora_or_generated() -> list[Image.Image]:
    from conftest import CORPORA

    images = [picture((200 + 10 * s, 150), s) for s in range(10)]
    for path in sorted((CORPORA / "B_skimage-data").glob("*.png")):
        with Image.open(path) as im:
            images.append(im.convert("RGB"))
    return images
