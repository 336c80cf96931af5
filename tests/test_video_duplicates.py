"""Video duplicates on real clips (PyAV): the same clip re-encoded is a duplicate; another cut of it
and a still of its frame are not, though their frames hash alike."""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np
import pytest

from organizer.catalog import Catalog
from organizer.cluster import copies, duplicates, verify

from conftest import Cli, jpeg_bytes, make_video


@pytest.fixture(autouse=True)
def no_vectors(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ORGANIZER_VECTORS_ENABLED", "false")


def still_of(clip: Path, path: Path, frame: int) -> Path:
    """A JPEG of the clip's frame number `frame`, as a phone's "save frame" makes one."""
    with av.open(str(clip)) as container:
        for i, decoded in enumerate(container.decode(video=0)):
            if i == frame:
                decoded.to_image().save(path, "JPEG", quality=92)
                return path
    raise AssertionError(f"{clip} has no frame {frame}")


def test_a_re_encoded_clip_is_a_duplicate_a_shorter_cut_and_a_still_of_it_are_not(tmp_path: Path, run: Cli) -> None:
    root, out = tmp_path / "Pictures", tmp_path / "Albums"
    for folder in ("Trip", "Exports", "Edits"):
        (root / folder).mkdir(parents=True)
    clip = make_video(root / "Trip" / "clip.mp4", fmt="mp4", size=(192, 128), frames=40)  # 4 s
    copy = make_video(root / "Exports" / "clip small.mp4", fmt="mp4", size=(96, 64), frames=40, bit_rate=60_000)
    cut = make_video(root / "Edits" / "clip cut.mp4", fmt="mp4", size=(192, 128), frames=20)  # its first 2 s
    still = still_of(clip, root / "Trip" / "clip frame.jpg", frame=10)
    report = run.json("organize", str(root), "--output", str(out))
    assert report["scan"]["indexed"] == 4 and report["scan"]["errors"] == 0
    with Catalog(run.catalog, readonly=True) as catalog:
        facts = {catalog.files.get(str(p)).photo_id: p for p in (clip, copy, cut, still)}
        rows = {facts[r.id]: r for r in catalog.photos.facts(list(facts))}
    assert [rows[p].kind for p in (clip, copy, cut, still)] == ["video", "video", "video", "photo"]
    assert rows[clip].duration == pytest.approx(4.0, abs=0.2) and rows[cut].duration == pytest.approx(2.0, abs=0.2)
    for other in (copy, cut, still):  # every one hashes like the clip: only kind and duration tell them apart
        for name in ("phash", "dhash"):
            a, b = duplicates.hex_to_u64([getattr(rows[clip], name), getattr(rows[other], name)])
            assert int(duplicates.popcount(a ^ b)) <= 8, (other.name, name)

    groups = run.json("dupes")
    assert [sorted(f["path"] for f in g["files"]) for g in groups] == [sorted([str(clip), str(copy)])]
    assert [(f["path"], f["keep"]) for f in groups[0]["files"]] == [(str(clip), True), (str(copy), False)]
    assert "smaller" in groups[0]["files"][1]["differs"]
    album = out / "Duplicates" / "clip"
    assert sorted(p.name for p in (out / "Duplicates").iterdir()) == ["clip"]
    assert {p.name: p.resolve() for p in album.iterdir()} == {
        "1 keep - clip (Trip).mp4": clip.resolve(), "2 smaller - clip small (Exports).mp4": copy.resolve()}


def library(video: list[bool], duration: list[float], hashed: int = 0) -> copies.Photos:
    """The finder's columns for rows that differ only by kind and duration, every one hashed
    `hashed` (pHash and dHash)."""
    n = len(video)
    zeros = np.zeros(n, dtype=np.int64)
    hashes = np.full(n, hashed, dtype=np.uint64)
    return copies.Photos(
        ids=np.arange(n, dtype=np.int64), phash=hashes, dhash=hashes, region_phash=hashes, region_dhash=hashes,
        framed=zeros.astype(bool), width=zeros + 320, height=zeros + 240, file_size=zeros, chroma=zeros.astype(float),
        orientation=zeros + 1, formats=[""] * n, captures=[verify.Capture.of(None, None, None, None)] * n,
        raw=zeros.astype(bool), paths=[(f"/{i}", 0) for i in range(n)], video=np.array(video),
        duration=np.array(duration, dtype=np.float64))


def test_durations_agree_within_half_a_second_or_two_percent_of_the_longer() -> None:
    nan = float("nan")
    photos = library([True] * 7 + [False], [4.0, 4.45, 4.55, 100.0, 101.9, 102.1, nan, nan])
    pairs = [(0, 1), (0, 2), (3, 4), (3, 5), (0, 6), (6, 6), (0, 7)]
    i, j = np.array(pairs).T
    assert copies.apart(photos, i, j).tolist() == [False, True, False, True, True, True, True]
    assert not copies.apart(library([False, False], [nan, nan]), 0, 1)  # stills have no duration


def test_a_chain_of_durations_never_joins_two_cuts_nor_a_still() -> None:
    """4.0 s agrees with 4.4 s and 4.4 s with 4.8 s, but 4.0 s not with 4.8 s; the still and the
    video of unknown duration hash as they all do."""
    photos = library([True, True, True, False, True], [4.0, 4.4, 4.8, float("nan"), float("nan")],
                     hashed=0x0F0F_3C3C_5A5A_6699)
    frame = jpeg_bytes((320, 240), seed=2)
    groups = copies.find_copies(photos, lambda ids: [frame] * len(ids))
    assert [g.members for g in groups] in ([(0, 1)], [(1, 2)])
