"""The pages' thumbnails: files under `map/thumbs/`, hard-linked (or copied) from the catalog's
cache, so that the gallery and the map work wherever the output folder is served from."""

from __future__ import annotations

import logging
import os
import shutil
from collections.abc import Mapping
from pathlib import Path

log = logging.getLogger(__name__)

FOLDER = "thumbs"


def name(digest: str) -> str:
    """A photo's thumbnail under `map/thumbs/`: `ab/abcdef....jpg`, in 256 folders so that none
    holds a million files."""
    return f"{digest[:2]}/{digest}.jpg"


def _present(folder: Path) -> set[str]:
    """What is there, with the flat `<digest>.jpg` files earlier versions made (pruned); the
    `faces/` folder holds People albums' covers (publish.facecrops)."""
    found = set()
    for entry in os.scandir(folder):
        if entry.is_dir(follow_symlinks=False) and (len(entry.name) == 2 or entry.name == "faces"):
            found.update(f"{entry.name}/{inner}" for inner in os.listdir(entry.path))
        elif entry.name.endswith(".jpg"):
            found.add(entry.name)
    return found


def sync(folder: Path, wanted: Mapping[str, str], prune: bool = True) -> int:
    """Make `folder` hold `wanted` (name from `name()` -> cached thumbnail path) and, with `prune`,
    nothing else of ours; returns how many were copied. Hard links where the cache is on the same
    file system; a thumbnail that cannot be copied is a warning."""
    folder.mkdir(parents=True, exist_ok=True)
    present = _present(folder)
    copied = 0
    unsafe: set[str] = set()
    for rel, source in wanted.items():
        if rel in present:
            continue
        target = folder / rel
        shard = rel.split("/")[0]
        if shard in unsafe or target.parent.is_symlink():  # never written through a link not ours
            if shard not in unsafe:
                log.warning("%s: a symlink where organizer keeps thumbnails; left alone", target.parent)
                unsafe.add(shard)
            continue
        try:
            target.parent.mkdir(exist_ok=True)
            try:
                os.link(source, target)
            except OSError:
                shutil.copyfile(source, target)
            copied += 1
        except OSError as exc:
            log.warning("%s: cannot copy thumbnail: %s", source, exc.strerror or exc)
    if prune:
        for rel in present - set(wanted):
            if rel.endswith(".jpg"):
                (folder / rel).unlink()
    return copied
