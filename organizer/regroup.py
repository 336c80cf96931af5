"""Recluster the whole catalog: load rows, run the pure clusterers, keep group identities, store."""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

import numpy as np

from organizer import similarity
from organizer.catalog import Catalog, GroupRow, PhotoFacts, shown
from organizer.cluster import copies, duplicates, events, identity, keeper, originals, people, places, similar, verify
from organizer.cluster.library import MIN_SIDE, Library
from organizer.cluster.registry import CLUSTERERS, Found
from organizer.config import Config
from organizer.errors import CatalogError
from organizer.extract import dupefeatures, features, vectors

log = logging.getLogger(__name__)


@dataclass
class ClusterReport:
    photos: int = 0
    groups: dict[str, int] = field(default_factory=dict)
    changes: dict[str, dict[str, int]] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def load(catalog: Catalog, config: Config, needs: set[str]) -> Library:
    """The catalog's items (photos and videos; companions such as a RAW's JPEG or a Live Photo's
    MOV go with their primary) as the clusterers read them, with the features they need."""
    rows = [r for r in catalog.photos.facts() if r.primary_id is None]  # a companion goes with its primary
    n = len(rows)
    seconds = np.zeros(n, dtype=np.int64)
    dated = np.zeros(n, dtype=bool)
    for i, row in enumerate(rows):
        if row.taken_local and events.eligible(row.taken_source, config.events.use_mtime):
            seconds[i] = events.to_seconds(datetime.fromisoformat(row.taken_local))
            dated[i] = True
    features = similarity.features(catalog, config) if "visual" in needs else {}
    if ("cnn" in needs or "copies" in needs) and "cnn" not in features and (spec := vectors.spec(config.vectors)):
        ids, blobs = catalog.photos.vectors(vectors.model_id(spec))
        matrix = np.frombuffer(b"".join(blobs), dtype=np.float16).reshape(len(ids), -1) if ids else np.empty((0, 0))
        features["cnn"] = (np.array(ids, dtype=np.int64), matrix)
    lib = Library(
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
        features=features,
    )
    inputs: dict[str, Any] = {}
    if "copies" in needs:
        inputs["copies"] = copies_input(catalog, rows, lib)
    if "faces" in needs:
        inputs["faces"] = faces_input(catalog, config, {r.id: r.orientation for r in rows})
    return replace(lib, inputs=inputs) if inputs else lib


PIN_MATCH = 0.2  # a decision is on the face of its photo this near its stored descriptor (the same face: 0)


def faces_input(catalog: Catalog, config: Config, items: Mapping[int, int | None]) -> people.LibraryFaces:
    """Every stored face of the items (item -> its EXIF orientation; one row per face), the names
    their XMP face regions give them, and the user's decisions on them."""
    from organizer.extract.faces import RECORD  # the faces extra: only asked for when it is installed

    wanted = features.wanted(config)["faces"]
    ids, blobs = catalog.photos.features("faces", features.version("faces", wanted))
    rows = [(pid, np.frombuffer(b, dtype=RECORD)) for pid, b in zip(ids, blobs) if pid in items]
    photo_of = np.array([pid for pid, r in rows for _ in range(len(r))], dtype=np.int64)
    number = np.array([n for _, r in rows for n in range(len(r))], dtype=np.int64)
    descriptors = (np.concatenate([r["descriptor"] for _, r in rows]) if len(photo_of)
                   else np.zeros((0, 128), dtype=np.float32))
    ends = np.cumsum([len(r) for _, r in rows], dtype=np.int64)
    span = {pid: slice(int(end) - len(r), int(end)) for (pid, r), end in zip(rows, ends) if len(r)}  # photo -> its rows
    pins: dict[int, str | None] = {}
    exact: set[int] = set()
    for pin in catalog.groups.face_pins():
        own = span.get(pin.photo_id)
        if own is None:
            continue
        near, distance = people.nearest(np.frombuffer(pin.descriptor, dtype="<f4")[None, :], descriptors[own])
        face = own.start + int(near[0])
        if distance[0] <= PIN_MATCH and face not in exact:  # a decision on the face's own number wins
            pins[face] = None if pin.forgotten else pin.person
            if number[face] == pin.face:
                exact.add(face)
    labels: list[str | None] = [None] * len(photo_of)
    record = dict(rows)
    for pid, regions in catalog.photos.regions(list(span)).items():
        boxes = [(name, people.region_box(x, y, w, h, items[pid])) for name, x, y, w, h in regions]
        labels[span[pid]] = people.labels(record[pid]["box"], boxes)
    return people.LibraryFaces(photo_of, number, descriptors, pins, labels)


