"""How similar groups are made (`similar.method`), from the vectors of `similar.features`. Pure:
arrays in, groups of photo ids out. `find` is the one entry point; a method is one function and
one line in `METHODS`.

- `average` (the default): each photo's nearest neighbours linked above `sim`, the linked
  components split by average linkage cut at `sim` (cluster.similar).
- `chain` (icas): the linked components themselves: X~A~B~Y is one group.
- `agglomerative` (imagecluster, clustimage): hierarchical clustering with `linkage`, cut at the
  similarity index `sim`; on all pairs up to ALL_PAIRS photos, else within linked components
  (the same result for these linkages when every pair above `sim` is a candidate).
- `dbscan` (clustimage): density clusters, radius 1 - sim in cosine distance, `min_photos` core.
- `kmeans` (Image_Grouping, clustimage): k clusters, k given or chosen by the knee of the
  distortion curve (kneed), the best silhouette or the best Davies-Bouldin score.
- `mix` (imagecluster): hierarchical clustering on (1 - alpha) x content distance + alpha x time
  distance (hours apart over `mix_hours`, at most 1); a pair with an undated photo by content alone.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from organizer.cluster import rescore, similar
from organizer.cluster.library import Library
from organizer.errors import ConfigError
from organizer.extract.features import MissingExtra
from organizer.extract.visual import combine

ALL_PAIRS = 5000  # agglomerative clusters all pairs up to this many photos (a 100 MB distance matrix)
KMEANS_SAMPLE = 5000  # silhouette scores are computed on a sample of this many photos


@dataclass(frozen=True)
class Params:
    """The `[similar]` values a method reads (see config.SimilarConfig)."""

    method: str = "average"
    sim: float = 0.8
    neighbours: int = 10
    min_photos: int = 2
    linkage: str = "average"
    k: int = 0
    k_max: int = 20
    k_choice: str = "knee"
    alpha: float = 0.3
    mix_hours: float = 24.0
    rescore: tuple[str, ...] = ()
    rescore_min: float = 0.5
    threads: int = 1

    @classmethod
    def of(cls, section: Any, threads: int = 1, **changes: Any) -> Params:
        """From a config.SimilarConfig (or any object with these attributes)."""
        values = {f.name: getattr(section, f.name) for f in dataclasses.fields(cls) if hasattr(section, f.name)}
        return cls(**{**values, "threads": threads, **changes})


@dataclass(frozen=True)
class Inputs:
    ids: np.ndarray
    x: np.ndarray  # one row per photo, L2-normalised
    params: Params
    seconds: np.ndarray | None  # local time (NaN undated), for `mix`
    pixels: rescore.Pixels | None  # grey thumbnails, for the re-scorers
    near: np.ndarray | None = None  # each row's nearest neighbours, when already computed


Groups = list[tuple[int, ...]]


def find(ids: np.ndarray, features: Mapping[str, np.ndarray], params: Params, *,
         seconds: np.ndarray | None = None, pixels: rescore.Pixels | None = None,
         near: np.ndarray | None = None) -> Groups:
    """Similar groups of `ids` (sorted tuples of photo ids): `features` maps each feature name to
    its rows (aligned with `ids`); `seconds` (local time, NaN undated) is what `mix` reads, and
    `pixels(row)` (a grey image of that photo, or None) what the re-scorers read; `near`, each
    row's nearest neighbours if already known (with `params.neighbours` of them)."""
    if params.method not in METHODS:
        raise ConfigError(f"unknown similar.method {params.method!r} (known: {', '.join(METHODS)})")
    if len(ids) < 2:
        return []
    inputs = Inputs(np.asarray(ids), combine(features), params, seconds, pixels, near)
    return [g for g in METHODS[params.method](inputs) if len(g) >= params.min_photos]


