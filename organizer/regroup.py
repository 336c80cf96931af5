"""Recluster the whole catalog: load rows, run the pure clusterers, keep group identities, store."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import numpy as np

from organizer.catalog import Catalog, GroupRow, shown
from organizer.cluster import duplicates, events, identity, places, similar
from organizer.config import Config, cores
from organizer.errors import CatalogError
from organizer.extract import vectors

log = logging.getLogger(__name__)

MIN_SIDE = 64  # photos smaller than this (icons, spacer GIFs) are in no visual group


@dataclass
class ClusterReport:
    photos: int = 0
    groups: dict[str, int] = field(default_factory=dict)
    changes: dict[str, dict[str, int]] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass(frozen=True)
class Library:
    """The catalog's photos as arrays, for the clusterers."""

    ids: np.ndarray
    digests: list[str]
    seconds: np.ndarray  # local time, seconds since 1970 (0 where undated)
    dated: np.ndarray  # bool: has a date fit for events
    lat: np.ndarray  # NaN where unknown
    lon: np.ndarray
    phash: np.ndarray  # uint64
    dhash: np.ndarray
    files: np.ndarray  # present files per photo
    small: np.ndarray  # bool: too small (under MIN_SIDE px) to say what it looks like

    @classmethod
    def load(cls, catalog: Catalog, use_mtime: bool) -> Library:
        rows = catalog.photos.facts()
        n = len(rows)
        seconds = np.zeros(n, dtype=np.int64)
        dated = np.zeros(n, dtype=bool)
        for i, row in enumerate(rows):
            if row.taken_local and events.eligible(row.taken_source, use_mtime):
                seconds[i] = events.to_seconds(datetime.fromisoformat(row.taken_local))
                dated[i] = True
        return cls(
            ids=np.array([r.id for r in rows], dtype=np.int64),
            digests=[r.digest for r in rows],
            seconds=seconds,
            dated=dated,
            lat=np.array([np.nan if r.lat is None else r.lat for r in rows], dtype=np.float64),
            lon=np.array([np.nan if r.lon is None else r.lon for r in rows], dtype=np.float64),
            phash=duplicates.hex_to_u64([r.phash or "0" for r in rows]),
            dhash=duplicates.hex_to_u64([r.dhash or "0" for r in rows]),
            files=np.array([r.files for r in rows], dtype=np.int64),
            small=np.array([min(r.width or 0, r.height or 0) < MIN_SIDE for r in rows], dtype=bool),
        )

    def featureless(self) -> np.ndarray:
        """Photos that carry no visual evidence: tiny, blank or near-uniform (see duplicates)."""
        return self.small | ~duplicates.informative(self.dhash)


def _keyed(kind: str, groups: list[tuple[frozenset[int], dict[str, Any]]], previous: dict[str, frozenset[int]],
           digest_of: dict[int, str]) -> list[GroupRow]:
    """Give each group the key of the previous group it continues, or a new key of its own."""
    keys = identity.match(previous, [members for members, _ in groups])
    taken = {k for k in keys if k}
    rows = []
    for (members, info), key in zip(groups, keys):
        if key is None:
            # a new group is named after its first photo's content: stable, unique per kind
            key = f"{kind[0]}{min(digest_of[m] for m in members)[:15]}"
            while key in taken:
                key += "x"
        taken.add(key)
        rows.append(GroupRow(key=key, members=members, **info))
    return rows


def regroup(catalog: Catalog, config: Config) -> ClusterReport:
    """Regroup the whole library into events, places and duplicate groups, and store them."""
    report = ClusterReport()
    run_id = catalog.start_run("cluster")
    t = time.perf_counter()
    lib = Library.load(catalog, config.events.use_mtime)
    report.photos = len(lib.ids)
    report.seconds["load"] = round(time.perf_counter() - t, 3)
    digest_of = dict(zip(lib.ids.tolist(), lib.digests))
    found: dict[str, list[tuple[frozenset[int], dict[str, Any]]]] = {}

    t = time.perf_counter()
    d = lib.dated
    found["event"] = [
        (frozenset(e.members), {"start": e.start.isoformat(), "end": e.end.isoformat(), "lat": e.lat, "lon": e.lon})
        for e in events.find_events(
            lib.ids[d], lib.seconds[d], lib.lat[d], lib.lon[d], config.events.gap_hours * 3600,
            config.events.min_photos,
        )
    ]
    report.seconds["events"] = round(time.perf_counter() - t, 3)

    t = time.perf_counter()
    g = ~np.isnan(lib.lat)
    found["place"] = [
        (frozenset(p.members), {"lat": p.lat, "lon": p.lon, "radius_m": p.radius_m})
        for p in places.find_places(lib.ids[g], lib.lat[g], lib.lon[g], config.places.radius_m,
                                    config.places.min_photos)
    ]
    report.seconds["places"] = round(time.perf_counter() - t, 3)

    t = time.perf_counter()
    near = duplicates.find_duplicates(
        lib.ids, lib.phash, lib.dhash, config.duplicates.phash_distance, config.duplicates.dhash_distance
    )
    grouped = {m for group in near for m in group}
    # one content at several paths is a duplicate group too
    copies = [(int(i),) for i, n in zip(lib.ids, lib.files) if n > 1 and int(i) not in grouped]
    found["duplicate"] = [(frozenset(group), {}) for group in near + copies]
    report.seconds["duplicates"] = round(time.perf_counter() - t, 3)

    spec = vectors.spec(config.vectors)
    if spec is not None:
        t = time.perf_counter()
        ids, blobs = catalog.photos.vectors(vectors.model_id(spec))
        blank = set(lib.ids[lib.featureless()].tolist())
        keep = [i for i, pid in enumerate(ids) if pid not in blank]
        ids, blobs = [ids[i] for i in keep], [blobs[i] for i in keep]
        if ids:
            matrix = np.frombuffer(b"".join(blobs), dtype=np.float16).reshape(len(ids), -1)
            found["similar"] = [
                (frozenset(group), {})
                for group in similar.find_similar(np.array(ids), matrix, config.similar.sim,
                                                  config.similar.neighbours, config.similar.min_photos,
                                                  threads=cores())
            ]
        else:
            found["similar"] = []
        report.seconds["similar"] = round(time.perf_counter() - t, 3)

    for kind, groups in found.items():
        rows = _keyed(kind, groups, catalog.groups.members(kind), digest_of)
        with catalog.transaction():
            report.changes[kind] = catalog.groups.replace(kind, rows)
        report.groups[kind] = len(rows)
    catalog.finish_run(run_id, report.as_dict())
    return report


