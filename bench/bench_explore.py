"""Every similar feature x method on labelled sets, side by side in one run.

    python -m bench.bench_explore [--sims 0.5 0.6 0.7 0.8 0.9 0.95] [--scenes 20] [--skip-corpora]

Sets: the corpora's `_truth/visual_groups.csv` (UKBench objects: copies, resizes, greys, flips,
rotations; the skimage photos alone), and four synthetic scene sets made with organizer.demo:
duplicates (a scene and its resized, re-encoded, grey and brightened copies), bursts (4 frames,
the camera moving a little), same scene (3 views: moved, zoomed, other light) and same subject
(one object in 3 different scenes). Each set is indexed by organizer itself (every feature
computed from the one decode), then grouped by every feature x method; threshold methods at
each `--sims` value, the best adjusted Rand index (ARI) reported with its sim (an oracle choice,
the same for every row, so rows compare). Printed per row: ARI per set, pair precision and recall
over all sets at the chosen sims, grouping time per 1,000 photos and peak memory (tracemalloc)
on the largest set, and per feature the extraction time per photo.
"""

from __future__ import annotations

import argparse
import csv
import statistics
import tempfile
import time
import tracemalloc
from itertools import combinations
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps

ROOT = Path(__file__).resolve().parent.parent

from organizer import config as config_mod, demo, index, regroup
from organizer.catalog import Catalog
from organizer.cluster import methods
from organizer.extract import decode, features, visual

CORPORA = ROOT.parent / "shared" / "corpora"
FEATURES = ("cnn", "hog", "grey", "pca", "phash", "orb")
STORED = '["cnn", "hog", "grey", "phash", "orb"]'
THRESHOLDED = ("average", "chain", "agglomerative", "dbscan", "mix")


def _save(path: Path, image: Image.Image, quality: int = 88) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    image.convert("RGB").save(path, "JPEG", quality=quality)


def synthetic(folder: Path, kind: str, scenes: int) -> dict[str, str]:
    """Write one synthetic set; returns file path -> true group."""
    truth: dict[str, str] = {}
    rng = np.random.default_rng(len(kind))
    for s in range(scenes):
        scene = 5000 + 37 * s + len(kind)
        shots: list[Image.Image] = []
        if kind == "duplicates":
            base = demo.render(scene)
            bright = Image.fromarray(np.clip(np.asarray(base, np.float32) * 1.25, 0, 255).astype(np.uint8))
            shots = [base, base.resize((320, 240)), base, ImageOps.grayscale(base), bright]
        elif kind == "bursts":
            shots = [demo.render(scene, demo.View(dx=10.0 * f, dy=3.0 * f, light=1 - 0.02 * f)) for f in range(4)]
        elif kind == "same-scene":
            shots = [demo.render(scene, demo.View(dx=float(rng.uniform(-120, 120)), dy=float(rng.uniform(-60, 60)),
                                                  zoom=float(rng.uniform(0.8, 1.25)), light=float(rng.uniform(0.8, 1.2))))
                     for _ in range(3)]
        else:  # same subject, three other scenes
            shots = [demo.render(scene + 1000 * v, demo.View(subject=s, subject_at=(float(rng.uniform(0.3, 0.7)),
                                                                                    float(rng.uniform(0.4, 0.7)))))
                     for v in range(3)]
        for f, shot in enumerate(shots):
            path = folder / kind / f"{s:03d}_{f}.jpg"
            _save(path, shot, quality=30 if kind == "duplicates" and f == 2 else 88)
            truth[str(path)] = f"{kind}{s}"
    return truth


def corpora(folder: Path) -> dict[str, str]:
    truth: dict[str, str] = {}
    with open(CORPORA / "_truth" / "visual_groups.csv", newline="") as fh:
        for row in csv.DictReader(fh):
            if row["phash"].startswith("EXC"):
                continue  # the corrupt copies: errors, in no group
            source = CORPORA / row["file"]
            target = folder / "corpora" / row["file"].replace("/", "_")
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(source.read_bytes())
            truth[str(target)] = row["group"]
    return truth


def scores(truth: list[str], groups: list[list[int]]) -> tuple[float, int, int, int]:
    """ARI, and pair counts: predicted-and-true, predicted, true."""
    from sklearn.metrics import adjusted_rand_score

    labels = np.arange(len(truth)) + len(groups)
    for g, rows in enumerate(groups):
        labels[rows] = g
    predicted = {(a, b) for rows in groups for a, b in combinations(sorted(rows), 2)}
    true = {(a, b) for a, b in combinations(range(len(truth)), 2) if truth[a] == truth[b]}
    return float(adjusted_rand_score(truth, labels)), len(predicted & true), len(predicted), len(true)


def extraction_ms(paths: list[str]) -> dict[str, float]:
    """Per feature, the median time to compute it from a photo's decode (ms)."""
    cfg = config_mod.load(env={}).similar
    images = [decode.decode(Path(p).read_bytes(), "jpeg", 320).image for p in paths[:60]]
    out = {}
    for name in ("hog", "grey", "phash", "orb"):
        feature, params = features.get(name), visual.params(name, cfg)
        times = []
        for img in images:
            t = time.perf_counter()
            feature.compute(img, params)
            times.append((time.perf_counter() - t) * 1000)
        out[name] = statistics.median(times)
    return out


