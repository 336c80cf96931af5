"""Worker start-up: a plain fork against the fork server, side by side, round after round.

    python -m bench.bench_workers [--rounds 5] [--workers 2] [--vectors]

`workers.WorkerPool` forks its workers when the process has one thread (they inherit a warm
interpreter), and forks them from a fork server when it has more (the daemon: watchers, the
encoder's and onnxruntime's threads), because a fork copies the locks other threads hold and a
child can hang on one. Each round starts, in a fresh process, a pool of `--workers` workers until
every one said it is ready, once with one thread (fork) and once with a second thread alive
(forkserver, which includes starting the server); medians, and the ratio.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path


def one(method: str, workers: int, with_vectors: bool) -> float:
    """Seconds to start a ready pool, in this process; `method` decides how many threads it has."""
    from organizer import config as config_mod
    from organizer.catalog import Catalog
    from organizer.extract import vectors
    from organizer.workers import WorkerPool, WorkerSettings

    stop = threading.Event()
    if method == "forkserver":  # a second thread, as the daemon has: the pool uses the fork server
        threading.Thread(target=stop.wait, daemon=True).start()
    with tempfile.TemporaryDirectory() as tmp:
        with Catalog(Path(tmp) / "c.db"):
            pass
        cfg = config_mod.load(env={}, overrides={"vectors.enabled": (with_vectors, "bench"),
                                                 "catalog.cache_dir": (tmp, "bench")})
        spec = vectors.spec(cfg.vectors)
        if spec is not None:
            vectors.graph_path(spec, tmp)  # the model graph is built once, before the pool, as the indexer does
        settings = WorkerSettings(catalog_path=str(Path(tmp) / "c.db"), thumbs_dir=str(Path(tmp) / "thumbs"),
                                  max_bytes=1 << 30, cache_dir=tmp, vectors=spec)
        started = time.perf_counter()
        pool = WorkerPool(workers, settings, timeout_s=60)
        elapsed = time.perf_counter() - started
        method_used = pool.workers[0][0]._start_method
        pool.close()
    stop.set()
    assert method_used == method, (method_used, method)
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--vectors", action="store_true", help="workers load the CNN (onnxruntime) too")
    parser.add_argument("--one", choices=("fork", "forkserver"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(one(args.one, args.workers, args.vectors)))
        return
    times: dict[str, list[float]] = {"fork": [], "forkserver": []}
    for _ in range(args.rounds):
        for method in times:
            cmd = [sys.executable, "-m", "bench.bench_workers", "--one", method, "--workers", str(args.workers)]
            out = subprocess.run(cmd + (["--vectors"] if args.vectors else []), check=True, capture_output=True,
                                 text=True).stdout
            times[method].append(json.loads(out.strip().splitlines()[-1]))
    fork, server = statistics.median(times["fork"]), statistics.median(times["forkserver"])
    print(f"{args.workers} workers{' with the CNN' if args.vectors else ''}, {args.rounds} rounds, medians:")
    print(f"  fork        {fork * 1000:8.1f} ms")
    print(f"  forkserver  {server * 1000:8.1f} ms   ({server / fork:.2f}x fork's)")


if __name__ == "__main__":
    main()
