"""A library as a NAS holds it, organized end to end (issue 14's "done when"): phone exports,
Live Photos, videos, a camera's RAW+JPEG, a Google Takeout folder, XMP sidecars with keywords and
ratings; every item in the Timeline and its event, companions beside their primary, nothing
duplicated, sidecars never items of their own."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import piexif
import pytest

from conftest import CORPORA, Cli, gps_ifd, make_jpeg, make_video, picture
from test_readers import apple_maker_note, packet

AREZZO = (43.4674483, 11.8851267)
KEY = b"6F9C2B9A-3C43-4B63-8F41-1234567890AB"


@pytest.fixture(autouse=True)
def no_vectors(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ORGANIZER_VECTORS_ENABLED", "false")


def live_photo_still(path: Path, when: str, seed: int) -> Path:
    exif = piexif.dump({"0th": {piexif.ImageIFD.Make: b"Apple", piexif.ImageIFD.Model: b"iPhone 12"},
                        "Exif": {piexif.ExifIFD.DateTimeOriginal: when.encode(),
                                 piexif.ExifIFD.OffsetTimeOriginal: b"+02:00",
                                 piexif.ExifIFD.MakerNote: apple_maker_note(KEY)},
                        "GPS": gps_ifd(*AREZZO)})
    path.parent.mkdir(parents=True, exist_ok=True)
    picture((120, 90), seed).save(path, "JPEG", exif=exif)
    return path


def library(root: Path) -> dict[str, Path]:
    trip = root / "iPhone" / "2021-07"
    made = {
        "still": live_photo_still(trip / "IMG_0001.JPG", "2021:07:04 20:30:00", 1),
        "mov": make_video(trip / "IMG_0001.MOV", metadata={
            "creation_time": "2021-07-04T18:30:00.000000Z", "com.apple.quicktime.creationdate":
            "2021-07-04T20:30:00+0200", "com.apple.quicktime.content.identifier": KEY.decode()}),
        "video": make_video(trip / "IMG_0002.MOV", metadata={
            "creation_time": "2021-07-04T18:40:00.000000Z", "com.apple.quicktime.creationdate":
            "2021-07-04T20:40:00+0200", "com.apple.quicktime.location.ISO6709": "+43.4674+011.8851/"}),
        "photo": make_jpeg(trip / "IMG_0003.JPG", original="2021:07:04 20:50:00", offset="+02:00",
                           gps=gps_ifd(*AREZZO), make="Apple", seed=3, size=(120, 90)),
    }
    takeout = root / "Takeout" / "Google Photos" / "Photos from 2021"
    made["takeout"] = make_jpeg(takeout / "IMG_20210704_210000.jpg", seed=4, size=(120, 90))
    (takeout / "IMG_20210704_210000.jpg.supplemental-metadata.json").write_text(
        '{"title": "IMG_20210704_210000.jpg", "photoTakenTime": {"timestamp": "1625425200"}, '
        '"geoData": {"latitude": 43.4674, "longitude": 11.8851, "altitude": 0.0}}')
    edits = root / "darktable"
    made["edited"] = make_jpeg(edits / "DSC_0100.jpg", original="2021:07:04 10:00:00", seed=5, size=(120, 90))
    (edits / "DSC_0100.jpg.xmp").write_bytes(packet(
        'exif:DateTimeOriginal="2021-07-04T21:10:00+02:00" xmp:Rating="5">'
        '<dc:subject><rdf:Bag><rdf:li>Tuscany</rdf:li><rdf:li>Family</rdf:li></rdf:Bag></dc:subject>'
        '</rdf:Description>'))
    return made


def links_in(folder: Path) -> dict[str, str]:
    return {p.name: os.path.realpath(p) for p in folder.iterdir() if p.is_symlink()}


def test_a_mixed_library_is_organized_completely(tmp_path: Path, run: Cli) -> None:
    root, out = tmp_path / "Pictures", tmp_path / "Albums"
    made = library(root)
    report = run.json("organize", str(root), "--output", str(out))
    scan = report["scan"]
    assert scan["errors"] == 0 and scan["indexed"] == 6  # the still, its MOV, a video, 3 photos
    status = run.json("status")
    assert status["files"] == 6 and status["duplicate_groups"] == 0  # sidecars are no items
    # every item is in its month and its one event, the Live Photo's MOV beside its still
    month = links_in(out / "Timeline" / "2021" / "07")
    assert set(month) == {"IMG_0001.JPG", "IMG_0001.MOV", "IMG_0002.MOV", "IMG_0003.JPG",
                          "IMG_20210704_210000.jpg", "DSC_0100.jpg"}
    events = list((out / "Events").iterdir())
    assert len(events) == 1 and set(links_in(events[0])) == set(month)
    # the Takeout photo's date and place came from its JSON; the darktable edit's from its sidecar
    takeout = run.json("explain", str(made["takeout"]))
    assert (takeout["taken_at_source"], takeout["taken_at"][:16]) == ("takeout", "2021-07-04T21:00")
    assert takeout["lat"] == pytest.approx(43.4674) and takeout["sidecars"][0].endswith(".json")
    edited = run.json("explain", str(made["edited"]))
    assert (edited["taken_at"], edited["taken_at_source"], edited["rating"]) == ("2021-07-04T21:10:00",
                                                                                 "xmp-sidecar", 5)
    assert edited["keywords"] == ["Family", "Tuscany"]
    assert set(links_in(out / "Tags" / "Tuscany")) == {"DSC_0100.jpg"}
    assert set(links_in(out / "Favorites")) == {"DSC_0100.jpg"}
    still = run.json("explain", str(made["still"]))
    assert still["companions"] == [f"live-photo: {made['mov']}"]
    assert run.json("explain", str(made["mov"]))["companions"] == [f"live-photo: companion of {made['still']}"]
    video = run.json("explain", str(made["video"]))
    assert (video["kind"], video["taken_at"]) == ("video", "2021-07-04T20:40:00") and video["duration"] > 2

    # a sidecar edited later: the photo's metadata is read again, its pixels are not decoded again
    (made["edited"].parent / "DSC_0100.jpg.xmp").write_bytes(packet('xmp:Rating="2">'
                                                                    '<dc:subject><rdf:Bag><rdf:li>Tuscany</rdf:li>'
                                                                    '</rdf:Bag></dc:subject></rdf:Description>'))
    again = run.json("organize", str(root), "--output", str(out))
    assert again["scan"]["indexed"] == 0 and again["scan"]["refreshed"] == 1
    assert run.json("explain", str(made["edited"]))["rating"] == 2 and not (out / "Favorites").exists()


def test_raw_and_jpeg_of_one_shot_are_one_item(tmp_path: Path, run: Cli) -> None:
    if not CORPORA.is_dir():
        pytest.skip("../shared/corpora is not present (a real RAW file is needed)")
    dng = next(CORPORA.rglob("*.dng"))
    root, out = tmp_path / "Pictures", tmp_path / "Albums"
    (root / "camera").mkdir(parents=True)
    shutil.copy(dng, root / "camera" / "DSC_0001.dng")
    make_jpeg(root / "camera" / "DSC_0001.jpg", original="2021:07:04 10:00:00", seed=9, size=(300, 200))
    run.json("organize", str(root), "--output", str(out))
    raw = run.json("explain", str(root / "camera" / "DSC_0001.dng"))
    assert raw["kind"] == "raw" and raw["width"] * raw["height"] > 1_000_000
    assert raw["companions"] == [f"raw+jpeg: {root / 'camera' / 'DSC_0001.jpg'}"]
    assert run.json("status")["duplicate_groups"] == 0
    linked = [name for folder in (out / "Timeline").rglob("*") if folder.is_dir() for name in links_in(folder)]
    assert sorted(linked) == ["DSC_0001.dng", "DSC_0001.jpg"]  # the pair beside each other, once
