"""Faces on the face_recognition corpus (../shared/corpora/F_face-recognition, truth.csv): pair
precision and recall of the persons, and the time per photo of detection + descriptors.

    python bench/bench_faces.py [--distance 0.5 0.55 0.6] [--processes 2]

Each photo is decoded and reduced as a scan does (long side 1024), then `extract.faces.detect`
runs on it; the time is the detection + landmarks + descriptors alone, per photo, the models
already loaded, in worker processes as a scan has them (dlib's models are not thread-safe: two
threads sharing them find hundreds of phantom faces). Pairs are over the faces of the photos that
show one known person (a face is labelled by its photo); a pair is right when both faces are in one person and are one person.
Photos with several people (truth "a;b") are clustered but not scored: the corpus does not say
which face is whom.
"""

from __future__ import annotations

import argparse
import csv
import os
import statistics
import time
from concurrent.futures import ProcessPoolExecutor
from itertools import combinations
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps

from organizer.cluster import people
from organizer.extract import faces

CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpora" / "F_face-recognition"


def load(path: Path) -> Image.Image:
    image = ImageOps.exif_transpose(Image.open(path)).convert("RGB")
    image.thumbnail((1024, 1024))
    return image


def timed(image: Image.Image) -> tuple[faces.Faces, float]:
    start = time.perf_counter()
    found = faces.detect(image, 40, 0.0)
    return found, time.perf_counter() - start


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--distance", type=float, nargs="+", default=[0.5, 0.55, 0.6])
    ap.add_argument("--processes", type=int, default=2)
    args = ap.parse_args()
    with open(CORPUS / "truth.csv", newline="") as fh:
        rows = [(CORPUS / r["file"], r["people"].split(";")) for r in csv.DictReader(fh)]
    images = [load(p) for p, _ in rows]
    with ProcessPoolExecutor(args.processes, initializer=faces.detect, initargs=(images[0], 40, 0.0)) as pool:
        list(pool.map(timed, images[:args.processes]))  # every process has its models loaded
        wall = time.perf_counter()
        results = list(pool.map(timed, images))
    wall = time.perf_counter() - wall
    n_faces = sum(len(f) for f, _ in results)
    print(f"{len(images)} photos, {n_faces} faces; per photo: median {statistics.median(t for _, t in results) * 1000:.0f} ms "
          f"(in one process); {args.processes} processes: {len(images) / wall:.2f} photos/s, {n_faces / wall:.2f} faces/s")
    missed = [p.name for (p, names), (f, _) in zip(rows, results) if len(f) < len(names)]
    print(f"photos with fewer faces found than labelled: {missed or 'none'}")
    photo_of = np.array([i for i, (f, _) in enumerate(results) for _ in range(len(f))])
    x = np.concatenate([f.descriptor for f, _ in results])
    label = {i: names[0] for i, (_, names) in enumerate(rows) if len(names) == 1 and names[0] != "?"}
    scored = [j for j, i in enumerate(photo_of) if i in label]
    for distance in args.distance:
        person = people.whispers(x, distance)
        tp = fp = fn = 0
        for a, b in combinations(scored, 2):
            same, together = label[photo_of[a]] == label[photo_of[b]], person[a] == person[b]
            tp += same and together
            fp += together and not same
            fn += same and not together
        print(f"max_distance {distance}: {person.max() + 1} persons; pair precision {tp / max(tp + fp, 1):.3f}, "
              f"recall {tp / max(tp + fn, 1):.3f}")


if __name__ == "__main__":
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    main()
    main()
