"""The clusterers, one entry each: the kind of group it finds, its config section, the features
it needs from the catalog ("cnn": the CNN vectors), and `find(library, section) -> groups`.

Adding a clusterer (ORB + k-means, HOG, faces) is one module with its `find` and one line in
`CLUSTERERS`; `regroup` loads what it needs, runs it, keeps the groups' identities and stores them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from organizer.cluster import copies, events, methods, people, places
from organizer.cluster.keeper import KEEPER
from organizer.cluster.library import Library
from organizer.config import cores
from organizer.extract import features


@dataclass(frozen=True)
class Found:
    """One group a clusterer found: its members and what describes it (start, end, lat, lon,
    radius_m: as the kind has them)."""

    members: frozenset[int]
    info: dict[str, Any] = field(default_factory=dict)
    notes: dict[int, str] = field(default_factory=dict)  # member -> what it is to the group
    key: str | None = None  # the key a user's decision fixed (else kept by identity matching)


@dataclass(frozen=True)
class Clusterer:
    kind: str
    section: str  # the config section of its settings
    find: Callable[[Library, Any], list[Found]]
    needs: tuple[str, ...] = ()
    enabled: Callable[[Any], bool] = lambda config: True  # from the whole config


def find_events(lib: Library, cfg: Any) -> list[Found]:
    d = lib.dated
    return [Found(frozenset(e.members), {"start": e.start.isoformat(), "end": e.end.isoformat(),
                                         "lat": e.lat, "lon": e.lon})
            for e in events.find_events(lib.ids[d], lib.seconds[d], lib.lat[d], lib.lon[d], cfg.gap_hours * 3600,
                                        cfg.min_photos)]


def find_places(lib: Library, cfg: Any) -> list[Found]:
    g = ~np.isnan(lib.lat)
    return [Found(frozenset(p.members), {"lat": p.lat, "lon": p.lon, "radius_m": p.radius_m})
            for p in places.find_places(lib.ids[g], lib.lat[g], lib.lon[g], cfg.radius_m, cfg.min_photos)]


def find_duplicates(lib: Library, cfg: Any) -> list[Found]:
    """The same capture however it was copied (verified by pixels and EXIF; see cluster.copies),
    each group with its keeper and how each copy differs from it; and every content found at
    several paths."""
    photos, pixels, known = lib.inputs["copies"]
    settings = copies.Settings(phash_distance=cfg.phash_distance, dhash_distance=cfg.dhash_distance,
                               cosine=cfg.cosine, neighbours=cfg.neighbours, agreement=cfg.agreement,
                               max_component=cfg.max_component, threads=cores())
    groups = copies.find_copies(photos, pixels, settings, near=_near_rows(lib, settings), known=known)
    grouped = {m for g in groups for m in g.members}
    found = [Found(frozenset(g.members), notes={g.keeper: KEEPER, **{c.id: ", ".join(c.differences) or "the same"
                                                                      for c in g.copies}}) for g in groups]
    # one content at several paths is a duplicate group too
    found += [Found(frozenset({int(i)})) for i, n in zip(lib.ids, lib.files) if n > 1 and int(i) not in grouped]
    return found


def _near_rows(lib: Library, settings: copies.Settings) -> np.ndarray | None:
    """The shared CNN neighbours (`Library.cnn_neighbours`) as rows of the library, which is the
    duplicate finder's row order; a photo with none (no vector, or nothing to see) points at itself,
    which the finder drops."""
    if "cnn" not in lib.features:
        return None
    ids, near = lib.cnn_neighbours(settings.neighbours, settings.threads)
    out = np.repeat(np.arange(len(lib.ids))[:, None], max(near.shape[1], 1), axis=1)
    if len(ids) and near.shape[1]:
        at = np.searchsorted(lib.ids, ids)
        out[at] = at[near]
    return out


def find_similar(lib: Library, cfg: Any) -> list[Found]:
    return [Found(frozenset(group)) for group in methods.find_in(lib, cfg, threads=cores())]


def find_people(lib: Library, cfg: Any) -> list[Found]:
    """Persons: the photos each one's faces are in (see cluster.people), each photo's note the
    name its XMP region gives the person's face there."""
    f: people.LibraryFaces = lib.inputs["faces"]
    found = []
    for p in people.find_people(f.photo_of, f.descriptors, cfg.max_distance, cfg.min_faces, f.pins):
        notes: dict[int, str] = {}
        for face in p.faces:
            if (label := f.labels[face]) is not None:
                notes.setdefault(int(f.photo_of[face]), label)
        found.append(Found(p.photos, notes=notes, key=p.key))
    return found


CLUSTERERS: tuple[Clusterer, ...] = (
    Clusterer("event", "events", find_events),
    Clusterer("place", "places", find_places),
    Clusterer("duplicate", "duplicates", find_duplicates, needs=("copies",)),
    Clusterer("similar", "similar", find_similar, needs=("visual",),  # similar.features, by similarity.features
              enabled=lambda config: "cnn" not in config.similar.features or config.vectors.enabled),
    Clusterer("person", "faces", find_people, needs=("faces",), enabled=lambda config: "faces" in features.wanted(config)),
)
