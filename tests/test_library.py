"""A library as a NAS holds it, organized end to end (issue 14's "done when"): phone exports,
Live Photos, videos, a camera's RAW+JPEG, a Google Takeout folder, XMP sidecars with keywords and
ratings; every item in the Timeline and its event, companions beside their primary, nothing
duplicated, sidecars never items of their own."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import piexif
import pytest
from PIL import Image

from conftest import CORPORA, Cli, gps_ifd, make_jpeg, make_video, picture
from test_generated_formats import make_cr2, make_dng
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


def phone_export(root: Path) -> dict[str, Path]:
    """One evening in Arezzo as a NAS holds it: an iPhone's DCIM (a Live Photo, stills, an
    Android-style MP4 with a UTC time and an ISO 6709 place, a still whose pixels were cut off),
    a camera's RAW+JPEG, a Google Takeout photo dated only by its JSON, and a darktable edit
    whose sidecar corrects a camera clock that was ten hours behind."""
    dcim = root / "Phone" / "DCIM" / "100APPLE"
    made = {
        "still": live_photo_still(dcim / "IMG_0001.JPG", "2021:07:04 20:30:00", 1),
        "mov": make_video(dcim / "IMG_0001.MOV", metadata={
            "creation_time": "2021-07-04T18:30:00.000000Z", "com.apple.quicktime.creationdate":
            "2021-07-04T20:30:00+0200", "com.apple.quicktime.content.identifier": KEY.decode()}),
        "photo2": make_jpeg(dcim / "IMG_0002.JPG", original="2021:07:04 20:35:00", offset="+02:00",
                            gps=gps_ifd(AREZZO[0] + 2e-4, AREZZO[1]), make="Apple", seed=2, size=(120, 90)),
        "photo3": make_jpeg(dcim / "IMG_0003.JPG", original="2021:07:04 20:40:00", offset="+02:00",
                            gps=gps_ifd(AREZZO[0], AREZZO[1] + 2e-4), make="Apple", seed=3, size=(120, 90)),
        "video": make_video(dcim / "VID_20210704_204500.mp4", fmt="mp4", metadata={
            "creation_time": "2021-07-04T18:45:00.000000Z", "location": "+43.4675+011.8852/"}),
    }
    whole = make_jpeg(tmp := root / "IMG_0004.tmp", original="2021:07:04 20:50:00", offset="+02:00",
                      gps=gps_ifd(*AREZZO), seed=4, size=(320, 240))
    made["broken"] = dcim / "IMG_0004.JPG"
    made["broken"].write_bytes(whole.read_bytes()[:-2000])  # the EXIF is whole, the scan data is not
    tmp.unlink()
    camera = root / "Camera" / "2021-07-04"
    camera.mkdir(parents=True)
    made["raw"] = make_dng(camera / "DSC_0001.DNG", original="2021:07:04 21:00:00", seed=6)
    made["raw_jpeg"] = make_jpeg(camera / "DSC_0001.JPG", original="2021:07:04 21:00:00", gps=gps_ifd(*AREZZO),
                                 make="Canon", seed=6, size=(256, 192))  # the camera's rendering of the RAW
    takeout = root / "Takeout" / "Google Photos" / "Photos from 2021"
    made["takeout"] = make_jpeg(takeout / "IMG_5821.jpg", seed=7, size=(120, 90))
    (takeout / "IMG_5821.jpg.json").write_text(  # 2021-07-04 19:05 UTC, 21:05 in Arezzo
        '{"title": "IMG_5821.jpg", "photoTakenTime": {"timestamp": "1625425500", "formatted": "4 Jul 2021"}, '
        '"geoData": {"latitude": 43.4674, "longitude": 11.8851, "altitude": 0.0}}')
    edits = root / "darktable"
    made["edited"] = make_jpeg(edits / "DSC_0100.jpg", original="2021:07:04 11:10:00", seed=8, size=(120, 90))
    (edits / "DSC_0100.jpg.xmp").write_bytes(packet('exif:DateTimeOriginal="2021-07-04T21:10:00+02:00">'
                                                    '</rdf:Description>'))
    return made


def map_rows(html: str) -> list[list]:
    start = html.index('id="organizer-data">') + len('id="organizer-data">')
    return json.loads(html[start:html.index("</script>", start)])["photos"]


def test_a_phone_export_is_organized_completely(tmp_path: Path, run: Cli) -> None:
    root, out = tmp_path / "Pictures", tmp_path / "Albums"
    made = phone_export(root)
    report = run.json("organize", str(root), "--output", str(out))
    assert report["scan"]["errors"] == 1  # the cut-off JPEG's pixels
    items = {"IMG_0001.JPG", "IMG_0002.JPG", "IMG_0003.JPG", "VID_20210704_204500.mp4", "IMG_0004.JPG",
             "DSC_0001.DNG", "IMG_5821.jpg", "DSC_0100.jpg"}
    companions = {"IMG_0001.MOV", "DSC_0001.JPG"}
    # every item and companion once in its month, and all of them in the evening's one event
    timeline = [p.name for p in (out / "Timeline").rglob("*") if p.is_symlink()]
    assert sorted(timeline) == sorted(items | companions)
    assert set(links_in(out / "Timeline" / "2021" / "07")) == items | companions
    events = list((out / "Events").iterdir())
    assert len(events) == 1 and set(links_in(events[0])) == items | companions
    # companions are no items: beside their primary in every album, in no group of their own
    status = run.json("status")
    assert (status["duplicate_groups"], status["events"]) == (0, 1) and not (out / "Duplicates").exists()
    still = run.json("explain", str(made["still"]))
    assert still["companions"] == [f"live-photo: {made['mov']}"]
    assert [g["size"] for g in still["groups"] if g["kind"] == "event"] == [len(items)]
    assert run.json("explain", str(made["raw"]))["companions"] == [f"raw+jpeg: {made['raw_jpeg']}"]
    assert run.json("explain", str(made["raw_jpeg"]))["companions"] == [f"raw+jpeg: companion of {made['raw']}"]
    # the video is in the place with the photos taken around it
    places = [folder for folder in (out / "Places").rglob("*") if folder.is_dir() and links_in(folder)]
    assert len(places) == 1
    assert {"VID_20210704_204500.mp4", "IMG_0001.JPG", "IMG_0002.JPG", "IMG_5821.jpg"} <= set(links_in(places[0]))
    # the cut-off JPEG: its EXIF date and an error row of stage pixels; no thumbnail, not on the map
    broken = run.json("explain", str(made["broken"]))
    assert (broken["taken_at"], broken["taken_at_source"], broken["thumbnail"]) == ("2021-07-04T20:50:00", "exif",
                                                                                    None)
    assert [e["stage"] for e in broken["errors"]] == ["pixels"]
    assert [(e["path"], e["stage"]) for e in run.json("errors")] == [(str(made["broken"]), "pixels")]
    on_map = {row[4] for row in map_rows((out / "map.html").read_text())}
    assert "IMG_0004.JPG" not in on_map and {"VID_20210704_204500.mp4", "DSC_0001.DNG", "IMG_5821.jpg"} <= on_map
    # dates as their best source gives them: the video's UTC time in Arezzo's zone, the Takeout
    # JSON, the darktable sidecar over the camera's EXIF
    expected = {"video": ("2021-07-04T20:45:00", "quicktime"), "raw": ("2021-07-04T21:00:00", "exif"),
                "takeout": ("2021-07-04T21:05:00", "takeout"), "edited": ("2021-07-04T21:10:00", "xmp-sidecar")}
    for name, when in expected.items():
        info = run.json("explain", str(made[name]))
        assert (info["taken_at"], info["taken_at_source"]) == when, name


def exiftool_dates(root: Path) -> dict[str, tuple[str, str]]:
    """Each media file's capture date as ExifTool reads it, as ("local"|"utc", ISO time): a
    sidecar's date (XMP or Takeout JSON, which ExifTool reads as files of their own) counts for its
    photo and wins, as a user's correction; then the EXIF original date, Apple's local creation
    date, QuickTime's UTC CreateDate."""
    out = subprocess.run(["exiftool", "-q", "-q", "-r", "-j", "-G1", "-n", "-api", "QuickTimeUTC", "."], cwd=root,
                         capture_output=True, check=True, timeout=120)
    found: dict[str, tuple[str, str]] = {}
    for row in sorted(json.loads(out.stdout), key=lambda r: r["SourceFile"].endswith((".xmp", ".json"))):
        path = str(root / row["SourceFile"].removeprefix("./").removesuffix(".xmp").removesuffix(".json"))
        for tag, kind in (("XMP-exif:DateTimeOriginal", "utc"), ("JSON:PhotoTakenTimeTimestamp", "utc"),
                          ("ExifIFD:DateTimeOriginal", "local"), ("Keys:CreationDate", "local"),
                          ("QuickTime:CreateDate", "utc")):
            if tag in row:
                found[path] = (kind, _iso(str(row[tag]), kind))
                break
    return found