def aligned(lib: Library, names: tuple[str, ...], only: np.ndarray | None = None
            ) -> tuple[np.ndarray, dict[str, np.ndarray], np.ndarray, list]:
    """The photos of `lib` (of `only`, if given) that show something and have every feature in
    `names`: (ids, name -> rows, local time in seconds with NaN undated, thumbnail paths)."""
    found = {name: lib.visual(name) for name in names}
    ids = functools.reduce(np.intersect1d, [fids for fids, _ in found.values()])
    if only is not None:
        ids = np.intersect1d(ids, only)
    rows = {name: m[np.searchsorted(fids, ids)] for name, (fids, m) in found.items()}
    at = np.searchsorted(lib.ids, ids)
    seconds = np.where(lib.dated[at], lib.seconds[at], np.nan).astype(np.float64)
    thumb_ids, paths = lib.features.get("thumbs", (np.empty(0, np.int64), np.empty(0, object)))
    thumbs = list(paths[np.searchsorted(thumb_ids, ids)]) if len(thumb_ids) else []
    return ids, rows, seconds, thumbs


def find_in(lib: Library, section: Any, threads: int = 1) -> Groups:
    """Similar groups of the library, as the `[similar]` section says."""
    ids, rows, seconds, thumbs = aligned(lib, tuple(section.features))
    near = None
    if tuple(section.features) == ("cnn",):  # the neighbours the duplicate finder starts from too
        cnn_ids, cnn_near = lib.cnn_neighbours(section.neighbours, threads)
        near = cnn_near if np.array_equal(cnn_ids, ids) else None
    return find(ids, rows, Params.of(section, threads), seconds=seconds,
                pixels=rescore.thumbnails(thumbs) if thumbs else None, near=near)


def _edges(inputs: Inputs) -> similar.Rescore | None:
    """The candidate edges' scores: the re-scorers' verdict on those above `sim`."""
    p = inputs.params
    if not p.rescore:
        return None
    if inputs.pixels is None:
        raise ConfigError("similar.rescore needs the photos' thumbnails")
    scorer = rescore.Scorer(p.rescore, inputs.pixels)

    def rescored(rows: np.ndarray, cols: np.ndarray, scores: np.ndarray) -> np.ndarray:
        out = scores.copy()
        todo = np.flatnonzero(scores >= p.sim)
        if len(todo):
            out[todo[scorer(rows[todo], cols[todo]) < p.rescore_min]] = -1.0
        return out

    return rescored


def _linked(inputs: Inputs, method: str | None, scores: similar.Rescore | None = None,
            distances: similar.Distances | None = None) -> Groups:
    p = inputs.params
    return similar.find_similar(inputs.ids, inputs.x, p.sim, p.neighbours, 2, p.threads, method=method,
                                rescore=scores or _edges(inputs), distances=distances, near=inputs.near)


def _average(inputs: Inputs) -> Groups:
    return _linked(inputs, "average")


def _chain(inputs: Inputs) -> Groups:
    return _linked(inputs, None)


def _labelled(ids: np.ndarray, labels: np.ndarray) -> Groups:
    """Groups from cluster labels (-1: in none)."""
    return [tuple(sorted(int(i) for i in ids[labels == label])) for label in np.unique(labels) if label >= 0]


def _agglomerative(inputs: Inputs) -> Groups:
    p = inputs.params
    if len(inputs.ids) > ALL_PAIRS or p.rescore:
        return _linked(inputs, p.linkage)
    from scipy.cluster.hierarchy import fcluster, linkage
    from scipy.spatial.distance import pdist

    dist = np.clip(pdist(inputs.x.astype(np.float64), "cosine"), 0.0, 2.0)
    labels = fcluster(linkage(dist, method=p.linkage), t=1.0 - p.sim, criterion="distance")
    return _labelled(inputs.ids, labels)


def _dbscan(inputs: Inputs) -> Groups:
    from sklearn.cluster import DBSCAN

    p = inputs.params
    labels = DBSCAN(eps=max(1.0 - p.sim, 1e-6), min_samples=p.min_photos, metric="cosine", algorithm="brute",
                    n_jobs=p.threads).fit_predict(inputs.x.astype(np.float32))
    return _labelled(inputs.ids, labels)


