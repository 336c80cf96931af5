"""The daemon's quick album update on a large library, side by side in one run.

    python -m bench.bench_publish [--photos 100000] [--new 20] [--rounds 5]

A catalog of N photos (ten years of bursts in 300 cities, 70 % geotagged, a few duplicates),
grouped by `regroup` and published once in full. Then, each round, `--new` photos arrive in one
place and time, join the groups (`join_groups`, as the daemon does) and the albums are updated:
(a) the plain way: plan every album and compare every album folder on disk with it
    (`publish(..., with_map=False)`, what the daemon did first);
(b) digests: plan every album and write only those whose links differ from the digests the
    catalog recorded when it last published (`verify=False`, what the daemon did next);
(c) ours: plan only the albums the new photos are in (their groups, months, tags), each whole,
    and write those whose links changed (`verify=False, touched=new`, what the daemon does now).
All three leave the same tree (checked).
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np


from organizer import config as config_mod
from organizer import publish, regroup
from organizer.catalog import Catalog

from tests.conftest import add_photo

START = datetime(2015, 1, 1)


def add_photos(catalog: Catalog, rng: np.random.Generator, first: int, n: int, root: str,
               when: datetime | None = None, where: tuple[float, float] | None = None) -> list[int]:
    """n photos in bursts of ~30 (one day, one city each), or all at `when` and `where`."""
    cities = rng.uniform([35, -10], [60, 30], size=(300, 2))
    ids = []
    with catalog.transaction():
        for i in range(first, first + n):
            if when is None:
                burst = np.random.default_rng(i // 30)
                day = START + timedelta(days=int(burst.integers(0, 3650)))
                city = cities[burst.integers(0, 300)]
                taken = day + timedelta(seconds=int(rng.integers(9 * 3600, 20 * 3600)))
                located = rng.random() < 0.7
                lat, lon = (city + rng.normal(0, 0.003, 2)) if located else (None, None)
            else:
                taken, (lat, lon) = when + timedelta(seconds=i - first), where
            ids.append(add_photo(
                catalog, i, root, os.path.join(root, f"{taken:%Y}", f"IMG_{i:07d}.jpg"),
                format="jpeg", width=4000, height=3000, taken_local=taken.isoformat(), taken_source="exif",
                lat=None if lat is None else float(lat), lon=None if lon is None else float(lon),
                phash=f"{int(rng.integers(0, 2**63)):016x}", dhash=f"{int(rng.integers(0, 2**63)):016x}"))
    return ids


def tree_state(root: Path) -> dict[str, str]:
    state = {}
    for dirpath, _, files in os.walk(root):
        for name in files:
            path = os.path.join(dirpath, name)
            if os.path.islink(path):
                state[os.path.relpath(path, root)] = os.readlink(path)
    return state


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--photos", type=int, default=100_000)
    parser.add_argument("--new", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    with tempfile.TemporaryDirectory() as t:
        tmp = Path(t)
        cfg = config_mod.load(env={}, overrides={
            "catalog.path": (str(tmp / "catalog.db"), "bench"),
            "catalog.cache_dir": (str(tmp / "cache"), "bench"),
            "vectors.enabled": (False, "bench"),
        })
        with Catalog(cfg.catalog.path) as catalog:
            print(f"making a catalog of {args.photos:,} photos ...", flush=True)
            add_photos(catalog, rng, 0, args.photos, "/photos")
            t0 = time.perf_counter()
            regroup.regroup(catalog, cfg)
            t1 = time.perf_counter()
            trees = {"plain": tmp / "plain", "digests": tmp / "digests", "ours": tmp / "ours"}
            for out in trees.values():
                first = publish.publish(catalog, cfg, output=str(out), with_map=False)
            links = sum(len(files) for _, _, files in os.walk(trees["ours"]))
            print(f"regroup {t1 - t0:.1f} s; first publish {first.seconds:.1f} s: {sum(first.albums.values()):,} "
                  f"albums, {links:,} links")
            times: dict[str, list[float]] = {"plain": [], "digests": [], "ours": []}
            added = args.photos
            for r in range(args.rounds):
                when = START + timedelta(days=int(rng.integers(0, 3650)), hours=12)
                new = add_photos(catalog, rng, added, args.new, "/photos", when, (48.85, 2.35))
                added += args.new
                regroup.join_groups(catalog, cfg, new)
                order = ["plain", "digests", "ours"]
                for kind in order[r % 3:] + order[:r % 3]:
                    t = time.perf_counter()
                    publish.publish(catalog, cfg, output=str(trees[kind]), with_map=False,
                                    verify=kind == "plain", touched=set(new) if kind == "ours" else None)
                    times[kind].append(time.perf_counter() - t)
            states = [tree_state(tree) for tree in trees.values()]
            same = states[0] == states[1] == states[2]
    med = {k: statistics.median(v) for k, v in times.items()}
    print(f"{args.new} new photos, then the albums updated ({args.rounds} rounds, medians):")
    print(f"(a) plain:   plan all, compare every album on disk:      {med['plain']:.2f} s")
    print(f"(b) digests: plan all, write the changed albums:         {med['digests']:.2f} s")
    print(f"(c) ours:    plan the touched albums, write the changed: {med['ours']:.3f} s")
    print(f"ours is {med['plain'] / med['ours']:.1f}x faster than (a), {med['digests'] / med['ours']:.1f}x than (b); "
          f"trees identical: {same}")


if __name__ == "__main__":
    main()