def _iso(value: str, kind: str) -> str:
    if value.isdigit():
        return datetime.fromtimestamp(int(value), timezone.utc).replace(tzinfo=None).isoformat()
    when = datetime.strptime(value[:19], "%Y:%m:%d %H:%M:%S")
    zone = value[19:].replace(":", "")
    if kind == "utc" and zone:
        offset = (int(zone[1:3]) * 60 + int(zone[3:5])) * (-1 if zone[0] == "-" else 1)
        when -= timedelta(minutes=offset)
    return when.isoformat()


@pytest.mark.skipif(shutil.which("exiftool") is None, reason="exiftool is not installed")
def test_a_phone_export_is_dated_as_exiftool_reads_it(tmp_path: Path, run: Cli) -> None:
    root = tmp_path / "Pictures"
    made = phone_export(root)
    run("scan", str(root))
    expected = exiftool_dates(root)
    assert set(expected) == {str(p) for p in made.values()}  # ExifTool dates all of them, sidecars included
    for path, (kind, when) in expected.items():
        info = run.json("explain", path)
        assert info["taken_at_utc" if kind == "utc" else "taken_at"] == when, (path, info["taken_at_source"])


SKIMAGE = CORPORA / "B_skimage-data"


def scene(name: str, size: tuple[int, int], box: tuple[float, float, float, float] = (0, 0, 1, 1)) -> Image.Image:
    """A B_skimage-data photo cropped to `box` (fractions) and resized to `size`."""
    with Image.open(SKIMAGE / name) as im:
        w, h = im.size
        crop = im.convert("RGB").crop((int(box[0] * w), int(box[1] * h), int(box[2] * w), int(box[3] * h)))
    return crop.resize(size, Image.Resampling.LANCZOS)


