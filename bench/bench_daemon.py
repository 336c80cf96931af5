"""The daemon under load: link latency, a large drop, and idle cost.

    python -m bench.bench_daemon [--latency 200] [--drop 10000] [--drop-library 0] [--idle-library 100000]

1. Link latency: photos copied one at a time into a watched folder; for each, the time from the
   file being closed to its Timeline link being present. p50/p95 against the goal (settle + 5 s),
   and against the plain way: a one-shot `organizer organize` of the same folder (what a cron job
   would run, at the very least once per photo batch).
2. A drop of N photos at once: all indexed, none missed; time, and peak memory of the daemon and
   its workers. With --drop-library L, the same drop also into a folder with L photos already
   catalogued (vectors off for both: tiny generated files), side by side: what a large library
   adds to a drop (the album updates between batches read the whole catalog).
3. Idle: a catalog of N photos, the daemon watching, nothing happening: CPU time over 60 s and RSS.
The daemon runs as a real subprocess with the default configuration (vectors on) unless noted.
"""

from __future__ import annotations

import argparse
import io
import os
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent

from tests.conftest import make_jpeg

SETTLE_S = 2.0


def start(tmp: Path, root: Path, env: dict[str, str] | None = None) -> subprocess.Popen:
    full = {**os.environ, "PYTHONPATH": str(ROOT), "XDG_CACHE_HOME": str(tmp / "cache"), **(env or {})}
    proc = subprocess.Popen([sys.executable, "-m", "organizer", "--catalog", str(tmp / "catalog.db"), "run",
                             str(root), "--output", str(tmp / "Albums")], env=full,
                            stdout=subprocess.DEVNULL, stderr=open(tmp / "daemon.log", "w"))
    wait(lambda: (tmp / "Albums" / "map.html").exists(), 600)
    return proc


def wait(check, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.05)
    raise SystemExit("timed out")


def tree_pids(pid: int) -> list[int]:
    out = [pid]
    for child in Path(f"/proc/{pid}/task/{pid}/children").read_text().split():
        out += tree_pids(int(child))
    return out


def rss_mb(pid: int, field: str = "VmRSS") -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    return 0.0


def cpu_seconds(pid: int) -> float:
    parts = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(parts[11]) + int(parts[12])) / os.sysconf("SC_CLK_TCK")


def link_latencies(albums: Path, root: Path, staging: Path, gap_s: float = 0.25) -> list[float]:
    """Copy the photos of `staging` into the watched `root` one at a time, `gap_s` apart; for
    each, the seconds from the file being closed to its Timeline link under `albums`, sorted."""
    timeline = albums / "Timeline"
    seen: dict[str, float] = {}
    done = threading.Event()

    def watch() -> None:
        while not done.is_set():
            now = time.monotonic()
            for month in timeline.glob("*/*") if timeline.is_dir() else ():
                if month.is_dir():  # Timeline/2021/05/, not Timeline/Undated/<a photo>
                    for name in os.listdir(month):
                        seen.setdefault(name, now)
            time.sleep(0.02)

    threading.Thread(target=watch, daemon=True).start()
    closed = {}
    for path in sorted(staging.iterdir()):
        data = path.read_bytes()
        with open(root / path.name, "wb") as fh:
            fh.write(data)
        closed[path.name] = time.monotonic()
        time.sleep(gap_s)
    wait(lambda: all(k in seen for k in closed), 300)
    done.set()
    return sorted(seen[k] - closed[k] for k in closed)


def latency(n: int) -> None:
    with tempfile.TemporaryDirectory() as t:
        tmp = Path(t)
        root = tmp / "Pictures"
        root.mkdir()
        staging = tmp / "staging"
        for i in range(n):
            make_jpeg(staging / f"IMG_{i:04d}.jpg", original=f"2021:05:{1 + i % 28:02d} 12:{i % 60:02d}:00",
                      seed=i, size=(1600, 1200))
        proc = start(tmp, root)
        lat = link_latencies(tmp / "Albums", root, staging)
        proc.terminate()
        proc.wait(30)
        p50, p95 = statistics.median(lat), lat[int(0.95 * (len(lat) - 1))]
        shutil.rmtree(tmp / "Albums")
        for p in tmp.glob("catalog.db*"):
            p.unlink()
        t0 = time.monotonic()
        subprocess.run([sys.executable, "-m", "organizer", "-q", "--catalog", str(tmp / "catalog.db"), "organize",
                        str(root), "--output", str(tmp / "Albums")], env={**os.environ, "PYTHONPATH": str(ROOT),
                       "XDG_CACHE_HOME": str(tmp / "cache")}, check=True, stdout=subprocess.DEVNULL)
        one_shot = time.monotonic() - t0
    goal = SETTLE_S + 5
    print(f"link latency over {n} photos (settle {SETTLE_S:g} s): p50 {p50:.2f} s, p95 {p95:.2f} s "
          f"(goal p95 < {goal:g} s: {p95 / goal:.2f} of it)")
    print(f"  the plain way, one `organize` of the same {n} photos: {one_shot:.1f} s "
          f"({one_shot / p95:.1f}x our p95)")


