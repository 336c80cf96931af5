"""Duplicates as users mean them, measured on real photos: pair precision and recall, recall per
kind of copy, and the look-alikes (burst frames, other shots of one scene) called duplicates.

    python -m bench.bench_dupes [--library DIR] [--rounds 3] [--imagededup PYTHON | --no-imagededup]

The library (bench/dupes_corpus.py) is built once into DIR from ../shared/corpora (or
$ORGANIZER_CORPORA): every distinct real photo with 20 copies, bursts, same-scene shots, and
truth.csv beside them. Each file is read as the index reads it (bench/dupes_features.py). Side by
side in one run, at pair level:
- organizer today: `duplicates.find_duplicates`, pHash <= 8 and dHash <= 8, complete linkage;
- organizer now: `copies.find_copies` (candidates from hashes, framed-photo hashes and CNN
  neighbours; EXIF and pixel verification; complete linkage), median time of `--rounds`;
- imagededup's PHash, DHash, AHash and WHash at their default threshold (10), run as a subprocess in
  their own virtualenv (default /work/venvs/imagededup/bin/python), never imported here.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import numpy as np


from bench import dupes_corpus
from bench import dupes_features

from organizer.cluster import copies, duplicates, keeper

HERE = Path(__file__).resolve().parent


def photos_of(rows: list[dupes_features.Row]) -> copies.Photos:
    boxes = np.array([r.dupe.box if r.dupe.box else (0.0, 0.0, 1.0, 1.0) for r in rows], dtype=np.float64)
    return copies.Photos(
        ids=np.arange(len(rows), dtype=np.int64),
        phash=np.array([r.phash for r in rows], dtype=np.uint64),
        dhash=np.array([r.dhash for r in rows], dtype=np.uint64),
        region_phash=np.array([int(r.dupe.phash or "0", 16) for r in rows], dtype=np.uint64),
        region_dhash=np.array([int(r.dupe.dhash or "0", 16) for r in rows], dtype=np.uint64),
        framed=np.array([r.dupe.box is not None for r in rows]),
        width=np.array([r.width for r in rows]), height=np.array([r.height for r in rows]),
        file_size=np.array([r.size for r in rows]), chroma=np.array([r.dupe.chroma for r in rows]),
        orientation=np.array([r.orientation for r in rows]), formats=[r.format for r in rows],
        captures=[r.capture for r in rows], raw=np.array([keeper.is_raw(r.format, r.file) for r in rows]),
        paths=[(r.file, int(r.mtime * 1e9)) for r in rows], vectors=np.stack([r.vector for r in rows]), region_boxes=boxes,
        region_thumbnail=np.array([r.dupe.thumbnail is not None for r in rows]))


class Truth:
    def __init__(self, rows: list[dupes_features.Row]) -> None:
        self.rows = rows
        self.index = {r.file: i for i, r in enumerate(rows)}
        by_capture = defaultdict(list)
        for i, r in enumerate(rows):
            by_capture[r.capture_id].append(i)
        self.pairs = {p for members in by_capture.values() for p in itertools.combinations(members, 2)}
        by_scene = defaultdict(list)
        for i, r in enumerate(rows):
            if r.scene:
                by_scene[r.scene].append(i)
        self.distractors = {(a, b): ("burst" if "burst" in (rows[a].transform, rows[b].transform) else "same scene")
                            for members in by_scene.values() for a, b in itertools.combinations(members, 2)
                            if rows[a].capture_id != rows[b].capture_id}

    def score(self, found: set[tuple[int, int]]) -> dict:
        tp = found & self.pairs
        per = {}
        for t in sorted({r.transform for r in self.rows} - {"original", "burst"}):
            mine = [p for p in self.pairs if t in (self.rows[p[0]].transform, self.rows[p[1]].transform)]
            per[t] = sum(p in found for p in mine) / len(mine)
        called = defaultdict(int)
        total = defaultdict(int)
        for pair, kind in self.distractors.items():
            total[kind] += 1
            called[kind] += pair in found
        return {"precision": len(tp) / len(found) if found else 1.0, "recall": len(tp) / len(self.pairs),
                "per": per, "distractors": {k: (called[k], total[k]) for k in total}}


def pairs_of(groups: list[tuple[int, ...]]) -> set[tuple[int, int]]:
    return {tuple(sorted(p)) for g in groups for p in itertools.combinations(g, 2)}


def run_imagededup(python: str, library: Path, truth: Truth) -> dict[str, tuple[dict, float]]:
    done = subprocess.run([python, str(HERE / "imagededup_run.py"), str(library)], capture_output=True, text=True,
                          check=True)
    out = {}
    for method, result in json.loads(done.stdout).items():
        found = {tuple(sorted((truth.index[a], truth.index[b]))) for a, b in result["pairs"]
                 if a in truth.index and b in truth.index}
        out[f"imagededup {method} (<= 10)"] = (truth.score(found), result["seconds"])
    return out


def print_table(results: dict[str, tuple[dict, float]]) -> None:
    kinds = sorted({k for s, _ in results.values() for k in s["distractors"]})
    print("\n| | precision | recall | worst kinds (recall) | " + " | ".join(f"{k} pairs called duplicates" for k in kinds)
          + " | time |")
    print("|---|---|---|---|" + "---|" * len(kinds) + "---|")
    for name, (s, seconds) in results.items():
        worst = ", ".join(f"{t} {v:.2f}" for t, v in sorted(s["per"].items(), key=lambda kv: kv[1])[:4])
        d = " | ".join(f"{s['distractors'][k][0]} of {s['distractors'][k][1]}" for k in kinds)
        print(f"| {name} | {s['precision']:.3f} | {s['recall']:.3f} | {worst} | {d} | {seconds:.2f} s |")
    names = list(results)
    print("\nrecall per kind of copy:\n\n| kind | " + " | ".join(names) + " |")
    print("|---|" + "---|" * len(names))
    for t in results[names[0]][0]["per"]:
        print(f"| {t} | " + " | ".join(f"{results[n][0]['per'][t]:.2f}" for n in names) + " |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--library", type=Path, default=Path(tempfile.gettempdir()) / "organizer-dupes-bench")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--imagededup", default="/work/venvs/imagededup/bin/python")
    parser.add_argument("--no-imagededup", action="store_true")
    args = parser.parse_args()
    if not (args.library / "truth.csv").is_file():
        if not dupes_corpus.CORPORA.is_dir():
            sys.exit(f"{dupes_corpus.CORPORA} is not present (set ORGANIZER_CORPORA)")
        print(f"building the library in {args.library} (once)...", flush=True)
        dupes_corpus.build(args.library)
    rows = dupes_features.extract_all(args.library)
    truth = Truth(rows)
    print(f"{len(rows)} files, {len({r.capture_id for r in rows})} captures, {len(truth.pairs)} duplicate pairs, "
          f"{len(truth.distractors)} distractor pairs")
    photos = photos_of(rows)
    results: dict[str, tuple[dict, float]] = {}

    t = time.perf_counter()
    today = duplicates.find_duplicates(photos.ids, photos.phash, photos.dhash, 8, 8)
    results["organizer today (pHash <= 8 and dHash <= 8)"] = (truth.score(pairs_of(today)), time.perf_counter() - t)

    thumbs = [r.dupe.thumbnail or r.thumbnail for r in rows]
    settings = copies.Settings(threads=args.threads)
    times, groups = [], []
    for _ in range(args.rounds):
        t = time.perf_counter()
        groups = copies.find_copies(photos, lambda ids: [thumbs[i] for i in ids], settings)
        times.append(time.perf_counter() - t)
    results["organizer now (find_copies)"] = (truth.score(pairs_of([g.members for g in groups])),
                                               float(np.median(times)))
    if not args.no_imagededup:
        results.update(run_imagededup(args.imagededup, args.library, truth))
    print_table(results)
    print(f"\nfind_copies: median {np.median(times):.2f} s of {args.rounds} ({args.threads} threads), "
          f"{len(groups)} groups")
    kinds = defaultdict(int)
    for g in groups:
        for c in g.copies:
            kinds[rows[c.id].transform, c.differences] += 1
    print("\nhow copies differ from their keeper (transform: most common description):")
    best: dict[str, tuple[int, tuple[str, ...]]] = {}
    for (t, d), n in kinds.items():
        if n > best.get(t, (0, ()))[0]:
            best[t] = (n, d)
    for t, (n, d) in sorted(best.items()):
        print(f"  {t:14s} {', '.join(d)} ({n})")
    keepers = defaultdict(int)
    for g in groups:
        keepers[rows[g.keeper].transform] += 1
    print("\nkeepers by transform:", dict(sorted(keepers.items(), key=lambda kv: -kv[1])))


if __name__ == "__main__":
    main()
