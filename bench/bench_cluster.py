"""Clustering at scale, on synthetic libraries with planted truth.

    python -m bench.bench_cluster [--sizes 100000 1000000] [--plain-size 20000]
    python -m bench.bench_cluster --ann [--sizes 100000 1000000] [--rounds 3] [--libraries ...]

A library: ten years of days with bursts of photos (events), 30 % of GPS positions at one home spot,
trips around the world, 20 % without GPS; 2 % of photos have 1-3 planted near copies (pHash and
dHash a few bits away). `copies` is the duplicates finder that verifies candidates by EXIF and
pixels (bench/dupes_scale.py gives each photo EXIF and a thumbnail). Each kind runs in its own process so its peak memory (max RSS) is its own.
Then, side by side at a size the plain way can finish: DBSCAN on raw coordinates and an all-pairs
Hamming comparison, against ours, as time ratios. Precision and recall are pair-level against the
planted truth.

--ann compares nearest-neighbour libraries on the vectors `similar.neighbours` indexes (the
library's CNN-like vectors, PCA-reduced as it does): build time, query time (every row's k+1
nearest), peak memory above the vectors, and recall@k against exact neighbours on a sample of
rows. Each library runs in its own forked process, round after round side by side; medians.
Candidates not installed are skipped: pip install hnswlib faiss-cpu usearch voyager pynndescent ngt
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import resource
import time
from pathlib import Path

import numpy as np



from organizer.cluster import copies, duplicates, events, places, similar

GAP_S = 4 * 3600


def library(n: int, seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    base = int(n / 1.04)  # planted copies fill the rest
    # time: sessions (true events) of 3-60 photos, seconds to minutes apart, 6 h or more between
    sizes, total = [], 0
    while total < base:
        sizes.append(int(rng.integers(3, 60)))
        total += sizes[-1]
    sizes[-1] -= total - base
    if sizes[-1] < 3:
        sizes[-2] += sizes.pop()
    session = np.repeat(np.arange(len(sizes)), sizes)
    starts = np.cumsum(rng.integers(6 * 3600, 20 * 86400, len(sizes)))
    within = np.concatenate([np.cumsum(rng.integers(1, 900, s)) for s in sizes])
    seconds = (starts[session] + within - within[np.r_[0, np.cumsum(sizes)[:-1]]][session]).astype(np.int64)
    seconds += 1_200_000_000
    # place: a session is at home (30 %), on a trip (50 %) or without GPS (20 %)
    kind = rng.choice(3, size=len(sizes), p=[0.3, 0.5, 0.2])
    trip_centres = np.stack([rng.uniform(-50, 65, len(sizes)), rng.uniform(-170, 170, len(sizes))], axis=1)
    lat = np.full(base, np.nan)
    lon = np.full(base, np.nan)
    home = kind[session] == 0
    lat[home] = 52.52 + rng.normal(0, 1e-5, home.sum())
    lon[home] = 13.405 + rng.normal(0, 1e-5, home.sum())
    trip = kind[session] == 1
    lat[trip] = trip_centres[session[trip], 0] + rng.normal(0, 0.003, trip.sum())
    lon[trip] = trip_centres[session[trip], 1] + rng.normal(0, 0.003, trip.sum())
    phash = rng.integers(0, 2**63, base, dtype=np.int64).astype(np.uint64) * np.uint64(2) + rng.integers(
        0, 2, base).astype(np.uint64)
    dhash = rng.integers(0, 2**63, base, dtype=np.int64).astype(np.uint64) * np.uint64(2) + rng.integers(
        0, 2, base).astype(np.uint64)
    # planted near copies
    dup_of = np.arange(base)
    originals = rng.choice(base, size=n - base, replace=False)
    extra = []
    for o in originals:
        for _ in range(int(rng.integers(1, 3))):
            if len(extra) >= n - base:
                break
            extra.append(o)
    extra = np.array(extra[: n - base], dtype=np.int64)

    def flip(h: np.ndarray, bits: int) -> np.ndarray:
        out = h.copy()
        for i in range(len(out)):
            for b in rng.choice(64, size=bits, replace=False):
                out[i] ^= np.uint64(1) << np.uint64(int(b))
        return out

    total = base + len(extra)
    vectors, similar_to = _vectors(rng, total)
    return {
        "vectors": vectors,
        "similar_to": similar_to,
        "ids": np.arange(total, dtype=np.int64),
        "seconds": np.concatenate([seconds, seconds[extra] + 1]),
        "session": np.concatenate([session, session[extra]]),
        "lat": np.concatenate([lat, lat[extra]]),
        "lon": np.concatenate([lon, lon[extra]]),
        "phash": np.concatenate([phash, flip(phash[extra], 3)]),
        "dhash": np.concatenate([dhash, flip(dhash[extra], 3)]),
        "dup_of": np.concatenate([dup_of, extra]),
    }


def _vectors(rng: np.random.Generator, n: int, d: int = 1280) -> tuple[np.ndarray, np.ndarray]:
    """CNN-like vectors: 2,000 topics (unrelated photos of one topic at cosine ~0.5), and planted
    similar sets of 3-5 shots of one scene (cosine ~0.9 within a set). Float16, in chunks."""
    topics = rng.normal(size=(2000, d)).astype(np.float32)
    topics /= np.linalg.norm(topics, axis=1, keepdims=True)
    label = np.arange(n)  # truth: a planted set shares its first member's label
    planted = int(n * 0.1)
    start = 0
    while start < planted:
        size = int(rng.integers(3, 6))
        label[start:start + size] = start
        start += size
    out = np.empty((n, d), dtype=np.float16)
    for i in range(0, n, 50_000):
        rows = np.arange(i, min(n, i + 50_000))
        topic = topics[label[rows] % 2000]
        scene = rng.normal(size=(len(rows), d)).astype(np.float32) / np.sqrt(d)
        scene = scene[np.searchsorted(np.unique(label[rows]), label[rows])]  # one scene per set
        shot = rng.normal(size=(len(rows), d)).astype(np.float32) / np.sqrt(d) * 0.33
        v = topic + scene + shot
        out[rows] = (v / np.linalg.norm(v, axis=1, keepdims=True)).astype(np.float16)
    return out, label


def pair_scores(groups: list[tuple[int, ...]], labels: np.ndarray) -> tuple[float, float]:
    """Pair-level precision and recall of `groups` against `labels` (same label = same truth group)."""
    found_pairs = sum(len(g) * (len(g) - 1) // 2 for g in groups)
    tp = 0
    for g in groups:
        _, counts = np.unique(labels[list(g)], return_counts=True)
        tp += int((counts * (counts - 1) // 2).sum())
    _, counts = np.unique(labels, return_counts=True)
    truth = int((counts * (counts - 1) // 2).sum())
    return (tp / found_pairs if found_pairs else 1.0), (tp / truth if truth else 1.0)


def run_kind(kind: str, lib: dict[str, np.ndarray], queue: multiprocessing.Queue) -> None:
    if kind == "copies":  # its inputs (EXIF, thumbnails) are made before the clock starts
        from bench import dupes_scale

        photos, pixels = dupes_scale.photos(lib)
        settings = copies.Settings(threads=multiprocessing.cpu_count())
        known: dict = {}
    t = time.perf_counter()
    shared = 0.0  # of `elapsed`, what a regroup computes once for several kinds
    if kind == "copies":
        # the CNN neighbours are timed apart: a regroup computes them once for similar and copies
        near = similar.neighbours(lib["vectors"], settings.neighbours, settings.threads)
        shared = time.perf_counter() - t
        found = [g.members for g in copies.find_copies(photos, pixels, settings, near=near, known=known)]
        truth = lib["dup_of"]
        again = time.perf_counter()
        copies.find_copies(photos, pixels, settings, near=near, known=known)
        print(f"  (copies again, every pair measured before: {time.perf_counter() - again:.1f} s; "
              f"{len(known):,} pairs measured)", flush=True)
    elif kind == "events":
        found = [e.members for e in events.find_events(lib["ids"], lib["seconds"], lib["lat"], lib["lon"], GAP_S, 3)]
        truth = lib["session"]
    elif kind == "places":
        g = ~np.isnan(lib["lat"])
        found = [p.members for p in places.find_places(lib["ids"][g], lib["lat"][g], lib["lon"][g], 1000, 3)]
        truth = None
    elif kind == "duplicates":
        found = duplicates.find_duplicates(lib["ids"], lib["phash"], lib["dhash"], 8, 8)
        truth = lib["dup_of"]
    else:
        found = similar.find_similar(lib["ids"], lib["vectors"], 0.8, 10, 2, threads=multiprocessing.cpu_count())
        truth = lib["similar_to"]
    elapsed = time.perf_counter() - t
    scores = pair_scores(found, truth) if truth is not None else (float("nan"), float("nan"))
    queue.put((elapsed, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, len(found), *scores, shared))


def in_child(target, name: str, *args) -> tuple:
    """target(name, *args, queue) in a forked process (its memory its own): what it put in the queue."""
    ctx = multiprocessing.get_context("fork")
    queue = ctx.Queue()
    proc = ctx.Process(target=target, args=(name, *args, queue))
    proc.start()
    while proc.is_alive() or not queue.empty():
        try:
            result = queue.get(timeout=1)
        except Exception:  # queue.Empty: still working
            continue
        proc.join()
        return result
    raise RuntimeError(f"{name}: the child process failed (exit code {proc.exitcode})")


def plain_places(lat: np.ndarray, lon: np.ndarray) -> None:
    from sklearn.cluster import DBSCAN

    g = ~np.isnan(lat)
    DBSCAN(eps=1000 / places.EARTH_RADIUS_M, min_samples=3, metric="haversine", algorithm="ball_tree").fit(
        np.radians(np.stack([lat[g], lon[g]], axis=1)))


def plain_duplicates(phash: np.ndarray, dhash: np.ndarray) -> None:
    for start in range(0, len(phash), 2000):
        block = slice(start, start + 2000)
        close = (duplicates.popcount(phash[block, None] ^ phash[None, :]) <= 8) & (
            duplicates.popcount(dhash[block, None] ^ dhash[None, :]) <= 8)
        np.nonzero(close)


def plain_similar(vectors: np.ndarray) -> None:
    from sklearn.cluster import AgglomerativeClustering

    AgglomerativeClustering(n_clusters=None, metric="cosine", linkage="average", distance_threshold=0.2).fit(
        vectors.astype(np.float32))


def timed(fn, *args) -> float:
    t = time.perf_counter()
    fn(*args)
    return time.perf_counter() - t

# --- nearest-neighbour libraries, side by side (--ann) ----------------------------------------


def _ann_hnswlib(x: np.ndarray, k: int, ef: int, threads: int):
    import hnswlib

    index = hnswlib.Index(space="ip", dim=x.shape[1])
    index.init_index(max_elements=len(x), ef_construction=100, M=16, random_seed=0)
    index.set_num_threads(threads)
    index.add_items(x, np.arange(len(x)))
    yield
    index.set_ef(ef)
    yield index.knn_query(x, k=k + 1)[0]


def _ann_faiss(x: np.ndarray, k: int, ef: int, threads: int):
    import faiss

    faiss.omp_set_num_threads(threads)
    index = faiss.IndexHNSWFlat(x.shape[1], 16, faiss.METRIC_INNER_PRODUCT)
    index.hnsw.efConstruction = 100
    index.add(x)
    yield
    index.hnsw.efSearch = ef
    yield index.search(x, k + 1)[1]


def _ann_usearch(dtype: str):
    def run(x: np.ndarray, k: int, ef: int, threads: int):
        from usearch.index import Index

        index = Index(ndim=x.shape[1], metric="ip", dtype=dtype, connectivity=16, expansion_add=100,
                      expansion_search=ef)
        index.add(np.arange(len(x)), x, threads=threads)
        yield
        yield index.search(x, k + 1, threads=threads).keys
    return run


def _ann_voyager(x: np.ndarray, k: int, ef: int, threads: int):
    import voyager

    index = voyager.Index(voyager.Space.InnerProduct, num_dimensions=x.shape[1], M=16, ef_construction=100,
                          random_seed=0)
    index.add_items(x, np.arange(len(x)), num_threads=threads)
    yield
    yield index.query(x, k + 1, num_threads=threads, query_ef=ef)[0]


def _ann_ngt(x: np.ndarray, k: int, ef: int, threads: int):
    import tempfile

    import ngtpy

    os.dup2(os.open(os.devnull, os.O_WRONLY), 2)  # it prints progress from C
    with tempfile.TemporaryDirectory() as tmp:
        ngtpy.create(f"{tmp}/index", x.shape[1], edge_size_for_creation=16, edge_size_for_search=ef,
                     distance_type="Inner Product")
        index = ngtpy.Index(f"{tmp}/index")
        index.batch_insert(x, num_threads=threads)
        yield
        results = ngtpy.BatchResults()
        index.batch_search(x, results, k + 1)
        yield results.get_ids()


def _ann_pynndescent(x: np.ndarray, k: int, ef: int, threads: int):
    from pynndescent import NNDescent

    graph = NNDescent(x, metric="dot", n_neighbors=k + 1, n_jobs=threads, random_state=0, low_memory=True)
    yield  # the index is the all-pairs graph: querying it is reading it
    yield graph.neighbor_graph[0]


ANN = {"hnswlib": _ann_hnswlib, "faiss-cpu": _ann_faiss, "usearch": _ann_usearch("f32"),
       "usearch-f16": _ann_usearch("f16"), "voyager": _ann_voyager, "ngt": _ann_ngt,
       "pynndescent": _ann_pynndescent}


def _rss_mb(field: str) -> float:
    with open("/proc/self/status") as fh:
        return next(int(line.split()[1]) for line in fh if line.startswith(field)) / 1024


def _run_ann(name: str, x: np.ndarray, k: int, threads: int, sample: np.ndarray, exact: np.ndarray,
             queue: multiprocessing.Queue) -> None:
    import ctypes

    ctypes.CDLL("libc.so.6").malloc_trim(0)  # the parent's freed heap would hide new allocations
    with open("/proc/self/clear_refs", "w") as fh:
        fh.write("5")  # the peak RSS starts again from here, not from the parent's
    before = _rss_mb("VmRSS")
    t = time.perf_counter()
    steps = ANN[name](x, k, max(2 * k + 10, 50), threads)
    next(steps)
    built = time.perf_counter()
    labels = np.asarray(next(steps))
    queried = time.perf_counter()
    found = [set(int(j) for j in labels[i] if j != i) for i in sample]
    recall = float(np.mean([len(f & set(e)) / k for f, e in zip(found, exact)]))
    queue.put((built - t, queried - built, _rss_mb("VmHWM") - before, recall))


def _exact(x: np.ndarray, sample: np.ndarray, k: int, chunk: int = 20_000) -> np.ndarray:
    """The exact `k` nearest other rows of the sample rows, by inner product: a running top k over
    chunks of rows, so memory stays at one chunk's scores."""
    queries = x[sample].astype(np.float32)
    rows = np.arange(len(sample))
    best_s = np.full((len(sample), k), -np.inf, dtype=np.float32)
    best_i = np.zeros((len(sample), k), dtype=np.int64)
    for start in range(0, len(x), chunk):
        scores = queries @ x[start:start + chunk].astype(np.float32).T
        own = (sample >= start) & (sample < start + chunk)
        scores[rows[own], sample[own] - start] = -np.inf
        top = np.argpartition(-scores, k - 1, axis=1)[:, :k]
        cand_s = np.concatenate([best_s, np.take_along_axis(scores, top, 1)], axis=1)
        cand_i = np.concatenate([best_i, top + start], axis=1)
        keep = np.argpartition(-cand_s, k - 1, axis=1)[:, :k]
        best_s, best_i = np.take_along_axis(cand_s, keep, 1), np.take_along_axis(cand_i, keep, 1)
    return best_i


