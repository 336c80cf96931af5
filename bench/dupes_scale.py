"""The duplicates stage (`copies.find_copies`) on bench_cluster's synthetic libraries.

Each synthetic photo gets what the index stores: its hashes and vector (bench_cluster's), no frame,
EXIF for half of the photos (one camera; the time from the library's seconds, sub-seconds at
random; a planted copy keeps its original's EXIF half the time), and a 320 px thumbnail from a
pool of generated scenes: a planted copy shows its original's scene re-encoded, every other photo
its own scene (so the similar sets, which are CNN candidates, are other shots that pixels must
reject). The thumbnails are made before the clock starts; the stage decodes them as it would
decode the catalog's.
"""

from __future__ import annotations

import io

import numpy as np
from PIL import Image, ImageDraw

from organizer.cluster import copies, verify

POOL = 2048


def scene(seed: int) -> Image.Image:
    rng = np.random.default_rng(seed)
    img = Image.fromarray(rng.integers(0, 256, size=(6, 8, 3), dtype=np.uint8)).resize((320, 240),
                                                                                       Image.Resampling.BICUBIC)
    draw = ImageDraw.Draw(img)
    for _ in range(30):
        x, y, r = int(rng.integers(0, 320)), int(rng.integers(0, 240)), int(rng.integers(4, 30))
        draw.rectangle((x - r, y - r // 2, x + r, y + r // 2), fill=tuple(int(c) for c in rng.integers(0, 256, 3)))
        draw.ellipse((y - r, x - r, y + r, x + r), outline=(0, 0, 0), width=2)
    return img


def _jpeg(img: Image.Image, quality: int) -> bytes:
    out = io.BytesIO()
    img.save(out, "JPEG", quality=quality)
    return out.getvalue()


def pixel_pool() -> tuple[list[bytes], list[bytes]]:
    """(scene thumbnails, the same re-encoded at another quality and a little cropped)."""
    scenes = [scene(s) for s in range(POOL)]
    first = [_jpeg(s, 82) for s in scenes]
    second = [_jpeg(s.crop((6, 4, 314, 236)).resize((320, 240)), 60) for s in scenes]
    return first, second


def photos(lib: dict[str, np.ndarray], seed: int = 0) -> tuple[copies.Photos, copies.Pixels]:
    rng = np.random.default_rng(seed)
    n = len(lib["ids"])
    dup_of = lib["dup_of"]
    copy = dup_of != np.arange(n)
    has_exif = rng.random(n) < 0.5
    has_exif[copy] = has_exif[dup_of[copy]] & (rng.random(int(copy.sum())) < 0.5)
    subsec = rng.integers(0, 100, n)
    subsec[copy] = subsec[dup_of[copy]]
    seconds = lib["seconds"].copy()
    seconds[copy] = seconds[dup_of[copy]]
    stamps = np.datetime_as_string(seconds.astype("datetime64[s]"), unit="s")
    captures = [verify.Capture("Phone X", str(stamps[i]).replace("-", ":").replace("T", " "), f"{subsec[i]:02d}")
                if has_exif[i] else verify.Capture(None, None, None) for i in range(n)]
    first, second = pixel_pool()
    scene_of = np.arange(n) % POOL
    scene_of[copy] = scene_of[dup_of[copy]]

    def pixels(ids: list[int]) -> list[bytes]:
        return [(second if copy[i] else first)[scene_of[i]] for i in ids]

    zeros = np.zeros(n, dtype=np.uint64)
    return copies.Photos(
        ids=lib["ids"], phash=lib["phash"], dhash=lib["dhash"], region_phash=zeros, region_dhash=zeros,
        framed=np.zeros(n, dtype=bool), width=np.full(n, 4000), height=np.full(n, 3000),
        file_size=rng.integers(1_000_000, 5_000_000, n), chroma=np.full(n, 20.0), orientation=np.ones(n, np.int8),
        formats=["jpeg"] * n, captures=captures, raw=np.zeros(n, dtype=bool),
        paths=[(f"/photos/{i}.jpg", 0) for i in range(n)], vectors=lib["vectors"]), pixels
