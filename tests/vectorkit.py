"""The vector quality measures that tests/test_vectors.py asserts and bench/bench_vectors.py
prints: each B_skimage-data photo's six variants, and how well the vectors tell them apart.
Importable from the tests (as `vectorkit`) and from the benchmarks (as `tests.vectorkit`)."""

from __future__ import annotations

import io
import itertools
from datetime import datetime
from pathlib import Path

import numpy as np
from PIL import Image, ImageEnhance, ImageOps

from organizer.extract import extract, vectors

SKIMAGE = Path(__file__).resolve().parent.parent.parent / "shared" / "corpora" / "B_skimage-data"


def _variants(img: Image.Image) -> list[bytes]:
    w, h = img.size

    def crop(f: float) -> Image.Image:
        cw, ch = int(w * f), int(h * f)
        return img.crop(((w - cw) // 2, (h - ch) // 2, (w - cw) // 2 + cw, (h - ch) // 2 + ch))

    def png(im: Image.Image) -> bytes:
        out = io.BytesIO()
        im.save(out, "PNG")
        return out.getvalue()

    q25 = io.BytesIO()
    img.save(q25, "JPEG", quality=25)
    return [png(crop(0.8)), png(crop(0.6)), png(img.resize((w // 2, h // 2))), png(ImageOps.mirror(img)),
            q25.getvalue(), png(ImageEnhance.Brightness(img).enhance(1.4))]


def variant_vectors(model: vectors.Model) -> tuple[list[str], np.ndarray]:
    """Each B_skimage-data photo's six variants through the real pipeline: their sources and vectors."""
    sources, vecs = [], []
    for path in sorted(SKIMAGE.iterdir()):
        # the stereo pair is one scene (visual_groups.csv: skimage_stereo_motorcycle)
        source = "motorcycle" if path.name.startswith("motorcycle") else path.name
        with Image.open(path) as im:
            img = im.convert("RGB")
        for data in _variants(img):
            facts = extract(data, path.name, 0.0, datetime.now(), model=model)
            vecs.append(np.frombuffer(facts.vector, dtype=np.float16).astype(np.float32))
            sources.append(source)
    return sources, np.stack(vecs)


def separation(sources: list[str], matrix: np.ndarray) -> tuple[int, float, float]:
    """How many nearest neighbours share their source; the lowest same-source and the highest
    different-source cosine."""
    sim = matrix @ matrix.T
    np.fill_diagonal(sim, -np.inf)
    right = sum(sources[int(j)] == sources[i] for i, j in enumerate(sim.argmax(axis=1)))
    pairs = list(itertools.combinations(range(len(sources)), 2))
    same = min(sim[i, j] for i, j in pairs if sources[i] == sources[j])
    other = max(sim[i, j] for i, j in pairs if sources[i] != sources[j])
    return right, float(same), float(other)