SIMILAR_BATCH = 4096  # vectors read at a time by `similar_to` (10 MB of float16 at 1280-d)


def similar_to(catalog: Catalog, config: Config, path: str, k: int) -> list[dict[str, Any]]:
    """The `k` photos nearest to the one at `path` by CNN cosine, best first."""
    spec = vectors.spec(config.vectors)
    if spec is None:
        raise CatalogError("vectors are turned off (vectors.enabled = false)")
    model = vectors.model_id(spec)
    known = catalog.files.get(path)
    if known is None:
        raise CatalogError(f"{shown(path)}: not in the catalog")
    if known.state != "ok":
        why = {"error": "could not be read (see `organizer errors`)", "missing": "is missing from disk",
               "unsupported": "is of a format organizer does not read", "ignored": "is not a photo"}
        raise CatalogError(f"{shown(path)}: {why.get(known.state, known.state)}; it has no vector")
    photo = known.photo_id
    vec = catalog.photos.vector(photo, model) if photo is not None else None
    if vec is None:
        raise CatalogError(f"{shown(path)}: no vector from {model} yet (run `organizer scan`)")
    query = np.frombuffer(vec, dtype=np.float16)
    best: list[tuple[float, int]] = []  # (cosine, photo id), streamed so memory stays one batch
    for ids, blobs in catalog.photos.vector_batches(model, SIMILAR_BATCH):
        matrix = np.frombuffer(b"".join(blobs), dtype=np.float16).reshape(len(ids), -1)
        exclude = ids.index(photo) if photo in ids else None
        best += [(score, ids[row]) for row, score in similar.nearest(query, matrix, k, exclude)]
        best = sorted(best, key=lambda b: (-b[0], b[1]))[:k]
    files = catalog.files.present([pid for _, pid in best])
    return [{"path": files[pid][0].path if pid in files else None, "cosine": round(score, 4), "photo": pid}
            for score, pid in best]


def join_groups(catalog: Catalog, config: Config, photo_ids: list[int]) -> int:
    """Add new photos to the events and places they fall in, without a recluster (the daemon's
    low-latency path; the next recluster decides for good). Returns how many joined."""
    if not photo_ids:
        return 0
    event_rows = catalog.groups.rows("event")
    spans = [(events.to_seconds(datetime.fromisoformat(g.start)), events.to_seconds(datetime.fromisoformat(g.end)))
             for g in event_rows if g.start and g.end]
    event_keys = [g.key for g in event_rows if g.start and g.end]
    place_rows = [g for g in catalog.groups.rows("place") if g.lat is not None and g.lon is not None]
    centres = [(g.lat, g.lon, g.radius_m or 0.0) for g in place_rows]
    joined = 0
    with catalog.transaction():
        for photo in catalog.photos.facts(photo_ids):
            pid, taken = photo.id, photo.taken_local
            if (taken and events.eligible(photo.taken_source, config.events.use_mtime)
                    and not catalog.groups.contains("event", pid)):
                i = events.event_for(events.to_seconds(datetime.fromisoformat(taken)), spans,
                                     config.events.gap_hours * 3600)
                if i is not None:
                    catalog.groups.add_member("event", event_keys[i], pid, taken)
                    joined += 1
            if photo.lat is not None and photo.lon is not None and not catalog.groups.contains("place", pid):
                j = places.place_for(photo.lat, photo.lon, centres, config.places.radius_m)
                if j is not None:
                    catalog.groups.add_member("place", place_rows[j].key, pid)
                    joined += 1
    return joined
