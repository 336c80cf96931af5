"""The built-in model in int8 against float32, side by side in one run, and the int8 calibration.

    python -m bench.bench_vectors [--rounds 200] [--write]

Calibration: the float32 graph runs on real photos of ../shared/corpora, every folder except
B_skimage-data (kept out to judge quality), decoded as the indexer decodes them; the range of each
activation it quantizes is recorded. `--write` stores them in organizer/extract/model/ as the shipped
ranges (only for new weights or a new graph).

Then, for both precisions: the model's time per image on one thread (medians, interleaved), the
agreement of int8 with float32 vectors, and the quality test of tests/test_vectors.py (six variants
of every B_skimage-data photo: nearest-neighbour accuracy, the closest different-source pair and the
farthest same-source pair).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image


from organizer.extract import decode, vectors
from organizer.extract.model import cache, onnxgraph, pth

from tests.vectorkit import separation, variant_vectors

CORPORA = Path(__file__).resolve().parent.parent.parent / "shared" / "corpora"
SKIMAGE = CORPORA / "B_skimage-data"


def calibration_pixels(limit: int) -> list[np.ndarray]:
    """The model's input for photos of the corpora the indexer can decode, outside B_skimage-data,
    in a stable order, decoded as the indexer decodes them."""
    spec = vectors.ModelSpec()
    found = []
    for path in sorted(CORPORA.rglob("*")):
        if SKIMAGE in path.parents or not path.is_file() or path.stat().st_size > 30_000_000:
            continue
        data = path.read_bytes()
        fmt = decode.sniff(data[:64])
        if fmt is None:
            continue
        try:
            image = decode.decode(data, fmt, min_side=320).image
        except Exception:  # broken files are in the corpora on purpose
            continue
        found.append(vectors.pixels(image, spec)[None])
    step = max(1, len(found) // limit)
    return found[::step][:limit]


def calibrate(limit: int) -> tuple[dict[str, tuple[float, float]], int]:
    batches = calibration_pixels(limit)
    state = pth.read_state_dict(pth.builtin_weights())
    return onnxgraph.calibrate(state, batches), len(batches)


def quality(model: vectors.Model) -> tuple[np.ndarray, dict[str, float]]:
    sources, matrix = variant_vectors(model)
    right, same, other = separation(sources, matrix)
    return matrix, {"nn_right": right, "variants": len(sources), "same_min": same, "other_max": other}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=200)
    parser.add_argument("--calibration-photos", type=int, default=200)
    parser.add_argument("--write", action="store_true", help="store the ranges as the shipped ones")
    args = parser.parse_args()
    if not SKIMAGE.is_dir():
        sys.exit(f"{CORPORA} is not present")
    ranges, used = calibrate(args.calibration_photos)
    print(f"calibrated {len(ranges)} activations on {used} photos of the corpora")
    if args.write:
        head = {"weights_sha256": pth.PTH_SHA256, "graph_version": cache.GRAPH_VERSION,
                "calibration": f"{used} photos of ../shared/corpora outside B_skimage-data (bench/bench_vectors.py)"}
        lines = [f" {json.dumps(k)}: {json.dumps(v)}," for k, v in head.items()]
        lines += [' "ranges": {'] + [f"  {json.dumps(k)}: [{lo:.6g}, {hi:.6g}]," for k, (lo, hi) in ranges.items()]
        lines[-1] = lines[-1].rstrip(",")
        cache.RANGES_FILE.write_text("{\n" + "\n".join(lines) + "\n }\n}\n")
        print(f"wrote {cache.RANGES_FILE}")
    shipped, _ = cache.int8_ranges()
    drift = max(abs(a - b) for k in ranges for a, b in zip(ranges[k], shipped[k]))
    print(f"largest difference to the shipped ranges: {drift:.2e}")

    with tempfile.TemporaryDirectory() as cache:
        models = {p: vectors.Model(vectors.ModelSpec(precision=p), cache) for p in ("float32", "int8")}
        with Image.open(SKIMAGE / "chelsea.png") as im:
            pixels = models["int8"].batch([im])
        times: dict[str, list[float]] = {p: [] for p in models}
        for _ in range(args.rounds):
            for p, m in models.items():
                t = time.perf_counter()
                m.session.run(["features"], {m.input: pixels})
                times[p].append(time.perf_counter() - t)
        med = {p: statistics.median(v) * 1000 for p, v in times.items()}
        for p in models:
            print(f"{p:8s} model alone, 1 thread: {med[p]:.2f} ms/image (median of {args.rounds})")
        print(f"int8 is {med['float32'] / med['int8']:.2f}x faster")
        results = {p: quality(m) for p, m in models.items()}
    cos = (results["int8"][0] * results["float32"][0]).sum(axis=1)
    print(f"int8 vs float32 vectors of the {len(cos)} variants: cosine median {np.median(cos):.4f}, min {cos.min():.4f}")
    for p, (_, q) in results.items():
        print(f"{p:8s} nearest neighbour from its source: {q['nn_right']}/{q['variants']}; same-source min "
              f"{q['same_min']:.4f} > different-source max {q['other_max']:.4f}: margin {q['same_min'] - q['other_max']:.4f}, "
              f"threshold {(q['same_min'] + q['other_max']) / 2:.3f}")


if __name__ == "__main__":
    main()
