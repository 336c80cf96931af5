"""EfficientNet-Lite0 written node by node as an ONNX graph: batch-norm folded into the
convolutions, float32, or int8 in QDQ form by the hand-written quantizer (per-channel symmetric
int8 weights, uint8 activations with calibrated ranges, ReLU6 as the clipping of each range, the
input's normalisation as an exact dequantization). Measured against onnxruntime's own
`quantize_static` in bench/bench_quantizers.py: as good, and faster (docs/vectors.md).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Iterable

import numpy as np

from organizer.extract.model import CHANNELS, INPUT

if TYPE_CHECKING:
    import onnx

BN_EPS = 1e-3

# EfficientNet-Lite0 stages: (repeats, kernel, stride, expand ratio, in, out). Lite: no
# squeeze-and-excitation, ReLU6, fixed stem (32) and head (1280).
STAGES = ((1, 3, 1, 1, 32, 16), (2, 3, 2, 6, 16, 24), (2, 5, 2, 6, 24, 40), (3, 3, 2, 6, 40, 80),
          (3, 5, 1, 6, 80, 112), (4, 5, 2, 6, 112, 192), (1, 3, 1, 6, 192, 320))


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


def _features(g: _Graph) -> None:
    """The convolutions from the pixels to the pooled `features`."""
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


def _network(state: dict[str, np.ndarray], ranges: dict[str, tuple[float, float]] | None,
             classifier: bool = False) -> tuple[onnx.ModelProto, list[str]]:
    """The model proto and the names of the tensors the int8 graph quantizes."""
    import onnx
    from onnx import TensorProto, helper

    g = _Graph(state, dict(ranges) if ranges is not None else None)
    _features(g)
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
