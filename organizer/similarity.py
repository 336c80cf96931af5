"""The similar stage's inputs from the catalog: the vectors of `similar.features` (and, for the
re-scorers, the cached thumbnails' paths), loaded into cluster.library.Library.features; and
the CNN vector of any photo file, for `organizer similar FILE`. Grouping is cluster.methods."""

from __future__ import annotations

import numpy as np

from organizer.catalog import Catalog
from organizer.catalog import shown as catalog_shown
from organizer.config import Config
from organizer.extract import features as features_mod
from organizer.extract import vectors, visual

def features(catalog: Catalog, config: Config) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """What `similar.features` names, as cluster.library.Library.features holds it: name ->
    (photo ids, one row each); and "thumbs" (their cached thumbnail paths) for the re-scorers."""
    out: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    for name in config.similar.features:
        stored = visual.stored_name(name, config.similar)
        if stored is None:
            spec = vectors.spec(config.vectors)
            ids, blobs = catalog.photos.vectors(vectors.model_id(spec)) if spec is not None else ([], [])
            rows = np.frombuffer(b"".join(blobs), dtype=np.float16).reshape(len(ids), -1 if ids else 0)
        else:
            ids, blobs = catalog.photos.features(stored, features_mod.version(stored, visual.params(stored,
                                                                                                   config.similar)))
            rows = visual.vectors(name, blobs, config.similar) if ids else np.zeros((0, 0), np.float32)
        out[name] = (np.array(ids, dtype=np.int64), rows)
    if config.similar.rescore:
        facts = catalog.photos.facts()
        out["thumbs"] = (np.array([f.id for f in facts], dtype=np.int64), np.array([f.thumb for f in facts], object))
    return out


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
        vector, _, _ = extract.refresh(src, options, vectors.Model(spec, config.catalog.cache_dir))
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