def test_a_video_and_a_still_of_one_scene_are_similar_never_duplicates(tmp_path: Path, run: Cli) -> None:
    """docs/clustering.md: Similar groups compare items by their CNN vectors whatever their kind (a
    video's is its thumbnail frame's), so a clip and a photo of one scene share a Similar album;
    the duplicate finder never calls them copies; a Live Photo's MOV is no member of its own."""
    if not SKIMAGE.is_dir():
        pytest.skip("../shared/corpora is not present (photos a CNN tells apart are needed)")
    root, out = tmp_path / "Pictures", tmp_path / "Albums"
    root.mkdir()
    cat = np.asarray(scene("chelsea.png", (320, 240)))
    make_video(root / "VID_cat.mp4", fmt="mp4", size=(320, 240), pixels=cat, bit_rate=2_000_000)
    scene("chelsea.png", (400, 300), (0.05, 0.0, 0.95, 0.9)).save(root / "IMG_cat.jpg", quality=90)
    moto = np.asarray(scene("motorcycle_left.png", (320, 240)))
    live = root / "IMG_0001.JPG"  # a Live Photo of a motorcycle; the other camera of the stereo pair
    exif = piexif.dump({"0th": {piexif.ImageIFD.Make: b"Apple"},
                        "Exif": {piexif.ExifIFD.MakerNote: apple_maker_note(KEY)}})
    Image.fromarray(moto).save(live, quality=90, exif=exif)
    make_video(root / "IMG_0001.MOV", size=(320, 240), pixels=moto, bit_rate=2_000_000,
               metadata={"com.apple.quicktime.content.identifier": KEY.decode()})
    scene("motorcycle_right.png", (400, 300)).save(root / "IMG_moto.jpg", quality=90)
    for name in ("astronaut.png", "coffee.png", "rocket.jpg", "brick.png", "camera.png"):
        scene(name, (320, 240)).save(root / f"{Path(name).stem}.jpg", quality=90)
    on = {"ORGANIZER_VECTORS_ENABLED": "true"}
    run.json("organize", str(root), "--output", str(out), env=on)
    albums = {p.name: set(links_in(p)) for p in (out / "Similar").iterdir()}
    assert sorted(albums.values(), key=sorted) == [{"IMG_0001.JPG", "IMG_0001.MOV", "IMG_moto.jpg"},
                                                   {"IMG_cat.jpg", "VID_cat.mp4"}]
    near = run.json("similar", str(root / "VID_cat.mp4"), "-k", "2", env=on)
    assert Path(near[0]["path"]).name == "IMG_cat.jpg" and near[0]["cosine"] > 0.9 > near[1]["cosine"]
    status = run.json("status", env=on)
    assert (status["similar_groups"], status["duplicate_groups"]) == (2, 0) and not (out / "Duplicates").exists()
    assert run.json("explain", str(root / "IMG_0001.MOV"), env=on)["groups"] == []  # it goes with its still
    # `similar` lists items: not the still's own MOV (cosine 0.99), nor, for the MOV, its still
    assert Path(run.json("similar", str(live), "-k", "1", env=on)[0]["path"]).name == "IMG_moto.jpg"
    assert Path(run.json("similar", str(root / "IMG_0001.MOV"), "-k", "1", env=on)[0]["path"]).name == "IMG_moto.jpg"


