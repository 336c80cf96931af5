"""pHash + dHash: ours (extract/hashes.py, numpy only) against imagehash, side by side in one run.

    python -m bench.bench_hashes [--rounds 5] [--corpora ../shared/corpora]

On the thumbnails a worker hashes (the real corpora's photos, reduced to 320 px as the indexer
does; generated pictures when the corpora are absent): time per photo for both hashes, and
equality of the hashes (they differ only where the DCT coefficients tie at their median: flat or
synthetic pictures, whose pHash is float noise either way). Then, in fresh processes that already hold numpy and Pillow (as a worker
does), the cost of the first hash: import time plus first call, and the memory it adds (RSS).
Medians over the rounds.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

import imagehash
from PIL import Image


from organizer.extract.hashes import perceptual, thumbnail

CORPORA = Path(__file__).resolve().parent.parent.parent / "shared" / "corpora"
THUMB = 320

FIRST_HASH = """
import time, numpy, PIL.Image
def rss():
    return next(int(l.split()[1]) for l in open('/proc/self/status') if l.startswith('VmRSS')) / 1024
img = PIL.Image.new('RGB', (320, 240), (90, 120, 150))
before, t = rss(), time.perf_counter()
{code}
print(time.perf_counter() - t, rss() - before)
"""
WAYS = {
    # hashes.py alone (the organizer.extract package would import every extractor with it)
    "ours": "import importlib.util as u; s = u.spec_from_file_location('h', 'organizer/extract/hashes.py'); "
            "m = u.module_from_spec(s); s.loader.exec_module(m); m.perceptual(img)",
    "imagehash": "import imagehash; imagehash.phash(img); imagehash.dhash(img)",
}


def thumbnails(corpora: Path, limit: int = 200) -> list[Image.Image]:
    files = sorted(p for p in corpora.rglob("*") if p.suffix.lower() in {".jpg", ".jpeg", ".png"})[:limit]
    out = []
    for path in files:
        try:
            with Image.open(path) as img:
                img.draft("RGB", (THUMB, THUMB))
                out.append(thumbnail(img.convert("RGB"), THUMB))
        except Exception:  # the corpora hold broken files on purpose
            continue
    if not out:  # no corpora: generated pictures
        import numpy as np

        rng = np.random.default_rng(0)
        out = [Image.fromarray(rng.integers(0, 255, (240, 320, 3), dtype=np.uint8)) for _ in range(100)]
    return out


def per_photo(images: list[Image.Image], fn) -> float:
    t = time.perf_counter()
    for img in images:
        fn(img)
    return (time.perf_counter() - t) / len(images)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--corpora", type=Path, default=CORPORA)
    args = parser.parse_args()
    images = thumbnails(args.corpora)
    same = sum(perceptual(i) == (str(imagehash.phash(i)), str(imagehash.dhash(i))) for i in images)
    print(f"{len(images)} thumbnails ({THUMB} px) from {'the corpora' if args.corpora.is_dir() else 'generated pictures'}: "
          f"{same} of {len(images)} get identical hashes both ways")
    ways = {"ours": perceptual, "imagehash": lambda i: (str(imagehash.phash(i)), str(imagehash.dhash(i)))}
    times = {name: [] for name in ways}
    for _ in range(args.rounds):
        for name, fn in ways.items():
            times[name].append(per_photo(images, fn))
    first = {name: [] for name in WAYS}
    root = str(Path(__file__).resolve().parent.parent)
    for _ in range(args.rounds):
        for name, code in WAYS.items():
            out = subprocess.run([sys.executable, "-c", FIRST_HASH.format(code=code)], cwd=root, check=True,
                                 capture_output=True, text=True).stdout.split()
            first[name].append((float(out[0]), float(out[1])))
    print(f"medians of {args.rounds}: {'':10s} per photo   first hash (import + call)   memory added")
    for name in ways:
        seconds = statistics.median(times[name])
        start = statistics.median(s for s, _ in first[name])
        mb = statistics.median(m for _, m in first[name])
        print(f"  {name:10s} {seconds * 1e3:12.3f} ms {start * 1e3:18.0f} ms {mb:20.1f} MB")
    ratio = statistics.median(times["imagehash"]) / statistics.median(times["ours"])
    print(f"  imagehash / ours per photo: {ratio:.2f}x")


if __name__ == "__main__":
    main()