def compare_ann(sizes: list[int], rounds: int, libraries: list[str], k: int = 10) -> None:
    import importlib.util

    modules = {"faiss-cpu": "faiss", "usearch-f16": "usearch", "ngt": "ngtpy"}
    names = [n for n in libraries if importlib.util.find_spec(modules.get(n, n))]
    print("not installed:", ", ".join(sorted(set(libraries) - set(names))) or "none")
    threads = multiprocessing.cpu_count()
    for n in sizes:
        full, _ = _vectors(np.random.default_rng(0), n)
        t = time.perf_counter()
        x = similar._reduce(full)
        print(f"\n{n:,} vectors, PCA {full.shape[1]} -> {x.shape[1]} in {time.perf_counter() - t:.0f} s, "
              f"k={k}, {threads} threads, medians of {rounds}")
        sample = np.random.default_rng(1).choice(n, size=min(n, 2000), replace=False)
        exact = _exact(x, sample, k)
        pca_recall = np.mean([len(set(a) & set(b)) / k for a, b in zip(exact, _exact(full, sample, k))])
        print(f"  (exact neighbours after PCA hold {pca_recall:.3f} of those on the full vectors)")
        del full
        results: dict[str, list[tuple]] = {name: [] for name in names}
        for r in range(rounds):
            for name in names:
                results[name].append(in_child(_run_ann, name, x, k, threads, sample, exact))
                print(f"    (round {r + 1}: {name} {results[name][-1][0]:.1f} s + {results[name][-1][1]:.1f} s)",
                      flush=True)
        print(f"  {'library':12s} {'build s':>8s} {'query s':>8s} {'peak MB':>8s} {'recall@' + str(k):>9s}")
        medians = {name: [float(np.median(col)) for col in zip(*runs)] for name, runs in results.items()}
        for name, (build, query, peak, recall) in medians.items():
            print(f"  {name:12s} {build:8.1f} {query:8.1f} {peak:8.0f} {recall:9.4f}")
        fastest = min(build + query for build, query, _, _ in medians.values())
        slow = [name for name, (build, query, _, _) in medians.items() if build + query > 5 * fastest]
        if slow and n != sizes[-1]:
            print(f"  left out at larger sizes (over 5x the fastest's time): {', '.join(slow)}")
        names = [name for name in names if name not in slow]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--plain-size", type=int, default=20_000)
    parser.add_argument("--ann", action="store_true", help="compare nearest-neighbour libraries instead")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--libraries", nargs="+", choices=list(ANN), default=list(ANN))
    parser.add_argument("--kinds", nargs="+", default=["events", "places", "duplicates", "copies", "similar"],
                        help="copies: the duplicates finder with verification (cluster/copies.py); duplicates: "
                             "the hashes alone")
    args = parser.parse_args()
    if args.ann:
        compare_ann(args.sizes, args.rounds, args.libraries)
        return
    baseline = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"(the benchmark process itself: {baseline:.0f} MB before any library)")
    for n in args.sizes:
        t = time.perf_counter()
        lib = library(n)
        print(f"\n{n:,} photos (made in {time.perf_counter() - t:.0f} s)")
        total = saved = 0.0
        times: dict[str, float] = {}
        for kind in args.kinds:
            elapsed, rss, groups, precision, recall, shared = in_child(run_kind, kind, lib)
            total += elapsed
            times[kind] = elapsed
            saved += shared
            if shared:
                print(f"  ({kind}: {shared:.1f} s of it the CNN neighbours, which a regroup shares with similar)")
            quality = "" if np.isnan(precision) else f"  precision {precision:.3f} recall {recall:.3f}"
            print(f"  {kind:10s} {elapsed:7.1f} s  peak {rss:7.0f} MB  {groups:7,} groups{quality}")
        print(f"  all kinds  {total:7.1f} s (as a regroup runs them, copies instead of duplicates and the "
              f"neighbours once: {total - times.get('duplicates', 0.0) - saved:.1f} s)")

    n = args.plain_size
    if n < 100:  # --plain-size 0: no side-by-side part
        return
    lib = library(n, seed=1)
    print(f"\nside by side at {n:,} photos (medians of 3)")
    for name, ours, plain in [
        ("places", lambda: places.find_places(lib["ids"][~np.isnan(lib["lat"])], lib["lat"][~np.isnan(lib["lat"])],
                                              lib["lon"][~np.isnan(lib["lat"])], 1000, 3),
         lambda: plain_places(lib["lat"], lib["lon"])),
        ("duplicates", lambda: duplicates.find_duplicates(lib["ids"], lib["phash"], lib["dhash"], 8, 8),
         lambda: plain_duplicates(lib["phash"], lib["dhash"])),
        ("similar", lambda: similar.find_similar(lib["ids"], lib["vectors"], 0.8, 10, 2,
                                                 threads=multiprocessing.cpu_count()),
         lambda: plain_similar(lib["vectors"])),
    ]:
        o = sorted(timed(ours) for _ in range(3))[1]
        p = sorted(timed(plain) for _ in range(3))[1]
        print(f"  {name:10s} ours {o:6.2f} s   plain {p:6.2f} s   plain/ours {p / o:5.1f}x")


if __name__ == "__main__":
    main()
