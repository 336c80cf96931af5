"""Sidecars and companions: which names of one folder belong to which media file (pure)."""

from __future__ import annotations

from organizer.cluster.companions import Item, Member, group, sidecars


def test_xmp_sidecars_both_conventions() -> None:
    found = sidecars(["IMG_1.jpg", "IMG_1.jpg.xmp", "IMG_1.CR2", "IMG_1.xmp", "DSC_2.NEF", "DSC_2.NEF.XMP"])
    assert found == {"IMG_1.jpg": ["IMG_1.jpg.xmp", "IMG_1.xmp"], "IMG_1.CR2": ["IMG_1.xmp"],
                     "DSC_2.NEF": ["DSC_2.NEF.XMP"]}


def test_takeout_json_names_plain_supplemental_cut_and_numbered() -> None:
    long_name = "a_very_long_file_name_from_google_photos_takeout.jpg"  # 52 characters
    names = ["IMG_1.jpg", "IMG_1.jpg.json", "IMG_1(1).jpg", "IMG_1.jpg(1).json", "x.jpg",
             "x.jpg.supplemental-metadata.json", "y.jpg", "y.jpg.supplemental-met.json",
             long_name, long_name[:46] + ".json", "metadata.json", "print-subscriptions.json"]
    found = sidecars(names)
    assert found["IMG_1.jpg"] == ["IMG_1.jpg.json"]
    assert found["IMG_1(1).jpg"] == ["IMG_1.jpg(1).json"]
    assert found["x.jpg"] == ["x.jpg.supplemental-metadata.json"]
    assert found["y.jpg"] == ["y.jpg.supplemental-met.json"]
    assert found[long_name] == [long_name[:46] + ".json"]
    assert set(found) == {"IMG_1.jpg", "IMG_1(1).jpg", "x.jpg", "y.jpg", long_name}  # album JSONs are no one's


def test_a_takeout_edit_shares_its_originals_json_unless_it_has_its_own() -> None:
    found = sidecars(["IMG_1.jpg", "IMG_1-edited.jpg", "IMG_1.jpg.supplemental-metadata.json", "IMG_2.jpg",
                      "IMG_2-bearbeitet.jpg", "IMG_2.jpg.json", "IMG_2-bearbeitet.jpg.json", "IMG_3-edited.jpg"])
    assert found["IMG_1-edited.jpg"] == found["IMG_1.jpg"] == ["IMG_1.jpg.supplemental-metadata.json"]
    assert found["IMG_2-bearbeitet.jpg"] == ["IMG_2-bearbeitet.jpg.json"]
    assert "IMG_3-edited.jpg" not in found  # no original, no JSON


def test_raw_plus_jpeg_the_raw_is_primary() -> None:
    items = group([Member("IMG_1.JPG", "photo"), Member("IMG_1.CR3", "raw"), Member("IMG_2.JPG", "photo")])
    assert items == [Item("IMG_1.CR3", ("IMG_1.JPG",), "raw+jpeg"), Item("IMG_2.JPG")]


def test_a_raw_whose_pixels_cannot_be_decoded_is_the_companion_of_its_jpeg() -> None:
    items = group([Member("IMG_1.JPG", "photo"), Member("IMG_1.CR3", "raw", pixels=False),
                   Member("IMG_2.JPG", "photo", pixels=False), Member("IMG_2.CR3", "raw", pixels=False)])
    assert items == [Item("IMG_1.JPG", ("IMG_1.CR3",), "raw+jpeg"), Item("IMG_2.CR3", ("IMG_2.JPG",), "raw+jpeg")]


def test_live_photo_by_content_identifier_even_with_other_names() -> None:
    items = group([Member("IMG_0001.HEIC", "photo", 100.0, content_id="K1"),
                   Member("IMG_E0001.MOV", "video", 500.0, content_id="K1"),
                   Member("IMG_0002.HEIC", "photo", 100.0, content_id="K2"),
                   Member("IMG_0002.MOV", "video", 100.5, content_id="OTHER")])
    assert Item("IMG_0001.HEIC", ("IMG_E0001.MOV",), "live-photo") in items
    assert Item("IMG_0002.HEIC") in items and Item("IMG_0002.MOV") in items  # other keys: not a pair


def test_live_photo_by_stem_within_seconds_only() -> None:
    near = group([Member("IMG_5.JPG", "photo", 1000.0), Member("IMG_5.MOV", "video", 1001.5)])
    assert near == [Item("IMG_5.JPG", ("IMG_5.MOV",), "live-photo")]
    far = group([Member("IMG_5.JPG", "photo", 1000.0), Member("IMG_5.MOV", "video", 1100.0)])
    assert far == [Item("IMG_5.JPG"), Item("IMG_5.MOV")]
    undated = group([Member("IMG_5.JPG", "photo"), Member("IMG_5.MOV", "video")])
    assert len(undated) == 2


def test_video_thm_and_motion_photo() -> None:
    items = group([Member("MVI_1.AVI", "video"), Member("MVI_1.THM", "photo"),
                   Member("PXL_1.MP.jpg", "photo", motion_video=123456)])
    assert items == [Item("MVI_1.AVI", ("MVI_1.THM",), "video+thm"), Item("PXL_1.MP.jpg", (), "motion-photo")]
