"""Faces (dlib, from the `faces` extra): HOG frontal face detection, dlib's 5-point landmarks and
its ResNet 128-d descriptor, on the photo's reduced decode. Models are face_recognition_models'
package data: nothing is downloaded.

Stored as one fixed 560-byte record per face (see `RECORD`): the box (left, top, right, bottom as
fractions of the image, clipped to it), the 5 landmarks (x, y fractions), the detector score and the descriptor;
no faces: empty bytes."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Any

import dlib
import face_recognition_models
import numpy as np
from PIL import Image

from organizer.extract.features import Feature, Params

LONG_SIDE = 1024  # detection runs on this long side at most (the HOG detector's cost is per pixel)
CROP_SIDE = 160  # each face's crop in the cache (publish makes People covers larger, from the original)
RECORD = np.dtype([("box", "<f4", 4), ("landmarks", "<f4", (5, 2)), ("score", "<f4"), ("descriptor", "<f4", 128)])


@dataclass(frozen=True)
class Faces:
    box: np.ndarray  # (n, 4) fractions of width and height
    landmarks: np.ndarray  # (n, 5, 2)
    score: np.ndarray  # (n,)
    descriptor: np.ndarray  # (n, 128) float32

    def __len__(self) -> int:
        return len(self.score)


@cache
def _models() -> tuple[Any, Any, Any]:
    return (dlib.get_frontal_face_detector(),
            dlib.shape_predictor(face_recognition_models.pose_predictor_five_point_model_location()),
            dlib.face_recognition_model_v1(face_recognition_models.face_recognition_model_location()))


def detect(image: Image.Image, min_face_px: int, min_score: float) -> Faces:
    """The faces of an RGB image at least `min_face_px` wide (in the image's pixels) and scored
    at least `min_score` by the detector."""
    return unpack(_records(image, min_face_px, min_score).tobytes())


def _records(image: Image.Image, min_face_px: int, min_score: float) -> np.ndarray:
    rgb = image.convert("RGB")
    scale = min(1.0, LONG_SIDE / max(rgb.size))
    if scale < 1.0:
        rgb = rgb.resize((max(1, round(rgb.width * scale)), max(1, round(rgb.height * scale))),
                         Image.Resampling.BILINEAR)
    pixels = np.ascontiguousarray(np.asarray(rgb, dtype=np.uint8))
    detector, predictor, encoder = _models()
    boxes, scores, _ = detector.run(pixels, 1, 0.0)  # upsample once: faces down to ~40 px are found
    records = []
    w, h = rgb.size
    for box, score in zip(boxes, scores):
        if box.width() < min_face_px * scale or score < min_score:
            continue
        shape = predictor(pixels, box)
        descriptor = np.array(encoder.compute_face_descriptor(pixels, shape), dtype=np.float32)
        points = [(p.x / w, p.y / h) for p in shape.parts()]
        edges = np.clip((box.left() / w, box.top() / h, box.right() / w, box.bottom() / h), 0.0, 1.0)
        records.append((edges, points, score, descriptor))
    return np.array(records, dtype=RECORD)


def unpack(value: bytes) -> Faces:
    rows = np.frombuffer(value, dtype=RECORD)
    return Faces(rows["box"], rows["landmarks"], rows["score"], rows["descriptor"])


def crops(image: Image.Image, value: bytes, side: int = CROP_SIDE) -> list[Image.Image]:
    """Each face of `value` (this image's faces) cut out square, with a margin, `side` px."""
    out = []
    w, h = image.size
    for left, top, right, bottom in unpack(value).box:
        half = min(max((right - left) * w, (bottom - top) * h) * 0.7, w / 2, h / 2)
        cx = min(max((left + right) / 2 * w, half), w - half)
        cy = min(max((top + bottom) / 2 * h, half), h - half)
        box = (round(cx - half), round(cy - half), round(cx + half), round(cy + half))
        out.append(image.crop(box).resize((side, side), Image.Resampling.BILINEAR))
    return out


def compute(image: Image.Image, params: Params) -> bytes:
    return _records(image, int(params["min_face_px"]), float(params["min_score"])).tobytes()


# a 12 MP photo decoded at 1000 x 750 (JPEG's 1/4 scale), not the index pass's 500 x 375: faces
# an eighth of the frame's height and less are found there
FEATURE = Feature("faces", 2, compute, background=True, min_side=720)
