"""`organizer similar FILE` on a large catalog: memory and time, ours against the plain way.

    python -m bench.bench_similar [--photos 100000] [--rounds 3]

A catalog of N photos with 1280-d float16 vectors (random, plus planted near copies). Each query
runs in a fresh process (spawn), side by side:
(a) plain: load every vector into one matrix, then the cosine top-k (what `similar` did);
(b) ours: `regroup.similar_to`, streaming the vectors in batches of `regroup.SIMILAR_BATCH`.
Peak memory is the process's VmHWM minus its RSS before the query; both must return the same
photos (checked).
"""

from __future__ import annotations

import argparse
import multiprocessing
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np


from organizer import config as config_mod
from organizer import regroup
from organizer.catalog import Catalog
from organizer.cluster import similar
from organizer.extract import vectors

from tests.conftest import add_photo

K = 10


def status_mb(field: str) -> float:
    """VmRSS (now) or VmHWM (peak) of this process image. Not ru_maxrss: across exec it keeps the
    peak of the process that forked us."""
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    return 0.0


def query(kind: str, db: str, out: multiprocessing.Queue) -> None:
    cfg = config_mod.load(env={}, overrides={"catalog.path": (db, "bench")})
    model = vectors.model_id(vectors.ModelSpec())
    with Catalog(db, readonly=True) as catalog:
        base = status_mb("VmRSS")
        t = time.perf_counter()
        if kind == "plain":
            ids, blobs = catalog.photos.vectors(model)
            matrix = np.frombuffer(b"".join(blobs), dtype=np.float16).reshape(len(ids), -1)
            row = ids.index(1)
            found = [ids[i] for i, _ in similar.nearest(matrix[row], matrix, K, exclude=row)]
        else:
            found = [r["photo"] for r in regroup.similar_to(catalog, cfg, "/photos/0.jpg", K)]
        seconds = time.perf_counter() - t
    peak = status_mb("VmHWM")
    out.put((seconds, peak - base, found))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--photos", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    model = vectors.model_id(vectors.ModelSpec())
    with tempfile.TemporaryDirectory() as t:
        db = str(Path(t) / "catalog.db")
        print(f"making a catalog of {args.photos:,} photos with vectors ...", flush=True)
        with Catalog(db) as catalog, catalog.transaction():
            for start in range(0, args.photos, 10_000):
                block = rng.normal(size=(min(10_000, args.photos - start), 1280)).astype(np.float32)
                if start == 0:
                    block[1:6] = block[0] + rng.normal(0, 0.05, size=(5, 1280))
                block = (block / np.linalg.norm(block, axis=1, keepdims=True)).astype(np.float16)
                for j, vec in enumerate(block):
                    i = start + j
                    catalog.photos.put_vector(add_photo(catalog, i, "/photos", f"/photos/{i}.jpg"), model, vec.tobytes())
        ctx = multiprocessing.get_context("spawn")
        results: dict[str, list[tuple[float, float, list[int]]]] = {"plain": [], "ours": []}
        for r in range(args.rounds):
            for kind in ("plain", "ours") if r % 2 == 0 else ("ours", "plain"):
                out: multiprocessing.Queue = ctx.Queue()
                proc = ctx.Process(target=query, args=(kind, db, out))
                proc.start()
                results[kind].append(out.get())
                proc.join()
    same = all(a[2] == b[2] for a, b in zip(results["plain"], results["ours"]))
    med = {k: (statistics.median(x[0] for x in v), statistics.median(x[1] for x in v)) for k, v in results.items()}
    print(f"{args.photos:,} vectors, top {K}, {args.rounds} rounds, medians (fresh process each):")
    print(f"(a) plain: load all, then top-k: {med['plain'][0]:.2f} s, {med['plain'][1]:.0f} MB more memory")
    print(f"(b) ours:  streamed in batches:  {med['ours'][0]:.2f} s, {med['ours'][1]:.0f} MB more memory")
    print(f"ours uses {med['plain'][1] / max(med['ours'][1], 1):.1f}x less memory, "
          f"{med['plain'][0] / med['ours'][0]:.2f}x the speed; same results: {same}")


if __name__ == "__main__":
    main()
