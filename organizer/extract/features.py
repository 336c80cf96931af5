"""Registered per-photo features: computed from the photo's one decode, stored with the version
(and parameters) that made them, so that a new feature, or a new version of one, reaches an
existing library by one scan, recomputing exactly that feature.

A feature is one module with a `FEATURE = Feature(...)` and one line in `MODULES`. Modules load
only when their feature is asked for, so a feature whose packages are an optional extra
(`organizer[explore]`, `organizer[faces]`) costs nothing to those who do not use it, and asking
for it without the extra is one clear error naming it.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import json
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from typing import Any

from PIL import Image

from organizer.errors import ConfigError

Params = Mapping[str, Any]


@dataclass(frozen=True)
class Feature:
    name: str
    version: int  # bump when `compute` changes what it makes
    compute: Callable[[Image.Image, Params], bytes]  # the oriented, reduced RGB image -> stored bytes
    # computed in the background pass, after indexing and at idle priority, never while a photo
    # is indexed (faces: 0.3 s of CPU a photo, which a new photo's links must not wait for)
    background: bool = False
    # the decode's shorter side this feature needs (0: the index pass's, extract.Options.thumb_size);
    # only a background feature may ask for more, its pass having a decode of its own
    min_side: int = 0


# feature name -> (the module that defines it, imported on first use; the extra it needs, if any)
MODULES: dict[str, tuple[str, str | None]] = {
    "duplicates": ("organizer.extract.dupefeatures", None),
    "hog": ("organizer.extract.hog", "explore"),
    "grey": ("organizer.extract.grey", None),
    "phash": ("organizer.extract.phash", None),
    "orb": ("organizer.extract.orb", "explore"),
    "faces": ("organizer.extract.faces", "faces"),
}


class MissingExtra(ConfigError):
    """A feature whose packages are not installed."""


def get(name: str) -> Feature:
    if name not in MODULES:
        raise ConfigError(f"unknown feature {name!r} (known: {', '.join(sorted(MODULES)) or 'none'})")
    module, extra = MODULES[name]
    try:
        return importlib.import_module(module).FEATURE
    except ImportError as exc:
        if extra is None:
            raise
        raise MissingExtra(f"the {name!r} feature needs packages that are not installed ({exc.name or exc}): "
                           f"pip install 'organizer[{extra}]'") from None


def version(name: str, params: Params) -> str:
    """The stored version of a feature made with `params`: other params are another version."""
    feature = get(name)
    tag = hashlib.blake2b(json.dumps(dict(params), sort_keys=True, default=str).encode(), digest_size=6).hexdigest()
    return f"{feature.version}:{tag}"


def compute(image: Image.Image, wanted: Mapping[str, Params]) -> dict[str, tuple[str, bytes]]:
    """Every wanted feature of one image: name -> (version, value)."""
    return {name: (version(name, params), get(name).compute(image, params)) for name, params in wanted.items()}


def min_side(names: Collection[str]) -> int:
    """The largest decode these features need (0: none asks for more than the index pass's)."""
    return max((get(name).min_side for name in names), default=0)


def background(names: Collection[str]) -> frozenset[str]:
    """Which of these features are computed in the background pass."""
    return frozenset(name for name in names if get(name).background)


def wanted(config: Any) -> dict[str, Params]:
    """The registered features a configuration (a `config.Config`) uses, with their parameters:
    each consumer (similar groups, duplicates, faces) names what it needs in its own section."""
    out: dict[str, Params] = {}
    for consumer in CONSUMERS:
        out.update(consumer(config))
    return out


from organizer.extract import visual  # noqa: E402  (a consumer; it reads this module's registry)

# functions Config -> {feature name: params}; a consumer of features adds itself here
def _duplicates(config: Any) -> dict[str, Params]:
    return {"duplicates": {}}  # the duplicate finder's framed regions and colourfulness, always


def _faces_installed() -> bool:
    """Whether the `faces` extra is installed (found, not imported: dlib's models load on first use)."""
    return all(importlib.util.find_spec(m) is not None for m in ("dlib", "face_recognition_models"))


def _faces(config: Any) -> dict[str, Params]:
    """People albums: faces, when `faces.enabled` (auto: where the `faces` extra is installed)."""
    section = config.faces
    if section.enabled == "off" or (section.enabled == "auto" and not _faces_installed()):
        return {}
    get("faces")  # set true without the extra: the clear error
    return {"faces": {"min_face_px": section.min_face_px, "min_score": section.min_score}}


CONSUMERS: list[Callable[[Any], dict[str, Params]]] = [_duplicates, visual.wanted, _faces]
