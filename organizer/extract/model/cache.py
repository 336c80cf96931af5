"""The built-in graph in the cache folder: written once from the weights, float32 or int8 with
the shipped activation ranges, under a name that changes whenever the graph does."""

from __future__ import annotations

import functools
import hashlib
import json
import os
from pathlib import Path
from typing import TYPE_CHECKING

from organizer.extract.model import BUILTIN, ModelError, onnxgraph, pth

if TYPE_CHECKING:
    from organizer.extract.vectors import ModelSpec

RANGES_FILE = Path(__file__).with_name("efficientnet-lite0-int8.json")
GRAPH_VERSION = 3  # bumped whenever build_onnx writes a different graph (the cache file's name)
# bumped whenever the built-in graph computes different vectors (the model id: stored ones go stale).
# Graph 3 (RGBX input) computes graph 2's vectors: int8 exactly, float32 within rounding.
FEATURES_VERSION = 2


@functools.lru_cache(maxsize=4)  # read by the model id and by the graph build
def int8_ranges(path: Path = RANGES_FILE) -> tuple[dict[str, tuple[float, float]], str]:
    """The activation ranges shipped for the int8 graph (made by bench/bench_vectors.py --write),
    and their digest."""
    try:
        data = path.read_bytes()
        shipped = json.loads(data)
        ranges = {k: (float(lo), float(hi)) for k, (lo, hi) in shipped["ranges"].items()}
        weights = shipped["weights_sha256"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ModelError(f"{path}: unreadable int8 ranges ({exc}); set vectors.precision = \"float32\"") from None
    if weights != pth.PTH_SHA256:
        raise ModelError(f"{path}: calibrated for other weights")
    return ranges, hashlib.sha256(data).hexdigest()


def builtin_tag(precision: str) -> str:
    """The built-in model's precision, features version and (int8) ranges: part of its model id."""
    if precision == "float32":
        return f"float32-g{FEATURES_VERSION}"
    return f"int8-g{FEATURES_VERSION}-{int8_ranges()[1][:8]}"


def graph_path(spec: ModelSpec, cache_dir: str | os.PathLike, classifier: bool = False) -> str:
    """The ONNX file to run: the user's, or the built-in one, built into the cache on first use
    (with its `classifier` head: a separate file)."""
    if spec.model != BUILTIN:
        if not os.path.isfile(spec.model):
            raise ModelError(f"{spec.model}: no such ONNX model file")
        return spec.model
    head = "-classifier" if classifier else ""
    name = f"{BUILTIN}-{builtin_tag(spec.precision)}{head}-{pth.PTH_SHA256[:12]}-graph{GRAPH_VERSION}.onnx"
    graph = Path(cache_dir) / "models" / name
    if not graph.is_file():
        ranges = int8_ranges()[0] if spec.precision == "int8" else None
        _write(graph, onnxgraph.build_onnx(pth.read_state_dict(pth.builtin_weights()), ranges, classifier))
    return str(graph)


def _write(graph: Path, data: bytes) -> None:
    """The graph file, written atomically; the files of earlier graph versions removed."""
    graph.parent.mkdir(parents=True, exist_ok=True)
    tmp = graph.with_suffix(f".{os.getpid()}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, graph)
    for old in graph.parent.glob(f"{BUILTIN}-*.onnx"):  # written by an earlier graph version
        if not old.name.endswith(f"-graph{GRAPH_VERSION}.onnx"):
            old.unlink(missing_ok=True)