def test_a_companion_whose_primary_goes_is_an_item_again(tmp_path: Path, run: Cli) -> None:
    """A user deletes a shoot's RAWs and keeps its JPEGs (seen by a scan), or a Live Photo's still
    and keeps its clip (seen by the daemon's watcher): what is left is an item of its own, in the
    Timeline and its event."""
    from organizer import config, index
    from organizer.catalog import Catalog

    root, out = tmp_path / "Pictures", tmp_path / "Albums"
    made = phone_export(root)
    run.json("organize", str(root), "--output", str(out))
    made["raw"].unlink()
    run("scan", str(root))
    made["still"].unlink()
    cfg = config.load(env={}, overrides={"catalog.path": (str(run.catalog), "test"), "scan.inline": (True, "test"),
                                         "vectors.enabled": (False, "test")})
    with Catalog(cfg.catalog.path) as catalog:
        indexer = index.Indexer(catalog, cfg, background=True)
        try:
            indexer.update(lambda p: str(root), gone=[str(made["still"])])
        finally:
            indexer.close()
    run("cluster")
    run("publish", "--output", str(out))
    for left in ("raw_jpeg", "mov"):
        assert run.json("explain", str(made[left]))["companions"] == []
    month = links_in(out / "Timeline" / "2021" / "07")
    assert {"DSC_0001.JPG", "IMG_0001.MOV"} <= set(month) and not {"DSC_0001.DNG", "IMG_0001.JPG"} & set(month)
    events = list((out / "Events").iterdir())
    assert len(events) == 1 and {"DSC_0001.JPG", "IMG_0001.MOV"} <= set(links_in(events[0]))


def test_a_raw_that_libraw_cannot_read_is_shown_by_its_jpeg(tmp_path: Path, run: Cli) -> None:
    """A camera newer than LibRaw: its RAW keeps its date and an error row of stage pixels, and the
    camera's JPEG beside it is the item's picture and place (thumbnail, map, Places), the RAW
    linked beside it."""
    root, out = tmp_path / "Pictures", tmp_path / "Albums"
    camera = root / "Camera"
    camera.mkdir(parents=True)
    raw = make_cr2(camera / "IMG_0001.CR2", zone=60, dst=60, original="2021:07:04 10:00:00")
    jpeg = make_jpeg(camera / "IMG_0001.JPG", original="2021:07:04 10:00:00", gps=gps_ifd(*AREZZO), seed=1,
                     size=(200, 150))
    for i in (2, 3):
        make_jpeg(camera / f"IMG_000{i}.JPG", original=f"2021:07:04 10:0{i}:00", gps=gps_ifd(*AREZZO), seed=i)
    run.json("organize", str(root), "--output", str(out))
    shown = run.json("explain", str(jpeg))
    assert shown["companions"] == [f"raw+jpeg: {raw}"] and shown["thumbnail"]
    info = run.json("explain", str(raw))
    assert info["companions"] == [f"raw+jpeg: companion of {jpeg}"] and info["taken_at"] == "2021-07-04T10:00:00"
    assert [e["stage"] for e in info["errors"]] == ["pixels"]
    assert {"IMG_0001.JPG", "IMG_0001.CR2"} <= set(links_in(out / "Timeline" / "2021" / "07"))
    places = [folder for folder in (out / "Places").rglob("*") if folder.is_dir() and links_in(folder)]
    assert len(places) == 1 and {"IMG_0001.JPG", "IMG_0001.CR2"} <= set(links_in(places[0]))
    assert "IMG_0001.JPG" in {row[4] for row in map_rows((out / "map.html").read_text())}