def rescore_ms(photos: int = 24) -> dict[str, tuple[float, float]]:
    """Per re-scorer, the median ms of a pair whose photos' own work is not done yet (first look),
    and of a pair of photos already looked at (later pairs of the same photos)."""
    from organizer.cluster import rescore

    greys = [np.asarray(demo.render(9000 + i).convert("L").resize((320, 240)), dtype=np.uint8) for i in range(photos)]
    out = {}
    for name in config_mod.RESCORERS:
        scorer = rescore.Scorer((name,), lambda row: greys[row])
        first, later = [], []
        for i in range(0, photos, 2):
            t = time.perf_counter()
            scorer.pair(name, i, i + 1)
            first.append((time.perf_counter() - t) * 1000)
            t = time.perf_counter()
            scorer.pair(name, i, i + 1)  # the photos' own work (keypoints, corners) is cached now
            later.append((time.perf_counter() - t) * 1000)
        out[name] = (statistics.median(first), statistics.median(later))
    return out


def run_set(name: str, truth: dict[str, str], tmp: Path, sims: list[float]) -> dict[tuple[str, str], dict]:
    db = tmp / f"{name}.db"
    env = {"ORGANIZER_SIMILAR_FEATURES": STORED}
    cfg = config_mod.load(env=env, overrides={"catalog.path": (str(db), "bench"),
                                              "catalog.cache_dir": (str(tmp / "cache"), "bench")})
    with Catalog(db) as catalog:
        index.index(catalog, cfg, [str(tmp / name)])
    results: dict[tuple[str, str], dict] = {}
    with Catalog(db, readonly=True) as catalog:
        paths = {f.photo_id: f.path for rows in catalog.files.present().values() for f in rows}
        for feature in FEATURES:
            fcfg = config_mod.load(env={}, overrides={"catalog.path": (str(db), "b"),
                                                      "catalog.cache_dir": (str(tmp / "cache"), "b"),
                                                      "similar.features": ([feature], "b")})
            ids, rows, seconds, _ = methods.aligned(regroup.load(catalog, fcfg, {"visual"}), (feature,))
            labels = [truth.get(paths.get(int(i), ""), f"?{i}") for i in ids]
            for method in config_mod.SIMILAR_METHODS:
                results[(feature, method)] = _best(ids, rows, seconds, labels, method, sims)
    return results


def _best(ids: np.ndarray, rows: dict[str, np.ndarray], seconds: np.ndarray, labels: list[str], method: str,
          sims: list[float]) -> dict:
    best: dict = {}
    for sim in sims if method in THRESHOLDED else [0.8]:
        params = methods.Params(method=method, sim=sim, k_choice="silhouette", alpha=0.3, mix_hours=24.0)
        tracemalloc.start()
        t = time.perf_counter()
        groups = methods.find(ids, rows, params, seconds=seconds)
        took = time.perf_counter() - t
        peak = tracemalloc.get_traced_memory()[1] / 2**20
        tracemalloc.stop()
        row_of = {int(i): r for r, i in enumerate(ids)}
        ari, hit, predicted, true = scores(labels, [[row_of[m] for m in g] for g in groups])
        if not best or ari > best["ari"]:
            best = {"ari": ari, "sim": sim, "hit": hit, "predicted": predicted, "true": true,
                    "per_1000": took * 1000 / max(1, len(labels)), "mb": peak, "n": len(labels)}
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sims", type=float, nargs="+", default=[0.5, 0.6, 0.7, 0.8, 0.9, 0.95])
    parser.add_argument("--scenes", type=int, default=20)
    parser.add_argument("--skip-corpora", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as t:
        tmp = Path(t)
        sets = {kind: synthetic(tmp, kind, args.scenes if kind != "same-subject" else args.scenes // 2)
                for kind in ("duplicates", "bursts", "same-scene", "same-subject")}
        if not args.skip_corpora and CORPORA.is_dir():
            sets = {"corpora": corpora(tmp), **sets}
        ms = extraction_ms([p for truth in sets.values() for p in truth])
        print("extraction, ms per photo (median, from the one decode): "
              + ", ".join(f"{k} {v:.1f}" for k, v in ms.items()), flush=True)
        print("re-scoring, ms per pair (median; first look at both photos / photos seen before): "
              + ", ".join(f"{k} {a:.1f} / {b:.1f}" for k, (a, b) in rescore_ms().items()), flush=True)
        results = {name: run_set(name, truth, tmp, args.sims) for name, truth in sets.items()}
    report(results, sets)


def report(results: dict[str, dict[tuple[str, str], dict]], sets: dict[str, dict[str, str]]) -> None:
    names = list(results)
    print("\nsets: " + ", ".join(f"{n} ({len(sets[n])} photos, {len(set(sets[n].values()))} groups)" for n in names))
    head = " | ".join(f"{n} ARI@sim" for n in names)
    print(f"| feature | method | {head} | pair precision | pair recall | s per 1,000 photos | peak MB |")
    print("|---|---|" + "---|" * (len(names) + 4))
    largest = max(names, key=lambda n: len(sets[n]))
    for key in results[names[0]]:
        cells = [f"{results[n][key]['ari']:.2f}@{results[n][key]['sim']:g}" for n in names]
        hit = sum(results[n][key]["hit"] for n in names)
        predicted = sum(results[n][key]["predicted"] for n in names)
        true = sum(results[n][key]["true"] for n in names)
        big = results[largest][key]
        print(f"| {key[0]} | {key[1]} | " + " | ".join(cells)
              + f" | {hit / max(1, predicted):.2f} | {hit / max(1, true):.2f} | {big['per_1000']:.2f} | {big['mb']:.1f} |")


if __name__ == "__main__":
    main()