def copies_input(catalog: Catalog, rows: list[PhotoFacts], lib: Library) -> tuple[
        copies.Photos, Callable[[Sequence[int]], list[bytes | None]], dict[tuple[int, int], verify.Match]]:
    """What the duplicate finder reads: its columns, a way to the verification thumbnails, and
    the pair verifications of earlier reclusters."""
    ids, blobs = catalog.photos.features("duplicates", features.version("duplicates", {}))
    found = {pid: dupefeatures.DupeFeatures.unpack(blob) for pid, blob in zip(ids, blobs)}
    plain = dupefeatures.DupeFeatures(None, None, None, None, 100.0)  # not computed yet: no frame known
    dupes = [found.get(r.id, plain) for r in rows]
    files = catalog.files.present([r.id for r in rows])
    original = {pid: min(rows_, key=lambda f: originals.original_key(f.path, f.mtime_ns)) for pid, rows_ in files.items()}
    cnn_ids, cnn = lib.features.get("cnn", (np.empty(0, dtype=np.int64), np.empty((0, 0))))
    vectors_ = None
    if len(cnn_ids):  # the library's rows are in id order, as the vectors are: zeros where none
        vectors_ = np.zeros((len(rows), cnn.shape[1]), dtype=np.float16)
        ours = np.isin(cnn_ids, lib.ids)  # a companion's vector is not an item's
        vectors_[np.searchsorted(lib.ids, cnn_ids[ours])] = cnn[ours]
    photos = copies.Photos(
        ids=np.array([r.id for r in rows], dtype=np.int64),
        phash=duplicates.hex_to_u64([r.phash or "0" for r in rows]),
        dhash=duplicates.hex_to_u64([r.dhash or "0" for r in rows]),
        region_phash=duplicates.hex_to_u64([d.phash or "0" for d in dupes]),
        region_dhash=duplicates.hex_to_u64([d.dhash or "0" for d in dupes]),
        framed=np.array([d.box is not None for d in dupes], dtype=bool),
        width=np.array([r.width or 0 for r in rows], dtype=np.int64),
        height=np.array([r.height or 0 for r in rows], dtype=np.int64),
        file_size=np.array([original[r.id].size if r.id in original else 0 for r in rows], dtype=np.int64),
        chroma=np.array([d.chroma for d in dupes], dtype=np.float64),
        orientation=np.array([r.orientation or 1 for r in rows], dtype=np.int64),
        formats=[r.format or "" for r in rows],
        captures=[_capture(r) for r in rows],
        raw=np.array([keeper.is_raw(r.format, original[r.id].path if r.id in original else None) for r in rows]),
        paths=[(original[r.id].path, original[r.id].mtime_ns) if r.id in original else ("", 0) for r in rows],
        vectors=vectors_,
        region_boxes=np.array([d.box or (0.0, 0.0, 1.0, 1.0) for d in dupes], dtype=np.float64),
        region_thumbnail=np.array([d.thumbnail is not None for d in dupes], dtype=bool),
        video=np.array([r.kind == "video" for r in rows], dtype=bool),
        duration=np.array([np.nan if r.duration is None else r.duration for r in rows], dtype=np.float64),
    )
    thumbs = {r.id: r.thumb for r in rows}
    own = {r.id: d.thumbnail for r, d in zip(rows, dupes) if d.thumbnail is not None}

    def pixels(wanted: Sequence[int]) -> list[bytes | None]:
        return [own.get(pid) or _read(thumbs.get(pid)) for pid in wanted]

    known = {pair: verify.Match(*values) for pair, values in catalog.pairs.load(verify.VERSION).items()}
    return photos, pixels, known


def _read(path: str | None) -> bytes | None:
    if not path:
        return None
    try:
        with open(path, "rb") as fh:
            return fh.read()
    except OSError:
        return None


def _capture(row: PhotoFacts) -> verify.Capture:
    """What EXIF said of the capture: only a date from EXIF is one (with its sub-seconds)."""
    if row.taken_source != "exif" or not row.taken_local:
        return verify.Capture.of(row.make, row.model, None, None)
    when = datetime.fromisoformat(row.taken_local)
    return verify.Capture.of(row.make, row.model, when.strftime("%Y:%m:%d %H:%M:%S"),
                             f"{when.microsecond:06d}".rstrip("0") if when.microsecond else None)


