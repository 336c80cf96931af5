"""Registered visual features, grouping methods and pixel re-scorers, on real generated pictures
and planted vectors (no database), and their registries against the config's names."""

from __future__ import annotations

import sys

import numpy as np
import pytest
from PIL import Image

from organizer import config, demo
from organizer.cluster import methods, rescore, similar
from organizer.errors import ConfigError
from organizer.extract import features, visual
from organizer.extract.features import MissingExtra


def planted(groups: int = 6, size: int = 5, dims: int = 64, noise: float = 0.25, seed: int = 0
            ) -> tuple[np.ndarray, np.ndarray, list[tuple[int, ...]]]:
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(groups, dims))
    x = np.repeat(centres, size, axis=0) + rng.normal(0, noise, size=(groups * size, dims))
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    ids = np.arange(1000, 1000 + groups * size)
    truth = [tuple(range(1000 + g * size, 1000 + (g + 1) * size)) for g in range(groups)]
    return ids, x.astype(np.float32), truth


def test_registries_name_what_the_config_accepts() -> None:
    assert tuple(methods.METHODS) == config.SIMILAR_METHODS
    assert tuple(rescore.SCORERS) == config.RESCORERS
    assert visual.NAMES == config.SIMILAR_FEATURES
    stored = {visual.stored_name(n, config.load(env={}).similar) for n in visual.NAMES} - {None}
    assert stored <= set(features.MODULES)


@pytest.mark.parametrize("method", config.SIMILAR_METHODS)
def test_every_method_finds_planted_groups(method: str) -> None:
    ids, x, truth = planted()
    params = methods.Params(method=method, sim=0.7, k_choice="silhouette", alpha=0.0)
    assert sorted(methods.find(ids, {"hog": x}, params)) == truth


def test_the_default_is_todays_average_linkage_exactly() -> None:
    ids, x, _ = planted(groups=40, size=4, noise=0.6, seed=3)
    x16 = x.astype(np.float16)
    today = similar.find_similar(ids, x16, 0.8, 10, 2)
    assert methods.find(ids, {"cnn": x16}, methods.Params()) == today
    assert today  # the case has groups to compare


def test_chain_links_what_average_splits() -> None:
    # X~A~B~Y: neighbours alike, the ends not
    angles = np.linspace(0, 1.2, 7)
    x = np.stack([np.cos(angles), np.sin(angles)], axis=1).astype(np.float32)
    ids = np.arange(7)
    chain = methods.find(ids, {"grey": x}, methods.Params(method="chain", sim=0.97, neighbours=2))
    average = methods.find(ids, {"grey": x}, methods.Params(method="average", sim=0.97, neighbours=2))
    assert chain == [tuple(range(7))]
    assert len(average) > 1 and all(len(g) < 7 for g in average)


def test_mix_keeps_apart_alike_photos_far_apart_in_time() -> None:
    ids, x, truth = planted(groups=1, size=6, noise=0.2)
    hours = np.array([0, 0.1, 0.2, 100, 100.1, 100.2]) * 3600.0
    content = methods.find(ids, {"hog": x}, methods.Params(method="mix", alpha=0.0, sim=0.7), seconds=hours)
    mixed = methods.find(ids, {"hog": x}, methods.Params(method="mix", alpha=0.5, sim=0.7), seconds=hours)
    assert content == truth
    assert sorted(mixed) == [tuple(ids[:3].tolist()), tuple(ids[3:].tolist())]


def test_mix_groups_undated_photos_by_content_alone() -> None:
    """A pair with an undated photo has no time distance: its content decides, as in agglomerative."""
    ids, x, truth = planted(groups=3, size=4, noise=0.2)
    undated = np.full(len(ids), np.nan)
    mixed = methods.find(ids, {"hog": x}, methods.Params(method="mix", alpha=0.5, sim=0.7), seconds=undated)
    alone = methods.find(ids, {"hog": x}, methods.Params(method="agglomerative", sim=0.7))
    assert sorted(mixed) == sorted(alone) == sorted(truth)
    half = undated.copy()
    half[:2] = [0.0, 500 * 3600.0]  # two of one group dated far apart: time keeps those two apart only
    split = methods.find(ids, {"hog": x}, methods.Params(method="mix", alpha=0.9, sim=0.7), seconds=half)
    assert not any({int(ids[0]), int(ids[1])} <= set(g) for g in split)


def test_kmeans_chooses_k_by_knee_silhouette_and_davies_bouldin() -> None:
    _, x, _ = planted(groups=5, size=8, noise=0.2)
    curve = methods.kmeans_curve(x, 12)
    assert len(curve["inertia"]) == 12 and np.isnan(curve["silhouette"][0])
    assert methods.choose_k(curve, "silhouette") == 5
    assert methods.choose_k(curve, "davies-bouldin") == 5
    assert 3 <= methods.choose_k(curve, "knee") <= 7


def test_several_features_average_their_cosines() -> None:
    _, a, _ = planted(seed=1)
    _, b, _ = planted(seed=2)
    both = visual.combine({"hog": a * 3.0, "phash": b})
    np.testing.assert_allclose(both @ both.T, (a @ a.T + b @ b.T) / 2, atol=1e-5)


def test_an_unknown_method_is_a_config_error() -> None:
    ids, x, _ = planted()
    with pytest.raises(ConfigError, match="unknown similar.method 'nope'"):
        methods.find(ids, {"hog": x}, methods.Params(method="nope"))


SECTION = config.load(env={}).similar


