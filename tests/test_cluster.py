"""The pure clusterers on plain arrays: events, places, duplicates, identity."""

from __future__ import annotations

import tracemalloc
from datetime import datetime

import numpy as np
import pytest
from sklearn.cluster import DBSCAN

from organizer.cluster import duplicates, events, identity, places


def secs(*stamps: str) -> np.ndarray:
    return np.array([events.to_seconds(datetime.fromisoformat(s)) for s in stamps], dtype=np.int64)


def test_events_split_at_gaps_and_need_min_photos() -> None:
    stamps = secs("2020-01-01 10:00", "2020-01-01 11:00", "2020-01-01 13:30",  # event 1
                  "2020-01-01 20:00", "2020-01-01 20:05",                      # too small
                  "2020-01-03 09:00", "2020-01-03 12:59", "2020-01-03 16:58", "2020-01-03 16:59")
    n = len(stamps)
    ids = np.arange(100, 100 + n)
    lat = np.array([43.0, 43.2, np.nan] + [np.nan] * (n - 3))
    lon = np.array([11.0, 11.4, np.nan] + [np.nan] * (n - 3))
    found = events.find_events(ids[::-1], stamps[::-1], lat[::-1], lon[::-1], gap_s=4 * 3600, min_photos=3)
    assert [e.members for e in found] == [(100, 101, 102), (105, 106, 107, 108)]
    first, second = found
    assert (first.start, first.end) == (datetime(2020, 1, 1, 10), datetime(2020, 1, 1, 13, 30))
    assert (first.lat, first.lon) == pytest.approx((43.1, 11.2))
    assert second.lat is None and second.days == 1


def test_mtime_dates_are_not_events_unless_asked() -> None:
    assert events.eligible("exif", False) and events.eligible("filename-date", False)
    assert not events.eligible("mtime", False) and events.eligible("mtime", True)
    assert not events.eligible(None, True)


def test_a_new_photo_joins_the_nearest_event_within_the_gap() -> None:
    spans = [(1000, 2000), (10_000, 12_000)]
    assert events.event_for(1500, spans, 600) == 0
    assert events.event_for(2500, spans, 600) == 0
    assert events.event_for(9500, spans, 600) == 1
    assert events.event_for(5000, spans, 600) is None


