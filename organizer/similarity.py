"""The similar stage's inputs from the catalog: the vectors of `similar.features` for each photo
that has them all, its time, and its cached thumbnail's pixels for the re-scorers. Grouping itself
is cluster.methods.find."""

from __future__ import annotations

import functools
import logging
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field

import numpy as np
from PIL import Image

from organizer.catalog import Catalog
from organizer.catalog import shown as catalog_shown
from organizer.cluster import methods
from organizer.config import Config
from organizer.extract import features, vectors, visual

log = logging.getLogger(__name__)


@dataclass
class Visual:
    """Photos and their vectors, aligned row by row."""

    ids: np.ndarray
    features: dict[str, np.ndarray]
    seconds: np.ndarray  # local time, NaN where undated
    thumbs: list[str | None] = field(default_factory=list)  # cached thumbnail paths

    def pixels(self, row: int) -> np.ndarray | None:
        """The grey pixels of a row's cached thumbnail (None when it cannot be read)."""
        path = self.thumbs[row] if row < len(self.thumbs) else None
        if not path:
            return None
        try:
            with Image.open(path) as img:
                return np.asarray(img.convert("L"), dtype=np.uint8)
        except (OSError, ValueError) as exc:
            log.warning("%s: cannot read the thumbnail: %s", path, exc)
            return None


def params(config: Config, threads: int = 1) -> methods.Params:
    return methods.Params.of(config.similar, threads)


def _stored(catalog: Catalog, config: Config, name: str) -> tuple[list[int], list[bytes]] | None:
    stored = visual.stored_name(name, config.similar)
    if stored is None:
        spec = vectors.spec(config.vectors)
        return None if spec is None else catalog.photos.vectors(vectors.model_id(spec))
    return catalog.photos.features(stored, features.version(stored, visual.params(stored, config.similar)))


def load(catalog: Catalog, config: Config, skip: Collection[int] = (), times: Mapping[int, float] | None = None,
         only: Collection[int] | None = None) -> Visual | None:
    """The photos (not in `skip`; of `only`, if given) that have every feature `similar.features`
    names; None when one of them is not made at all (the CNN with vectors turned off)."""
    found: dict[str, tuple[np.ndarray, list[bytes]]] = {}
    for name in config.similar.features:
        stored = _stored(catalog, config, name)
        if stored is None:
            return None
        found[name] = (np.array(stored[0], dtype=np.int64), stored[1])  # in photo id order
    every = [fids for fids, _ in found.values()]
    ids = functools.reduce(np.intersect1d, every)
    ids = ids[~np.isin(ids, np.fromiter(skip, dtype=np.int64))]
    if only is not None:
        ids = ids[np.isin(ids, np.fromiter(only, dtype=np.int64))]
    lacking = {name: len(functools.reduce(np.union1d, every)) - len(fids) for name, (fids, _) in found.items()}
    if any(lacking.values()):
        log.info("similar: photos left out for lacking a feature: %s (run `organizer scan`)", lacking)
    matrices: dict[str, np.ndarray] = {}
    for name, (fids, blobs) in found.items():
        chosen = [blobs[i] for i in np.searchsorted(fids, ids)]
        if name == "cnn":
            matrices[name] = np.frombuffer(b"".join(chosen), dtype=np.float16).reshape(len(ids), -1 if chosen else 0)
        else:
            matrices[name] = visual.vectors(name, chosen, config.similar) if len(ids) else np.zeros((0, 1), np.float32)
    ids = ids.tolist()
    seconds = np.array([np.nan if times is None else times.get(i, np.nan) for i in ids], dtype=np.float64)
    thumbs: list[str | None] = []
    if config.similar.rescore and ids:
        by_id = {f.id: f.thumb for f in catalog.photos.facts(ids)}
        thumbs = [by_id.get(i) for i in ids]
    return Visual(np.array(ids, dtype=np.int64), matrices, seconds, thumbs)


def groups(visual_: Visual, config: Config, threads: int = 1) -> list[tuple[int, ...]]:
    """The similar groups of loaded photos, by the configured method."""
    return methods.find(visual_.ids, visual_.features, params(config, threads), seconds=visual_.seconds,
                        pixels=visual_.pixels)


def vector_of_file(path: str, config: Config) -> np.ndarray:
    """The CNN vector of any photo file, catalogued or not (query by example, clustimage's find):
    read and decoded as a scan would, embedded by the same model."""
    from organizer import extract
    from organizer.errors import OrganizerError
    from organizer.workers import THUMB_SIZE

    spec = vectors.spec(config.vectors)
    if spec is None:
        raise OrganizerError("vectors are turned off (vectors.enabled = false)")
    shown_path = catalog_shown(path)
    options = extract.Options(THUMB_SIZE, config.scan.max_file_mb * 1024 * 1024, config.scan.max_megapixels)
    try:
        src = extract.open_file(path, options.max_image_bytes)
        vector, _ = extract.refresh(src, options, vectors.Model(spec, config.catalog.cache_dir))
    except FileNotFoundError:
        raise OrganizerError(f"{shown_path}: not in the catalog, and no such file") from None
    except IsADirectoryError:
        raise OrganizerError(f"{shown_path}: a folder, not a photo") from None
    except (extract.NotMedia, extract.TooLarge) as exc:
        raise OrganizerError(f"{shown_path}: not a photo organizer can read ({exc})") from None
    except OSError as exc:
        raise OrganizerError(f"{shown_path}: cannot read: {exc.strerror or exc}") from None
    except Exception as exc:  # the decoders' own failures on a broken file
        raise OrganizerError(f"{shown_path}: cannot decode: {exc}") from None
    if vector is None:
        raise OrganizerError(f"{shown_path}: no vector could be made")
    return np.frombuffer(vector, dtype=np.float16)