def test_features_compute_from_a_photo_and_read_back_as_vectors() -> None:
    burst = [demo.render(7, demo.View(dx=8.0 * f)) for f in range(2)]
    other = demo.render(8)
    for name in ("hog", "grey", "phash", "orb"):
        params = visual.params(name, SECTION)
        values = [features.get(name).compute(img, params) for img in (*burst, other)]
        rows = visual.normalised(visual.vectors(name, values, SECTION))
        same, different = float(rows[0] @ rows[1]), float(rows[0] @ rows[2])
        assert same > different, (name, same, different)
    hog = features.get("hog").compute(other, visual.params("hog", SECTION))
    assert len(hog) == 2 * (128 // 8) ** 2 * 8  # float16: cells x orientations
    assert len(features.get("phash").compute(other, {"size": 16})) == 16 * 16 // 8
    assert features.version("phash", {"size": 8}) != features.version("phash", {"size": 16})


def test_phash_vectors_are_hamming_distances() -> None:
    values = [features.get("phash").compute(demo.render(s), {"size": 8}) for s in (1, 2)]
    bits = np.unpackbits(np.frombuffer(b"".join(values), np.uint8).reshape(2, -1), axis=1)
    hamming = int((bits[0] != bits[1]).sum())
    rows = visual.vectors("phash", values, SECTION)
    assert float(rows[0] @ rows[1]) == pytest.approx(1 - 2 * hamming / 64)


def test_orb_on_a_flat_picture_is_no_descriptors_and_a_zero_vector() -> None:
    flat = Image.new("RGB", (400, 300), (120, 120, 120))
    assert features.get("orb").compute(flat, {"keypoints": 100}) == b""
    scene = features.get("orb").compute(demo.render(3), {"keypoints": 100})
    assert 0 < len(scene) <= 100 * 32 and len(scene) % 32 == 0


def test_pca_by_components_or_variance() -> None:
    _, x, _ = planted(groups=4, size=10, dims=32)
    assert visual.pca(x, 3).shape == (40, 3)
    assert 1 <= visual.pca(x, 0.5).shape[1] < 32


@pytest.mark.parametrize("name", config.RESCORERS)
def test_rescorers_score_a_burst_above_unrelated_photos(name: str) -> None:
    shots = [demo.render(11, demo.View(dx=10.0 * f, light=1 - 0.03 * f)) for f in range(2)] + [demo.render(12)]
    greys = [np.asarray(img.convert("L").resize((320, 240)), dtype=np.uint8) for img in shots]
    scorer = rescore.Scorer((name,), lambda row: greys[row])
    burst, unrelated = scorer(np.array([0, 0]), np.array([1, 2]))
    assert 0.0 <= unrelated < burst <= 1.0, (name, burst, unrelated)


def test_rescoring_drops_candidate_pairs_the_pixels_disagree_with() -> None:
    shots = [demo.render(21), demo.render(21, demo.View(dx=6.0)), demo.render(22), demo.render(23)]
    greys = [np.asarray(img.convert("L").resize((320, 240)), dtype=np.uint8) for img in shots]
    x = np.ones((4, 8), dtype=np.float32) / np.sqrt(8)  # the features think all four alike
    ids = np.arange(4)
    plain = methods.find(ids, {"hog": x}, methods.Params(method="chain"))
    checked = methods.find(ids, {"hog": x}, methods.Params(method="chain", rescore=("ssim",), rescore_min=0.8),
                           pixels=lambda row: greys[row])
    assert plain == [(0, 1, 2, 3)] and checked == [(0, 1)]


def test_without_the_extra_a_feature_or_method_is_one_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    for package in ("skimage", "skimage.feature", "kneed", "cv2"):
        monkeypatch.setitem(sys.modules, package, None)  # as if not installed
    for module in ("organizer.extract.hog", "organizer.extract.orb"):
        monkeypatch.delitem(sys.modules, module, raising=False)
    for name in ("hog", "orb"):
        with pytest.raises(MissingExtra, match=r"pip install 'organizer\[explore\]'"):
            features.get(name)
    ids, x, _ = planted()
    with pytest.raises(MissingExtra, match=r"kneed.*organizer\[explore\]"):
        methods.find(ids, {"grey": x}, methods.Params(method="kmeans"))
    with pytest.raises(MissingExtra, match=r"organizer\[explore\]"):
        methods.find(ids, {"grey": x}, methods.Params(rescore=("ssim",)), pixels=lambda row: None)
    assert methods.find(ids, {"grey": x}, methods.Params(method="kmeans", k=6))  # a given k needs no extra


@pytest.mark.parametrize(("key", "value", "message"), [
    ("SIMILAR_FEATURES", '["cnn", "sift"]', "unknown sift"),
    ("SIMILAR_FEATURES", "[]", "name at least one feature"),
    ("SIMILAR_METHOD", "spectral", "must be one of average"),
    ("SIMILAR_RESCORE", '["psnr"]', "unknown psnr"),
    ("SIMILAR_PHASH_SIZE", "17", "at most 16"),
    ("SIMILAR_ALPHA", "1.5", "at most 1"),
    ("SIMILAR_HOG_SIZE", "16", "must hold one block"),
])
def test_bad_similar_settings_are_config_errors(key: str, value: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        config.load(env={f"ORGANIZER_{key}": value, "ORGANIZER_SIMILAR_HOG_PIXELS_PER_CELL": "8",
                         "ORGANIZER_SIMILAR_HOG_CELLS_PER_BLOCK": "3"})