def test_a_raw_that_a_newer_libraw_decodes_is_its_pairs_primary_again(tmp_path: Path, run: Cli) -> None:
    """The catalog of an older organizer whose LibRaw could not decode a DNG (no thumbnail, an
    older RAW reader's version): one scan decodes it again and makes it its JPEG's primary."""
    import sqlite3

    root = tmp_path / "Pictures"
    root.mkdir()
    raw = make_dng(root / "DSC_0001.DNG")
    jpeg = make_jpeg(root / "DSC_0001.JPG", original="2021:07:04 21:00:00", seed=0, size=(256, 192))
    run("scan", str(root))
    assert run.json("explain", str(raw))["companions"] == [f"raw+jpeg: {jpeg}"]
    with sqlite3.connect(run.catalog) as db:
        db.execute("UPDATE photos SET thumb = NULL, versions = json_set(versions, '$.raw', 0) WHERE kind = 'raw'")
    db.close()
    make_jpeg(root / "DSC_0002.JPG", original="2021:07:04 21:01:00", seed=2)  # the folder changed: paired again
    report = run.json("scan", str(root))
    assert report["indexed"] == 1
    info = run.json("explain", str(raw))
    assert info["companions"] == [f"raw+jpeg: {jpeg}"] and info["thumbnail"]


def test_a_takeout_edit_is_dated_by_its_originals_json(tmp_path: Path, run: Cli) -> None:
    """Google Photos exports an edit as 'IMG_5821-edited.jpg' with no JSON of its own."""
    root = tmp_path / "Pictures" / "Takeout" / "Google Photos" / "Photos from 2021"
    original = make_jpeg(root / "IMG_5821.jpg", seed=7, size=(120, 90))
    edit = make_jpeg(root / "IMG_5821-edited.jpg", seed=8, size=(120, 90))
    (root / "IMG_5821.jpg.supplemental-metadata.json").write_text(
        '{"title": "IMG_5821.jpg", "photoTakenTime": {"timestamp": "1625425500"}, '
        '"geoData": {"latitude": 43.4674, "longitude": 11.8851, "altitude": 0.0}}')
    assert run.json("scan", str(tmp_path / "Pictures"))["indexed"] == 2
    for path in (original, edit):
        info = run.json("explain", str(path))
        assert (info["taken_at_utc"], info["taken_at_source"], info["lat"]) == ("2021-07-04T19:05:00", "takeout",
                                                                                43.4674), path


def test_pairing_reads_one_folder_not_its_subfolders_nor_its_siblings(tmp_path: Path) -> None:
    """`files.in_folder` (what pairing reads) is a range on the path index: '/r/a/' and not
    '/r/a/b/', '/r/a0/' (the byte after '/') nor '/r/a-x/'."""
    from conftest import add_photo
    from organizer.catalog import Catalog

    with Catalog(str(tmp_path / "catalog.db")) as catalog:
        with catalog.transaction():
            for i, path in enumerate(["/r/a/1.jpg", "/r/a/b/2.jpg", "/r/a0/3.jpg", "/r/a-x/4.jpg", "/r/a/\udce9.jpg"]):
                add_photo(catalog, i, "/r", path)
        assert sorted(catalog.files.in_folder("/r/a")) == [("/r/a/1.jpg", 1), ("/r/a/\udce9.jpg", 5)]