def tiny_library(root: Path, n: int) -> None:
    """n small distinct JPEGs (random pixels: no two look alike), 1,000 a folder."""
    rng = np.random.default_rng(0)
    for i in range(n):
        folder = root / f"{i // 1000:04d}"
        if i % 1000 == 0:
            folder.mkdir(parents=True)
        buf = io.BytesIO()
        Image.fromarray(rng.integers(0, 256, (24, 32, 3), dtype=np.uint8)).save(buf, "JPEG")
        (folder / f"IMG_{i:06d}.jpg").write_bytes(buf.getvalue())


def drop(n: int, library: int = 0, env: dict[str, str] | None = None) -> tuple[float, int, float]:
    """Seconds to index n photos copied in at once, how many were indexed, peak MB."""
    with tempfile.TemporaryDirectory() as t:
        tmp = Path(t)
        root = tmp / "Pictures"
        (root / "old").mkdir(parents=True)
        make_jpeg(root / "old" / "first.jpg", original="2020:01:01 10:00:00", seed=1)
        if library:
            tiny_library(root / "library", library)
            subprocess.run([sys.executable, "-m", "organizer", "--catalog", str(tmp / "catalog.db"), "scan",
                            str(root)], env={**os.environ, "PYTHONPATH": str(ROOT),
                                             "XDG_CACHE_HOME": str(tmp / "cache"), **(env or {})},
                           check=True, capture_output=True)
        staging = tmp / "staging"
        staging.mkdir()
        for i in range(n):
            buf = io.BytesIO()
            Image.new("RGB", (64, 48), (i % 256, (i // 256) % 256, 90)).save(buf, "JPEG")
            (staging / f"IMG_{i:05d}.jpg").write_bytes(buf.getvalue())
        proc = start(tmp, root, env)
        peak = [0.0]
        stop = threading.Event()

        def sample() -> None:
            while not stop.is_set():
                try:
                    peak[0] = max(peak[0], sum(rss_mb(p) for p in tree_pids(proc.pid)))
                except OSError:
                    pass
                time.sleep(0.2)

        threading.Thread(target=sample, daemon=True).start()
        t0 = time.monotonic()
        shutil.copytree(staging, root / "drop")
        db = sqlite3.connect(f"file:{tmp / 'catalog.db'}?mode=ro", uri=True)
        wait(lambda: db.execute("SELECT count(*) FROM files WHERE state = 'ok'").fetchone()[0] >= n + 1 + library,
             1800)
        took = time.monotonic() - t0
        stop.set()
        count = db.execute("SELECT count(*) FROM files WHERE state = 'ok' AND path LIKE ?",
                           (str(root / "drop") + "/%",)).fetchone()[0]
        proc.terminate()
        proc.wait(30)
    return took, count, peak[0]


def drops(n: int, library: int) -> None:
    took, count, peak = drop(n)
    print(f"{n} photos dropped at once: {count} indexed ({n - count} missed) in {took:.0f} s "
          f"({n / took:.0f} photos/s); peak memory of the daemon and its workers {peak:.0f} MB")
    if library:
        off = {"ORGANIZER_VECTORS_ENABLED": "false"}
        print(f"the same drop, vectors off, into a folder of 1 photo and into one of {library:,} photos:", flush=True)
        small, _, _ = drop(n, 0, off)
        large, count, _ = drop(n, library, off)
        print(f"  {small:.1f} s against {large:.1f} s ({count} indexed): the large library takes "
              f"{large / small:.2f}x the time")


def idle(n: int) -> None:
    with tempfile.TemporaryDirectory() as t:
        tmp = Path(t)
        root = tmp / "Pictures"
        tiny_library(root, n)
        env = {"ORGANIZER_VECTORS_ENABLED": "false"}  # tiny flat pictures: vectors would not change idling
        proc = start(tmp, root, env)
        time.sleep(10)  # let the start-up work finish
        c0, t0 = cpu_seconds(proc.pid), time.monotonic()
        time.sleep(60)
        cpu = (cpu_seconds(proc.pid) - c0) / (time.monotonic() - t0) * 100
        rss = rss_mb(proc.pid)
        proc.terminate()
        proc.wait(30)
    print(f"idle with {n:,} files catalogued: CPU {cpu:.2f} % of a core (goal < 1 %), RSS {rss:.0f} MB "
          f"(goal < 300 MB)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--latency", type=int, default=200)
    parser.add_argument("--drop", type=int, default=10_000)
    parser.add_argument("--drop-library", type=int, default=0)
    parser.add_argument("--idle-library", type=int, default=100_000)
    args = parser.parse_args()
    if args.latency:
        latency(args.latency)
    if args.drop:
        drops(args.drop, args.drop_library)
    if args.idle_library:
        idle(args.idle_library)


if __name__ == "__main__":
    main()
