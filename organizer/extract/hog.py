"""HOG (histograms of oriented gradients, scikit-image) of a fixed-size grey image, as clustimage
computes it: `orientations`, `pixels_per_cell` and `cells_per_block` by their names there, on a
`size` x `size` grey copy of the photo. Stored as float16: (size / pixels_per_cell)^2 x
cells_per_block^2 x orientations values (2,048, 4 KB, with the defaults 8, 8, 1 on 128 px)."""

from __future__ import annotations

import numpy as np
from PIL import Image
from skimage.feature import hog

from organizer.extract.features import Feature, Params


def compute(image: Image.Image, params: Params) -> bytes:
    size = int(params["size"])
    cell, block = int(params["pixels_per_cell"]), int(params["cells_per_block"])
    grey = np.asarray(image.convert("L").resize((size, size), Image.Resampling.BILINEAR), dtype=np.float32) / 255.0
    values = hog(grey, orientations=int(params["orientations"]), pixels_per_cell=(cell, cell),
                 cells_per_block=(block, block), feature_vector=True)
    return values.astype(np.float16).tobytes()


def vectors(values: list[bytes], params: Params) -> np.ndarray:
    """The stored values as rows (float32)."""
    return np.frombuffer(b"".join(values), dtype=np.float16).reshape(len(values), -1).astype(np.float32)


FEATURE = Feature("hog", 1, compute)
