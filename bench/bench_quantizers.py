"""The hand-written QDQ quantizer (organizer/extract/model/onnxgraph.py) against onnxruntime's own
`quantize_static`, side by side in one run.

    python -m bench.bench_quantizers [--rounds 100] [--repeats 5] [--calibration-photos 200]

Both quantize the same float32 graph (batch-norm folded, uint8 RGBX input) and calibrate on the
same photos: the ones bench_vectors.py uses (../shared/corpora outside B_skimage-data, decoded as
the indexer decodes them), MinMax ranges. `quantize_static` runs in QDQ format with int8 weights,
uint8 or int8 activations, per channel or per tensor.

For each: the graph build time (calibration and quantization; then the quantization alone, from
shipped ranges: the hand-written one's shipped JSON, quantize_static's calibration cache), the
model's time per image on 1 and 2 threads (the median of the medians of `--repeats` blocks of
`--rounds`, the models interleaved; in brackets the lowest and highest block), and the quality on the 72
variants of B_skimage-data against the float32 model: the cosine to its float32 vector, the recall
of each variant's 5 float32 nearest neighbours, and the quality test of tests/test_vectors.py.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

from bench.bench_vectors import SKIMAGE, calibration_pixels, quality

from organizer.extract import vectors
from organizer.extract.model import cache, onnxgraph, pth


def _reader(batches: list[np.ndarray]) -> object:
    from onnxruntime.quantization import CalibrationDataReader

    class Reader(CalibrationDataReader):
        def __init__(self) -> None:
            self.batches = iter(batches)

        def get_next(self) -> dict[str, np.ndarray] | None:
            batch = next(self.batches, None)
            return None if batch is None else {"pixels": batch}

    return Reader()


def build_hand(state: dict, batches: list[np.ndarray], out: Path) -> tuple[float, float]:
    """Seconds to calibrate and build, and to build from the shipped ranges."""
    t = time.perf_counter()
    out.write_bytes(onnxgraph.build_onnx(state, onnxgraph.calibrate(state, batches)))
    full = time.perf_counter() - t
    t = time.perf_counter()
    onnxgraph.build_onnx(state, cache.int8_ranges()[0])
    return full, time.perf_counter() - t


def build_ort(state: dict, batches: list[np.ndarray], out: Path, activations: str, per_channel: bool,
              work: Path) -> tuple[float, float]:
    """The same two times for quantize_static (the second from its calibration cache)."""
    import onnx
    from onnxruntime.quantization import QuantFormat, QuantType, quantize_static

    kinds = {"uint8": QuantType.QUInt8, "int8": QuantType.QInt8}
    calib = work / f"{out.stem}.calibration.json"
    times = []
    for reader in (_reader(batches), None):  # calibrate, then from the cache alone
        t = time.perf_counter()
        floats = onnx.load_from_string(onnxgraph.build_onnx(state))
        quantize_static(floats, out, reader, quant_format=QuantFormat.QDQ, per_channel=per_channel,
                        activation_type=kinds[activations], weight_type=QuantType.QInt8,
                        calibration_cache_path=calib)
        times.append(time.perf_counter() - t)
    return times[0], times[1]


def timings(models: dict[str, vectors.Model], rounds: int) -> dict[str, float]:
    """Milliseconds per image, median of `rounds`, the models interleaved."""
    with Image.open(SKIMAGE / "chelsea.png") as im:
        pixels = next(iter(models.values())).batch([im])
    times: dict[str, list[float]] = {n: [] for n in models}
    for _ in range(rounds):
        for n, m in models.items():
            t = time.perf_counter()
            m.session.run(["features"], {m.input: pixels})
            times[n].append(time.perf_counter() - t)
    return {n: statistics.median(v) * 1000 for n, v in times.items()}


def recall(reference: np.ndarray, matrix: np.ndarray, k: int = 5) -> float:
    """The share of each row's k nearest neighbours by `reference` found among its k by `matrix`."""
    def nearest(m: np.ndarray) -> np.ndarray:
        sim = m @ m.T
        np.fill_diagonal(sim, -np.inf)
        return np.argsort(-sim, axis=1)[:, :k]

    ref, got = nearest(reference), nearest(matrix)
    return float(np.mean([len(set(a) & set(b)) / k for a, b in zip(ref, got)]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=100)
    parser.add_argument("--repeats", type=int, default=5, help="blocks of --rounds, for the spread")
    parser.add_argument("--calibration-photos", type=int, default=200)
    args = parser.parse_args()
    if not SKIMAGE.is_dir():
        sys.exit(f"{SKIMAGE.parent} is not present")
    batches = calibration_pixels(args.calibration_photos)
    state = pth.read_state_dict(pth.builtin_weights())
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        (work / "float32.onnx").write_bytes(onnxgraph.build_onnx(state))
        builds = {"hand-written (per channel, uint8)": build_hand(state, batches, work / "hand.onnx")}
        files = {"float32": work / "float32.onnx", "hand-written (per channel, uint8)": work / "hand.onnx"}
        for activations in ("uint8", "int8"):
            for per_channel in (True, False):
                name = f"quantize_static ({'per channel' if per_channel else 'per tensor'}, {activations})"
                out = work / f"ort-{activations}-{int(per_channel)}.onnx"
                builds[name] = build_ort(state, batches, out, activations, per_channel, work)
                files[name] = out
        report(files, builds, args.rounds, args.repeats, len(batches))


def report(files: dict[str, Path], builds: dict[str, tuple[float, float]], rounds: int, repeats: int,
           photos: int) -> None:
    cache_dir = next(iter(files.values())).parent
    ms = {}
    for threads in (1, 2):
        models = {n: vectors.Model(vectors.ModelSpec(model=str(p)), cache_dir, threads=threads)
                  for n, p in files.items()}
        blocks = [timings(models, rounds) for _ in range(repeats)]
        ms[threads] = {n: f"{statistics.median(b[n] for b in blocks):.2f} ({min(b[n] for b in blocks):.2f}-"
                          f"{max(b[n] for b in blocks):.2f})" for n in models}
    results = {n: quality(m) for n, m in models.items()}
    reference = results["float32"][0]
    print(f"calibration: {photos} photos; times: median of {repeats} blocks of {rounds}, interleaved")
    print("| | build (calibrate + quantize) | build from shipped ranges | ms/image, 1 thread | ms/image, 2 threads "
          "| cosine to float32, median / min | recall@5 of float32's neighbours | nearest right | margin |")
    print("|---|---|---|---|---|---|---|---|---|")
    for n, (matrix, q) in results.items():
        cos = (matrix * reference).sum(axis=1)
        build = f"{builds[n][0]:.2f} s | {builds[n][1]:.2f} s" if n in builds else "- | -"
        print(f"| {n} | {build} | {ms[1][n]} | {ms[2][n]} | {np.median(cos):.4f} / {cos.min():.4f} | "
              f"{recall(reference, matrix):.3f} | {q['nn_right']}/{q['variants']} | {q['same_min'] - q['other_max']:.4f} |")


if __name__ == "__main__":
    main()