def _library_points(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    home = int(n * 0.3)
    lat = np.concatenate([np.full(home, 52.5200) + rng.normal(0, 2e-6, home),  # 30 % at home
                          rng.uniform(35, 60, n - home)])
    lon = np.concatenate([np.full(home, 13.4050) + rng.normal(0, 2e-6, home), rng.uniform(-10, 30, n - home)])
    trip = rng.integers(home, n, 200)  # a trip: 200 photos around one town
    lat[trip] = 43.4675 + rng.normal(0, 0.002, 200)
    lon[trip] = 11.8851 + rng.normal(0, 0.002, 200)
    return lat, lon


def test_places_match_plain_dbscan_on_raw_points() -> None:
    rng = np.random.default_rng(1)
    lat, lon = _library_points(rng, 3000)
    ids = np.arange(len(lat))
    found = places.find_places(ids, lat, lon, radius_m=1000, min_photos=3)
    raw = DBSCAN(eps=1000 / places.EARTH_RADIUS_M, min_samples=3, metric="haversine",
                 algorithm="ball_tree").fit(np.radians(np.stack([lat, lon], axis=1))).labels_
    ours = np.full(len(ids), -1)
    for label, p in enumerate(found):
        ours[list(p.members)] = label
    # the same partition, up to label names
    pairs = {(a, b) for a, b in zip(raw, ours)}
    assert len(pairs) == len(set(raw)) == len(set(ours))
    assert (ours == -1).sum() == (raw == -1).sum()
    home = max(found, key=lambda p: len(p.members))
    assert len(home.members) == 900 and home.radius_m < 5
    trip = next(p for p in found if abs(p.lat - 43.4675) < 0.01)
    assert len(trip.members) >= 190 and (trip.lat, trip.lon) == pytest.approx((43.4675, 11.8851), abs=1e-3)


def test_places_memory_stays_bounded_with_a_big_home_spot() -> None:
    rng = np.random.default_rng(2)
    lat, lon = _library_points(rng, 60_000)
    tracemalloc.start()
    found = places.find_places(np.arange(len(lat)), lat, lon, radius_m=1000, min_photos=3)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert len(max(found, key=lambda p: len(p.members)).members) == 18_000
    assert peak < 200 * 2**20  # raw DBSCAN would hold 18,000^2 neighbour indices (> 2 GB)


def test_a_new_photo_joins_a_place_within_its_extent_plus_radius() -> None:
    centres = [(43.4675, 11.8851, 300.0), (52.52, 13.405, 10.0)]
    assert places.place_for(43.4680, 11.8855, centres, 1000) == 0
    assert places.place_for(52.5290, 13.405, centres, 1000) == 1  # 1 km from the centre
    assert places.place_for(48.85, 2.35, centres, 1000) is None


def _brute_pairs(hashes: np.ndarray, d: int) -> set[tuple[int, int]]:
    dist = duplicates.popcount(hashes[:, None] ^ hashes[None, :])
    i, j = np.nonzero(np.triu(dist <= d, 1))
    return set(zip(i.tolist(), j.tolist()))


@pytest.mark.parametrize("d", [0, 4, 6, 8, 10])
def test_near_pairs_finds_every_pair_within_d(d: int) -> None:
    rng = np.random.default_rng(d)
    base = rng.integers(0, 2**63, 1500, dtype=np.int64).astype(np.uint64)
    # plant near copies at every distance up to d + 2
    copies = []
    for k, h in enumerate(base[:300]):
        flips = rng.choice(64, size=k % (d + 3), replace=False)
        copies.append(int(h) ^ sum(1 << int(b) for b in flips))
    hashes = np.unique(np.concatenate([base, np.array(copies, dtype=np.uint64)]))
    found = {tuple(p) for p in duplicates.near_pairs(hashes, d).tolist()}
    assert found == _brute_pairs(hashes, d)
    assert len(found) >= 100 if d else True


def test_duplicates_need_both_hashes_and_do_not_chain() -> None:
    ph = np.array([0x0F0F_0F0F_0F0F_0F0F] * 5, dtype=np.uint64)
    dh = np.array([0x3333_3333_3333_3333] * 5, dtype=np.uint64)
    ph[1] ^= np.uint64(0b111)          # 3 bits from 0
    ph[2] ^= np.uint64(0b111111)       # 6 bits from 0, 3 from 1
    ph[3] ^= np.uint64(0b111111111)    # a chain: 9 from 0, 6 from 1, 3 from 2
    dh[4] ^= np.uint64(0xFFFF)         # same pHash as 0 but a dHash 16 away
    groups = duplicates.find_duplicates(np.arange(10, 15), ph, dh, phash_max=6, dhash_max=8)
    members = sorted(m for g in groups for m in g)
    assert 14 not in members
    for g in groups:  # every two members of a group are within the thresholds
        for a in g:
            for b in g:
                assert duplicates.popcount(ph[a - 10] ^ ph[b - 10]) <= 6
    assert len(groups) == 2 and set(members) == {10, 11, 12, 13}


def test_featureless_images_are_not_duplicates_of_each_other() -> None:
    ph = np.array([0x8000_0000_0000_0000, 0x8000_0000_0000_0000, 0x0], dtype=np.uint64)
    dh = np.array([0, 0, 1], dtype=np.uint64)
    assert duplicates.find_duplicates(np.arange(3), ph, dh, 8, 8) == []


def test_identity_keeps_keys_by_jaccard() -> None:
    previous = {"a": frozenset({1, 2, 3, 4}), "b": frozenset({10, 11}), "c": frozenset({20, 21, 22})}
    current = [{1, 2, 3, 4, 5}, {10, 11, 12, 13, 14}, {20, 21}, {21, 22, 23}, {30, 31}]
    # 4/5 keeps a; 2/5 < 0.5 loses b; c goes to the better of two overlaps (2/3 vs 2/4)
    assert identity.match(previous, current) == ["a", None, "c", None, None]


def _unit(v: np.ndarray) -> np.ndarray:
    return v / np.linalg.norm(v, axis=-1, keepdims=True)


def test_similar_groups_planted_sets_and_no_chaining() -> None:
    from organizer.cluster import similar

    rng = np.random.default_rng(3)
    d = 256
    centres = _unit(rng.normal(size=(40, d)))
    members = np.repeat(np.arange(40), 5)
    vecs = _unit(centres[members] + rng.normal(size=(200, d)) * 0.02)  # pairwise cosine ~0.9
    noise = _unit(rng.normal(size=(300, d)))  # unrelated singles
    # a chain: each step is similar to the next (cosine ~0.9), but the ends are unrelated
    start, end = _unit(rng.normal(size=d)), _unit(rng.normal(size=d))
    chain = _unit(np.stack([np.cos(t) * start + np.sin(t) * _unit(end - (end @ start) * start)
                            for t in np.linspace(0, np.pi / 2, 12)]))
    x = np.concatenate([vecs, noise, chain]).astype(np.float16)
    ids = np.arange(len(x)) + 1000
    groups = similar.find_similar(ids, x, sim=0.8, k=10)
    planted = [g for g in groups if max(g) < 1200]
    assert sorted(planted) == [tuple(range(1000 + 5 * c, 1005 + 5 * c)) for c in range(40)]
    assert not [g for g in groups if any(1200 <= m < 1500 for m in g)]  # noise stays alone
    chain_groups = [g for g in groups if min(g) >= 1500]
    assert chain_groups and all(len(g) < 12 for g in chain_groups)
    xf = x.astype(np.float32)
    for g in chain_groups:  # every group holds together on average
        sub = xf[np.array(g) - 1000]
        pairs = sub @ sub.T
        assert pairs[np.triu_indices(len(g), 1)].mean() >= 0.8


def test_similar_groups_through_the_hnsw_index(monkeypatch: pytest.MonkeyPatch) -> None:
    from organizer.cluster import similar

    monkeypatch.setattr(similar, "EXACT_MAX", 100)  # force the approximate path on a small set
    rng = np.random.default_rng(4)
    centres = _unit(rng.normal(size=(60, 1280)))
    x = _unit(centres[np.repeat(np.arange(60), 4)] + rng.normal(size=(240, 1280)) * 0.01)  # cosine ~0.89
    groups = similar.find_similar(np.arange(240), x.astype(np.float16), sim=0.8, k=8)
    assert sorted(groups) == [tuple(range(4 * c, 4 * c + 4)) for c in range(60)]


def test_nearest_is_by_cosine() -> None:
    from organizer.cluster import similar

    m = _unit(np.array([[1, 0, 0], [0.9, 0.1, 0], [0, 1, 0], [0.5, 0.5, 0]], dtype=np.float32))
    assert [i for i, _ in similar.nearest(m[0], m, 2, exclude=0)] == [1, 3]


def test_similar_groups_and_duplicates_share_one_neighbour_search() -> None:
    """The regroup's library computes the CNN neighbours once; the similar groups found with them
    are those found alone, and the duplicate finder gets the same neighbours as its own rows."""
    from organizer import config as config_mod
    from organizer.cluster import methods, registry, similar
    from organizer.cluster.library import Library

    rng = np.random.default_rng(5)
    centres = _unit(rng.normal(size=(30, 256)))
    x = _unit(centres[np.repeat(np.arange(30), 4)] + rng.normal(size=(120, 256)) * 0.02).astype(np.float16)
    n = 130  # ten more photos without a vector (a video, a photo the model could not read)
    ids = np.arange(n, dtype=np.int64) * 3 + 7
    with_vector = np.sort(rng.choice(n, size=120, replace=False))
    zeros = np.zeros(n, dtype=np.uint64)
    lib = Library(ids, [str(i) for i in ids], np.zeros(n, np.int64), np.zeros(n, bool), np.full(n, np.nan),
                  np.full(n, np.nan), zeros, rng.integers(1, 2**63, n).astype(np.uint64), np.ones(n, np.int64),
                  np.zeros(n, bool), features={"cnn": (ids[with_vector], x)})
    section = config_mod.load(env={}).similar
    groups = methods.find_in(lib, section, threads=1)
    assert list(lib.memo) == [("cnn", section.neighbours)]
    vis_ids, near = lib.cnn_neighbours(section.neighbours, 1)
    assert lib.cnn_neighbours(section.neighbours, 1)[1] is near  # computed once
    alone = similar.find_similar(vis_ids, x, section.sim, section.neighbours, 2, 1)
    assert sorted(groups) == sorted(g for g in alone if len(g) >= section.min_photos) and len(groups) == 30
    settings = registry.copies.Settings(neighbours=section.neighbours)
    rows = registry._near_rows(lib, settings)
    assert rows is not None and rows.shape == (n, section.neighbours) and list(lib.memo) == [("cnn", 10)]
    for i in range(n):
        if i in with_vector:
            assert set(ids[rows[i]]) == set(vis_ids[near[np.searchsorted(vis_ids, ids[i])]])
        else:
            assert set(rows[i]) == {i}  # none: itself, which the finder drops


def test_a_companions_vector_is_in_no_visual_group() -> None:
    """The catalog holds vectors for companions too (a RAW's JPEG); they go with their primary,
    so the clusterers never see them, and the duplicate finder's rows stay the library's."""
    from organizer import config as config_mod
    from organizer.cluster import methods, registry
    from organizer.cluster.library import Library

    rng = np.random.default_rng(6)
    x = _unit(np.repeat(_unit(rng.normal(size=(10, 64))), 3, axis=0) + rng.normal(size=(30, 64)) * 0.01)
    ids = np.arange(30, dtype=np.int64) * 2 + 10  # even ids are items; 11 is a companion
    zeros = np.zeros(30, dtype=np.uint64)
    cnn = (np.concatenate([ids[:1], [11], ids[1:]]), np.concatenate([x[:1], x[:1], x[1:]]).astype(np.float16))
    lib = Library(ids, [str(i) for i in ids], np.zeros(30, np.int64), np.zeros(30, bool), np.full(30, np.nan),
                  np.full(30, np.nan), zeros, rng.integers(1, 2**63, 30).astype(np.uint64), np.ones(30, np.int64),
                  np.zeros(30, bool), features={"cnn": cnn})
    assert 11 not in lib.visual("cnn")[0] and len(lib.visual("cnn")[0]) == 30
    section = config_mod.load(env={}).similar
    groups = methods.find_in(lib, section, threads=1)
    assert sorted(groups) == [tuple(int(i) for i in ids[3 * c:3 * c + 3]) for c in range(10)]
    rows = registry._near_rows(lib, registry.copies.Settings(neighbours=section.neighbours))
    assert rows is not None and set(rows[0]) >= {1, 2}  # the first item's copies, by their rows
