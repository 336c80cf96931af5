"""Duplicate detection quality on generated transforms of the corpora's photos.

    python bench/bench_dupes.py

Each source photo (skimage data, UKBench bases, the Arezzo GPS set, phone photos) gets variants:
half size, JPEG quality 25, a 2.5 % crop, brightness x1.2, grey. Pairs of one source are true
duplicates; pairs of different sources are not. Printed side by side, at pair level:
- ours: `find_duplicates` on the hashes `organizer scan` stores (draft-decoded image), with the
  configured thresholds (pHash <= 8 and dHash <= 8, complete linkage);
- the plain way (imagededup's default): imagehash pHash of the full image, distance <= 10, pairs.
Also prints the distance distributions used to choose the defaults (docs/clustering.md).
"""

from __future__ import annotations

import io
import itertools
import sys
from datetime import datetime
from pathlib import Path

import imagehash
import numpy as np
from PIL import Image, ImageEnhance

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from organizer.cluster.duplicates import find_duplicates, hex_to_u64  # noqa: E402
from organizer.config import DuplicatesConfig  # noqa: E402
from organizer.extract import extract  # noqa: E402

CORPORA = Path(__file__).resolve().parent.parent.parent / "shared" / "corpora"


def sources() -> list[Path]:
    found = sorted((CORPORA / "B_skimage-data").glob("*.png"))
    found += sorted((CORPORA / "B_imagededup/tests/data/base_images").glob("*.jpg"))
    found += sorted((CORPORA / "A_exif-samples/jpg/gps").glob("*.jpg"))
    found += sorted(p for p in (CORPORA / "AC_lychee").glob("*.jp*g"))
    return found


def encode(img: Image.Image, quality: int = 90) -> bytes:
    out = io.BytesIO()
    img.convert("RGB").save(out, "JPEG", quality=quality)
    return out.getvalue()


def variants(img: Image.Image) -> dict[str, bytes]:
    w, h = img.size
    c = 0.025
    return {
        "original": encode(img),
        "half": encode(img.resize((w // 2, h // 2), Image.Resampling.LANCZOS)),
        "quality25": encode(img, 25),
        "crop2.5%": encode(img.crop((int(w * c), int(h * c), int(w * (1 - c)), int(h * (1 - c))))),
        "bright1.2": encode(ImageEnhance.Brightness(img).enhance(1.2)),
        "grey": encode(img.convert("L")),
    }


def score(groups: list[tuple[int, ...]], source_of: list[int]) -> tuple[float, float]:
    found = {tuple(sorted(p)) for g in groups for p in itertools.combinations(g, 2)}
    truth = {(i, j) for i, j in itertools.combinations(range(len(source_of)), 2) if source_of[i] == source_of[j]}
    tp = len(found & truth)
    return (tp / len(found) if found else 1.0), tp / len(truth)


def main() -> None:
    if not CORPORA.is_dir():
        sys.exit("../shared/corpora is not present")
    cfg = DuplicatesConfig()
    source_of, kinds, ours_p, ours_d, plain = [], [], [], [], []
    for s, path in enumerate(sources()):
        with Image.open(path) as im:
            img = im.convert("RGB")
        for kind, data in variants(img).items():
            facts = extract(data, f"{path.stem}-{kind}.jpg", 0.0, datetime.now())
            source_of.append(s)
            kinds.append(kind)
            ours_p.append(facts.phash)
            ours_d.append(facts.dhash)
            with Image.open(io.BytesIO(data)) as full:
                plain.append(int(str(imagehash.phash(full)), 16))
    n = len(source_of)
    ids = np.arange(n)
    ph, dh = hex_to_u64(ours_p), hex_to_u64(ours_d)
    ours = find_duplicates(ids, ph, dh, cfg.phash_distance, cfg.dhash_distance)
    plain_pairs = [(i, j) for i, j in itertools.combinations(range(n), 2) if bin(plain[i] ^ plain[j]).count("1") <= 10]
    p1, r1 = score(ours, source_of)
    p2, r2 = score(plain_pairs, source_of)
    print(f"{len(set(source_of))} sources x {n // len(set(source_of))} variants = {n} photos")
    print(f"ours  (pHash<={cfg.phash_distance} & dHash<={cfg.dhash_distance}, complete linkage): "
          f"precision {p1:.3f}  recall {r1:.3f}")
    print(f"plain (imagededup default: pHash<=10, pairs):            precision {p2:.3f}  recall {r2:.3f}")
    print("\nrecall by transform (variant paired with its original):")
    group_of = {m: gi for gi, g in enumerate(ours) for m in g}
    for kind in sorted(set(kinds) - {"original"}):
        idx = [i for i in range(n) if kinds[i] == kind]
        hit = sum(1 for i in idx if i in group_of and group_of[i] == group_of.get(_original(i, kinds)))
        print(f"  {kind:10s} {hit}/{len(idx)}")


def _original(i: int, kinds: list[str]) -> int:
    while kinds[i] != "original":
        i -= 1
    return i


if __name__ == "__main__":
    main()
