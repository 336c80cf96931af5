"""Places: DBSCAN with the haversine metric on GPS positions, memory-bounded.

Positions are first collapsed onto a fine grid (5 m by default) into weighted points, so that a
library where a third of the photos sit at home does not make DBSCAN's neighbourhoods explode;
`sample_weight` keeps the density rule exactly as on the raw points, to within the grid step.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

EARTH_RADIUS_M = 6_371_008.8
METRES_PER_DEGREE = math.pi * EARTH_RADIUS_M / 180


@dataclass(frozen=True)
class Place:
    members: tuple[int, ...]  # photo ids
    lat: float  # centre (mean position of the members)
    lon: float
    radius_m: float  # distance from the centre to the farthest member


def haversine_m(lat1: np.ndarray | float, lon1: np.ndarray | float, lat2: float, lon2: float) -> np.ndarray:
    p1, p2 = np.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, np.radians(lon2) - np.radians(lon1)
    a = np.sin(dp / 2) ** 2 + np.cos(p1) * math.cos(p2) * np.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_M * np.arcsin(np.sqrt(np.clip(a, 0, 1)))


def find_places(
    ids: np.ndarray,
    lat: np.ndarray,
    lon: np.ndarray,
    radius_m: float,
    min_photos: int,
    grid_m: float = 5.0,
) -> list[Place]:
    """Groups of at least `min_photos` photos, each within `radius_m` of a dense core."""
    if len(ids) == 0:
        return []
    step = grid_m / METRES_PER_DEGREE
    cells = np.stack([np.round(lat / step), np.round(lon / step)], axis=1).astype(np.int64)
    unique, inverse, counts = np.unique(cells, axis=0, return_inverse=True, return_counts=True)
    inverse = inverse.reshape(-1)
    # each cell at the mean position of its photos
    cell_lat = np.bincount(inverse, weights=lat) / counts
    cell_lon = np.bincount(inverse, weights=lon) / counts
    from sklearn.cluster import DBSCAN  # imported here: sklearn takes 0.6 s, and most commands never cluster

    model = DBSCAN(
        eps=radius_m / EARTH_RADIUS_M, min_samples=min_photos, metric="haversine", algorithm="ball_tree"
    )
    cell_labels = model.fit(np.radians(np.stack([cell_lat, cell_lon], axis=1)), sample_weight=counts).labels_
    labels = cell_labels[inverse]
    places = []
    for label in np.unique(labels[labels >= 0]):
        members = np.flatnonzero(labels == label)
        la, lo = lat[members], lon[members]
        c_lat, c_lon = float(la.mean()), float(lo.mean())
        radius = float(haversine_m(la, lo, c_lat, c_lon).max())
        places.append(Place(tuple(int(i) for i in ids[members]), c_lat, c_lon, radius))
    places.sort(key=lambda p: -len(p.members))
    return places


def place_for(lat: float, lon: float, centres: list[tuple[float, float, float]], radius_m: float) -> int | None:
    """The index of the place (lat, lon, radius_m) that a new photo joins without a recluster:
    the nearest whose extent, widened by `radius_m`, contains it. None when it joins none."""
    best, best_distance = None, None
    for i, (c_lat, c_lon, extent) in enumerate(centres):
        distance = float(haversine_m(lat, lon, c_lat, c_lon))
        if distance <= extent + radius_m and (best_distance is None or distance < best_distance):
            best, best_distance = i, distance
    return best
