"""ORB keypoint descriptors (OpenCV), as Image_Grouping uses them: up to `keypoints` 32-byte
binary descriptors of a grey copy whose long side is 512 px. Stored as they come (up to 16 KB
with 500 keypoints; none for a flat picture).

As vectors for grouping: a bag of visual words. A vocabulary of `WORDS` binary words is learnt at
cluster time (k-means on a sample of the library's descriptors, seeded), each photo is the
histogram of its descriptors' nearest words, square-rooted and normalised."""

from __future__ import annotations

import cv2
import numpy as np
from PIL import Image

from organizer.extract.features import Feature, Params

LONG_SIDE = 512
WORDS = 256
SAMPLE = 50_000  # descriptors the vocabulary is learnt from


def descriptors(grey: np.ndarray, keypoints: int) -> np.ndarray:
    """ORB descriptors (n, 32) uint8 of a grey uint8 image; (0, 32) when it has no corners."""
    orb = cv2.ORB_create(nfeatures=keypoints)
    _, found = orb.detectAndCompute(grey, None)
    return np.zeros((0, 32), dtype=np.uint8) if found is None else found


def compute(image: Image.Image, params: Params) -> bytes:
    grey = image.convert("L")
    scale = LONG_SIDE / max(grey.size)
    grey = grey.resize((max(1, round(grey.width * scale)), max(1, round(grey.height * scale))),
                       Image.Resampling.BILINEAR)
    return descriptors(np.asarray(grey, dtype=np.uint8), int(params["keypoints"])).tobytes()


def vectors(values: list[bytes], params: Params, seed: int = 0) -> np.ndarray:
    from sklearn.cluster import MiniBatchKMeans

    per_photo = [np.unpackbits(np.frombuffer(v, dtype=np.uint8).reshape(-1, 32), axis=1).astype(np.float32)
                 for v in values]
    every = np.concatenate(per_photo) if per_photo else np.zeros((0, 256), np.float32)
    out = np.zeros((len(values), WORDS), dtype=np.float32)
    if len(every) < WORDS:
        return out
    rng = np.random.default_rng(seed)
    sample = every[rng.choice(len(every), size=min(len(every), SAMPLE), replace=False)]
    vocabulary = MiniBatchKMeans(n_clusters=WORDS, random_state=seed, n_init=1, batch_size=4096).fit(sample)
    for i, bits in enumerate(per_photo):
        if len(bits):
            out[i] = np.sqrt(np.bincount(vocabulary.predict(bits), minlength=WORDS))
    return out


FEATURE = Feature("orb", 1, compute)