def kmeans_curve(x: np.ndarray, k_max: int, seed: int = 0, threads: int = 1) -> dict[str, list[float]]:
    """k-means over k = 1..k_max: distortion (inertia), silhouette and Davies-Bouldin (NaN at
    k = 1), for choosing k and for the explore report's plots."""
    from sklearn.cluster import KMeans
    from sklearn.metrics import davies_bouldin_score, silhouette_score
    from threadpoolctl import threadpool_limits

    x = x.astype(np.float32)
    ks = list(range(1, max(1, min(k_max, len(x) - 1)) + 1))
    out: dict[str, list[float]] = {"k": [float(k) for k in ks], "inertia": [], "silhouette": [], "davies_bouldin": []}
    with threadpool_limits(threads):
        for k in ks:
            model = KMeans(n_clusters=k, n_init=1, random_state=seed).fit(x)
            several = 1 < len(np.unique(model.labels_)) < len(x)
            out["inertia"].append(float(model.inertia_))
            out["silhouette"].append(float(silhouette_score(x, model.labels_, sample_size=min(len(x), KMEANS_SAMPLE),
                                                            random_state=seed)) if several else float("nan"))
            out["davies_bouldin"].append(float(davies_bouldin_score(x, model.labels_)) if several else float("nan"))
    return out


def choose_k(curve: dict[str, list[float]], how: str) -> int:
    """k by the knee of the distortion curve, the highest silhouette or the lowest Davies-Bouldin."""
    ks = [int(k) for k in curve["k"]]
    if how == "knee":
        try:
            from kneed import KneeLocator
        except ImportError as exc:
            raise MissingExtra(f"similar.k_choice = \"knee\" needs kneed ({exc.name}): "
                                            "pip install 'organizer[explore]'") from None
        knee = KneeLocator(ks, curve["inertia"], curve="convex", direction="decreasing").knee if len(ks) > 2 else None
        return int(knee) if knee else ks[-1]
    scores = np.array(curve["silhouette" if how == "silhouette" else "davies_bouldin"], dtype=np.float64)
    if np.all(np.isnan(scores)):
        return 1
    return ks[int(np.nanargmax(scores) if how == "silhouette" else np.nanargmin(scores))]


def _kmeans(inputs: Inputs) -> Groups:
    from sklearn.cluster import KMeans
    from threadpoolctl import threadpool_limits

    p = inputs.params
    k = p.k or choose_k(kmeans_curve(inputs.x, p.k_max, threads=p.threads), p.k_choice)
    k = max(1, min(k, len(inputs.ids)))
    with threadpool_limits(p.threads):
        labels = KMeans(n_clusters=k, n_init=3, random_state=0).fit_predict(inputs.x.astype(np.float32))
    return _labelled(inputs.ids, labels)


def _mixed(content: np.ndarray, a: np.ndarray, b: np.ndarray, p: Params) -> np.ndarray:
    """(1 - alpha) x content distance + alpha x time distance (|a - b| / mix_hours, at most 1);
    where either photo is undated (NaN), time says nothing and the content distance stands alone."""
    apart = np.minimum(np.abs(a - b) / (p.mix_hours * 3600.0), 1.0)
    return np.where(np.isnan(apart), content, (1.0 - p.alpha) * content + p.alpha * apart)


def _times(inputs: Inputs) -> np.ndarray:
    n = len(inputs.ids)
    return np.full(n, np.nan) if inputs.seconds is None else np.asarray(inputs.seconds, dtype=np.float64)


def _mix(inputs: Inputs) -> Groups:
    p, t = inputs.params, _times(inputs)
    pixels = _edges(inputs)

    def distances(members: np.ndarray) -> np.ndarray:
        sub = inputs.x[members].astype(np.float32)
        content = np.clip(1.0 - sub @ sub.T, 0.0, 2.0)
        return _mixed(content, t[members][:, None], t[members][None, :], p)

    def scores(rows: np.ndarray, cols: np.ndarray, cosines: np.ndarray) -> np.ndarray:
        mixed = 1.0 - _mixed(1.0 - cosines, t[rows], t[cols], p)
        return mixed if pixels is None else pixels(rows, cols, mixed)

    return _linked(inputs, p.linkage, scores, distances)


# method name -> its function; every name in config.SIMILAR_METHODS
METHODS: dict[str, Callable[[Inputs], Groups]] = {
    "average": _average,
    "chain": _chain,
    "agglomerative": _agglomerative,
    "dbscan": _dbscan,
    "kmeans": _kmeans,
    "mix": _mix,
}
