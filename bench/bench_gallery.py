"""The gallery's pages at scale, side by side with publishing without them, in one run.

    python -m bench.bench_gallery [--photos 100000] [--rounds 3]

A catalog of N photos (bench_publish's: bursts of ~30 in 300 cities over ten years, 70 %
geotagged), each with a thumbnail in the cache, regrouped; then each round, in alternating order:
(a) plain: publish the album tree alone (`site.build` not called);
(b) ours: publish the tree and the gallery (every album's pages, the index, the thumbnails),
    from nothing (a new output folder), and again over itself (pages compared, none written);
and (c) the daemon's quick update after a few new photos, which renders only the albums it wrote.
The goal: the pages of 100k photos in about 2,000 albums in under 10 s.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path
from unittest import mock

import numpy as np


from bench.bench_publish import add_photos

from organizer import config as config_mod
from organizer import publish, regroup
from organizer.catalog import Catalog
from organizer.publish import site
from organizer.publish.site import SiteReport


def give_thumbnails(catalog: Catalog, cache: Path) -> None:
    """A real (small) JPEG thumbnail file per photo, as the scan leaves in the cache."""
    from tests.conftest import jpeg_bytes

    cache.mkdir(parents=True)
    data = jpeg_bytes((64, 48))
    rows = catalog.conn.execute("SELECT id, digest FROM photos").fetchall()
    with catalog.transaction():
        for pid, digest in rows:
            path = cache / digest[:2] / f"{digest}.jpg"
            path.parent.mkdir(exist_ok=True)
            path.write_bytes(data)
            catalog.conn.execute("UPDATE photos SET thumb = ? WHERE id = ?", (str(path), pid))


def timed(catalog: Catalog, cfg: config_mod.Config, out: Path, **kw: bool) -> tuple[float, float, float, int]:
    """Seconds for a publish, of those the gallery's (`site.build`, timed where publish calls it)
    in wall-clock and CPU time (the CPU's is what a busy shared machine does not change much), and
    the pages it wrote."""
    spent = [0.0, 0.0]
    real = site.build

    def build(*args, **kwargs) -> SiteReport:
        t, c = time.perf_counter(), time.process_time()
        report = real(*args, **kwargs)
        spent[0] += time.perf_counter() - t
        spent[1] += time.process_time() - c
        return report

    t = time.perf_counter()
    with mock.patch.object(site, "build", build):
        report = publish.publish(catalog, cfg, output=str(out), with_map=False, **kw)
    return time.perf_counter() - t, spent[0], spent[1], report.pages_written


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--photos", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    with tempfile.TemporaryDirectory() as t:
        tmp = Path(t)
        cfg = config_mod.load(env={}, overrides={
            "catalog.path": (str(tmp / "catalog.db"), "bench"), "catalog.cache_dir": (str(tmp / "cache"), "bench"),
            "vectors.enabled": (False, "bench")})
        with Catalog(cfg.catalog.path) as catalog:
            print(f"making a catalog of {args.photos:,} photos with thumbnails ...", flush=True)
            add_photos(catalog, rng, 0, args.photos, "/photos")
            give_thumbnails(catalog, tmp / "cache" / "thumbs")
            regroup.regroup(catalog, cfg)
            times: dict[str, list[float]] = {k: [] for k in ("tree", "pages", "pages_cpu", "again", "again_cpu",
                                                              "quick", "quick_cpu")}
            written = {}
            for r in range(args.rounds):
                out = tmp / f"out{r}"
                total, pages, cpu, written["first"] = timed(catalog, cfg, out)
                times["tree"].append(total - pages)
                times["pages"].append(pages)
                times["pages_cpu"].append(cpu)
                _, again, cpu, written["again"] = timed(catalog, cfg, out)
                times["again"].append(again)
                times["again_cpu"].append(cpu)
                when = datetime(2015, 1, 1) + timedelta(days=int(rng.integers(0, 3650)), hours=12)
                new = add_photos(catalog, rng, args.photos + 1000 * r, 20, "/photos", when, (48.85, 2.35))
                regroup.join_groups(catalog, cfg, new)
                _, quick, cpu, written["quick"] = timed(catalog, cfg, out, verify=False)
                times["quick"].append(quick)
                times["quick_cpu"].append(cpu)
                shutil.rmtree(out)
            albums = len(catalog.albums.digests(str(out.resolve())))
    med = {k: statistics.median(v) for k, v in times.items()}
    print(f"{args.photos:,} photos in {albums:,} albums ({args.rounds} rounds, medians), in one publish each:")
    print(f"(a) the album tree alone (publish without pages): {med['tree']:6.2f} s")
    print(f"(b) the gallery (pages, index, thumbnails):       {med['pages']:6.2f} s  ({med['pages_cpu']:.2f} s CPU)  "
          f"goal < 10 s; {written['first']:,} pages written")
    print(f"    the gallery again, nothing changed:           {med['again']:6.2f} s  ({med['again_cpu']:.2f} s CPU)  "
          f"{written['again']} written")
    print(f"(c) the quick update after 20 new photos:         {med['quick']:6.2f} s  ({med['quick_cpu']:.2f} s CPU)  "
          f"{written['quick']} written")
    print(f"publish with pages / without: {(med['tree'] + med['pages']) / med['tree']:.2f}x")


if __name__ == "__main__":
    main()
