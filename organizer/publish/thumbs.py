"""The map's thumbnails: files under `map/thumbs/`, copied from the catalog's cache."""

from __future__ import annotations

import logging
import os
import shutil
from collections.abc import Mapping
from pathlib import Path

log = logging.getLogger(__name__)


def sync(folder: Path, wanted: Mapping[str, str]) -> int:
    """Make `folder` hold exactly `wanted` (file name -> cached thumbnail path); returns how many
    were copied. Hard links are used where the cache is on the same filesystem."""
    folder.mkdir(parents=True, exist_ok=True)
    present = set(os.listdir(folder))
    copied = 0
    for name, source in wanted.items():
        if name in present:
            continue
        try:
            try:
                os.link(source, folder / name)
            except OSError:
                shutil.copyfile(source, folder / name)
            copied += 1
        except OSError as exc:
            log.warning("%s: cannot copy thumbnail: %s", source, exc.strerror or exc)
    for name in present - set(wanted):
        if name.endswith(".jpg"):
            (folder / name).unlink()
    return copied
