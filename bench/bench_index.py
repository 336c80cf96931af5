"""Indexing speed, side by side in one run: ours against the floor and against the older tools' way.

    python -m bench.bench_index [--photos 120] [--rescan-files 100000] [--rounds 3]

(a) floor: read + draft-decode each file, nothing else;
(b) the older tools' way: full decode + imagehash.phash + exifread;
ours: `organizer scan` (digest, EXIF, one reduced decode, pHash + dHash, thumbnail, catalog writes),
with CNN vectors off, on (int8, the default) and on in float32.
All use the same number of worker processes. Then a rescan of many unchanged files against a
bare os.walk + stat loop. Medians over the rounds; ratios are what to quote (shared machines).
"""

from __future__ import annotations

import argparse
import io
import os
import shutil
import statistics
import tempfile
import time
from multiprocessing import get_context
from pathlib import Path

import exifread
import imagehash
import piexif
from PIL import Image


from organizer import config as config_mod
from organizer import index
from organizer.catalog import Catalog

CORPORA = Path(__file__).resolve().parent.parent.parent / "shared" / "corpora"


def sources() -> list[Image.Image]:
    """Real photos from the corpora when present, else generated pictures."""
    found = sorted((CORPORA / "B_skimage-data").glob("*.png")) + sorted((CORPORA / "A_exif-samples/jpg/gps").glob("*.jpg"))
    images = []
    for path in found:
        with Image.open(path) as im:
            if min(im.size) >= 200:
                images.append(im.convert("RGB"))
    if not images:
        from tests.conftest import picture

        images = [picture((800, 600), seed) for seed in range(10)]
    return images


def make_photos(folder: Path, count: int) -> list[Path]:
    """12 MP JPEGs with camera EXIF (date, GPS), from the sources scaled up."""
    folder.mkdir(parents=True, exist_ok=True)
    base = sources()
    paths = []
    for i in range(count):
        img = base[i % len(base)].resize((4000, 3000), Image.Resampling.BILINEAR)
        if i >= len(base):  # vary the content a little so that no two files are identical
            img.paste((i * 37 % 256, i * 91 % 256, i * 53 % 256), (i % 3900, i % 2900, i % 3900 + 64, i % 2900 + 64))
        exif = piexif.dump({
            "0th": {piexif.ImageIFD.Make: b"NIKON", piexif.ImageIFD.Model: b"D750"},
            "Exif": {piexif.ExifIFD.DateTimeOriginal: f"2024:07:{1 + i % 28:02d} 12:{i % 60:02d}:00".encode()},
            "GPS": {piexif.GPSIFD.GPSLatitudeRef: b"N", piexif.GPSIFD.GPSLatitude: ((43, 1), (28, 1), (1407, 500)),
                    piexif.GPSIFD.GPSLongitudeRef: b"E", piexif.GPSIFD.GPSLongitude: ((11, 1), (53, 1), (6456, 1000))},
        })
        path = folder / f"DSC_{i:05d}.jpg"
        img.save(path, "JPEG", quality=92, exif=exif)
        paths.append(path)
    return paths


def floor_one(path: Path) -> int:
    with open(path, "rb") as fh:
        data = fh.read()
    img = Image.open(io.BytesIO(data))
    img.draft("RGB", (320, 320))
    img.load()
    return img.size[0]


def old_way_one(path: Path) -> str:
    with open(path, "rb") as fh:
        tags = exifread.process_file(fh, details=False)
    img = Image.open(path)
    img.load()
    return str(imagehash.phash(img)) + str(len(tags))


def pooled(fn, paths: list[Path], workers: int) -> float:
    ctx = get_context("forkserver")
    with ctx.Pool(workers) as pool:
        pool.map(abs, range(workers))  # start the workers before timing
        t = time.perf_counter()
        pool.map(fn, paths, chunksize=1)
        return time.perf_counter() - t


def ours(paths: list[Path], workdir: Path, workers: int, vectors: bool, precision: str = "int8") -> float:
    catalog_path = workdir / "bench.db"
    for p in workdir.glob("bench.db*"):
        p.unlink()
    cfg = config_mod.load(env={}, overrides={
        "catalog.path": (str(catalog_path), "bench"),
        "catalog.cache_dir": (str(workdir / "cache"), "bench"),
        "scan.workers": (workers, "bench"),
        "vectors.enabled": (vectors, "bench"),
        "vectors.precision": (precision, "bench"),
    })
    with Catalog(catalog_path) as catalog:
        t = time.perf_counter()
        report = index.index(catalog, cfg, [str(paths[0].parent)])
        elapsed = time.perf_counter() - t
    assert report.indexed == len(paths), report
    return elapsed