def keyed(kind: str, groups: list[Found], previous: dict[str, frozenset[int]], digest_of: dict[int, str]) -> list[GroupRow]:
    """Give each group the key a user fixed, else the key of the previous group it continues, else
    a new key of its own."""
    fixed = {g.key for g in groups if g.key}
    free = [g for g in groups if not g.key]
    matched = iter(identity.match({k: m for k, m in previous.items() if k not in fixed}, [g.members for g in free]))
    keys = [g.key or next(matched) for g in groups]
    taken = {k for k in keys if k}
    rows = []
    for group, key in zip(groups, keys):
        if key is None:
            key = new_key(kind, group.members, digest_of, taken)
        taken.add(key)
        rows.append(GroupRow(key=key, members=group.members, notes=group.notes, **group.info))
    return rows


def new_key(kind: str, members: Iterable[int], digest_of: Mapping[int, str], taken: set[str]) -> str:
    """A new group's key, named after its first photo's content: stable, unique among `taken`."""
    key = f"{kind[0]}{min(digest_of[m] for m in members)[:15]}"
    while key in taken:
        key += "x"
    return key


def regroup(catalog: Catalog, config: Config, kinds: Iterable[str] | None = None) -> ClusterReport:
    """Regroup the whole library with every enabled clusterer (of `kinds` only, when given), and
    store the groups."""
    report = ClusterReport()
    run_id = catalog.start_run("cluster")
    only = None if kinds is None else set(kinds)
    active = [c for c in CLUSTERERS if c.enabled(config) and (only is None or c.kind in only)]
    t = time.perf_counter()
    lib = load(catalog, config, {need for c in active for need in c.needs})
    report.photos = len(lib.ids)
    report.seconds["load"] = round(time.perf_counter() - t, 3)
    digest_of = dict(zip(lib.ids.tolist(), lib.digests))
    for clusterer in active:
        t = time.perf_counter()
        found = clusterer.find(lib, getattr(config, clusterer.section))
        report.seconds[clusterer.section] = round(time.perf_counter() - t, 3)
        rows = keyed(clusterer.kind, found, catalog.groups.members(clusterer.kind), digest_of)
        with catalog.transaction():
            report.changes[clusterer.kind] = catalog.groups.replace(clusterer.kind, rows)
            if "copies" in lib.inputs and clusterer.kind == "duplicate":  # each pair verified once
                catalog.pairs.save(verify.VERSION, {pair: list(dataclasses.astuple(m))
                                                    for pair, m in lib.inputs["copies"][2].items()})
        report.groups[clusterer.kind] = len(rows)
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
    if known is None:  # any photo file: its vector, by the same model
        return _nearest(catalog, model, similarity.vector_of_file(path, config), None, k)
    if known.state != "ok":
        why = {"error": "could not be read (see `organizer errors`)", "missing": "is missing from disk",
               "unsupported": "is of a format organizer does not read", "ignored": "is not a photo"}
        raise CatalogError(f"{shown(path)}: {why.get(known.state, known.state)}; it has no vector")
    photo = known.photo_id
    vec = catalog.photos.vector(photo, model) if photo is not None else None
    if vec is None:
        raise CatalogError(f"{shown(path)}: no vector from {model} yet (run `organizer scan`)")
    primary = catalog.photos.primary_of(photo)
    return _nearest(catalog, model, np.frombuffer(vec, dtype=np.float16), photo, k,
                    set() if primary is None else {primary[0]})


def _nearest(catalog: Catalog, model: str, query: np.ndarray, photo: int | None, k: int,
             skip: set[int] | None = None) -> list[dict[str, Any]]:
    """The `k` items nearest to `query`: companions (a Live Photo's MOV, a RAW's JPEG) and `skip`
    (the query's own primary) are no items of their own."""
    skip = (skip or set()) | {c for members in catalog.photos.companions().values() for c, _ in members}
    best: list[tuple[float, int]] = []  # (cosine, photo id), streamed so memory stays one batch
    for ids, blobs in catalog.photos.vector_batches(model, SIMILAR_BATCH):
        matrix = np.frombuffer(b"".join(blobs), dtype=np.float16).reshape(len(ids), -1)
        exclude = ids.index(photo) if photo in ids else None
        found = similar.nearest(query, matrix, k + sum(i in skip for i in ids), exclude)
        best += [(score, ids[row]) for row, score in found if ids[row] not in skip]
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