def bench_photos(count: int, rounds: int, workdir: Path, workers: int) -> None:
    print(f"making {count} 12 MP JPEGs ...", flush=True)
    paths = make_photos(workdir / "photos", count)
    size_mb = sum(p.stat().st_size for p in paths) / 1e6
    print(f"{count} files, {size_mb:.0f} MB, {workers} worker processes each, {rounds} rounds")
    results: dict[str, list[float]] = {"floor": [], "old": [], "ours": [], "vectors": [], "float32": []}
    for _ in range(rounds):  # interleaved, so that load on the machine hits all of them alike
        results["floor"].append(pooled(floor_one, paths, workers))
        results["old"].append(pooled(old_way_one, paths, workers))
        results["ours"].append(ours(paths, workdir, workers, vectors=False))
        results["vectors"].append(ours(paths, workdir, workers, vectors=True))
        results["float32"].append(ours(paths, workdir, workers, vectors=True, precision="float32"))
    med = {k: statistics.median(v) for k, v in results.items()}
    for name, label in [("floor", "(a) floor: read + draft decode"), ("old", "(b) full decode + phash + exifread"),
                        ("ours", "organizer scan, vectors off"), ("vectors", "organizer scan, vectors on"),
                        ("float32", "organizer scan, vectors on, float32")]:
        print(f"{label:40s} {count / med[name]:8.1f} photos/s   (median {med[name]:.2f} s)")
    print(f"ours vs (b): {med['old'] / med['ours']:.2f}x faster   (goal >= 3x)")
    print(f"ours vs (a): {med['ours'] / med['floor']:.2f}x the floor's time   (goal <= 1.5x)")
    print(f"vectors on vs off: +{(med['vectors'] / med['ours'] - 1) * 100:.0f} % time   (goal <= +25 %)")
    print(f"vectors on in float32 vs off: +{(med['float32'] / med['ours'] - 1) * 100:.0f} % time")
    print(f"vectors on vs (b): {med['old'] / med['vectors']:.2f}x faster")


def bench_rescan(count: int, rounds: int, workdir: Path) -> None:
    root = workdir / "many"
    print(f"\nmaking {count} small files for the rescan ...", flush=True)
    buf = io.BytesIO()
    Image.new("RGB", (16, 16), (200, 100, 50)).save(buf, "JPEG")
    data = buf.getvalue()
    per_dir = 1000
    for i in range(count):
        folder = root / f"{i // per_dir:04d}"
        if i % per_dir == 0:
            folder.mkdir(parents=True, exist_ok=True)
        (folder / f"IMG_{i:06d}.jpg").write_bytes(data)
    cfg = config_mod.load(env={}, overrides={
        "catalog.path": (str(workdir / "rescan.db"), "bench"),
        "catalog.cache_dir": (str(workdir / "cache"), "bench"),
        "vectors.enabled": (False, "bench"),
    })
    with Catalog(cfg.catalog.path) as catalog:
        first = index.index(catalog, cfg, [str(root)])
        assert first.seen == count, first
        ours_t, floor_t = [], []
        for _ in range(rounds):
            t = time.perf_counter()
            n = 0
            for dirpath, _dirs, files in os.walk(root):
                for f in files:
                    os.stat(os.path.join(dirpath, f))
                    n += 1
            floor_t.append(time.perf_counter() - t)
            t = time.perf_counter()
            report = index.index(catalog, cfg, [str(root)])
            ours_t.append(time.perf_counter() - t)
            assert report.unchanged == count and report.indexed == 0, report
    o, f = statistics.median(ours_t), statistics.median(floor_t)
    print(f"rescan of {count} unchanged files: {count / o:,.0f} files/s (median {o:.2f} s; goal >= 20,000 files/s)")
    print(f"bare os.walk + stat:               {count / f:,.0f} files/s (median {f:.2f} s); ours takes {o / f:.2f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--photos", type=int, default=120)
    parser.add_argument("--rescan-files", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--workdir", type=Path, default=None)
    args = parser.parse_args()
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="organizer-bench-"))
    try:
        if args.photos:
            bench_photos(args.photos, args.rounds, workdir, args.workers)
        if args.rescan_files:
            bench_rescan(args.rescan_files, args.rounds, workdir)
    finally:
        if args.workdir is None:
            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
