"""Folders reached through file descriptors, never through a symlink: each folder opened with
O_NOFOLLOW relative to its parent's descriptor, links read and removed relative to their folder,
two names swapped atomically. The album tree's safety rests on these."""

from __future__ import annotations

import ctypes
import errno
import logging
import os
import stat
from collections.abc import Callable, Mapping

from organizer.errors import OutputError

log = logging.getLogger(__name__)

_RENAME_EXCHANGE = 2
DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


class Unsafe(Exception):
    """A symlink or a file where organizer expects one of its folders."""


def exchange(parent: int, a: str, b: str) -> bool:
    """Atomically swap two names in one folder (Linux renameat2); False where that is not there."""
    try:
        fn = ctypes.CDLL(None, use_errno=True).renameat2
    except (OSError, AttributeError):
        return False
    fn.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    return fn(parent, os.fsencode(a), parent, os.fsencode(b), _RENAME_EXCHANGE) == 0


def open_folder(base: int, rel: str, create: bool) -> int | None:
    """A descriptor of the folder at `rel` (a/b/c) under folder `base`, opened without following
    any symlink on the way; None when it does not exist and not `create`. Raises Unsafe for a
    symlink or a file where a folder should be. The caller closes it."""
    parts = [p for p in rel.split("/") if p]
    if any(p in (".", "..") for p in parts):
        raise OutputError(f"{rel}: album path outside the output folder")
    fd = os.dup(base)
    try:
        for i, part in enumerate(parts):
            try:
                child = os.open(part, DIR_FLAGS, dir_fd=fd)
            except FileNotFoundError:
                if not create:
                    os.close(fd)
                    return None
                os.mkdir(part, 0o755, dir_fd=fd)
                child = os.open(part, DIR_FLAGS, dir_fd=fd)
            except OSError as exc:
                if exc.errno in (errno.ELOOP, errno.ENOTDIR, errno.EMLINK):
                    raise Unsafe("/".join(parts[:i + 1])) from None
                raise
            os.close(fd)
            fd = child
        return fd
    except BaseException:
        os.close(fd)
        raise


def relative_links(links: Mapping[str, str], folder: str) -> dict[str, str]:
    """Link name -> its target relative to `folder` (absolute, normalised targets; the relative
    path is worked out once per target folder: an album of a month has a few)."""
    rel_dirs: dict[str, str] = {}
    out = {}
    for name, target in links.items():
        head, tail = os.path.split(target)
        rel = rel_dirs.get(head)
        if rel is None:
            rel = rel_dirs[head] = os.path.relpath(head, folder)
        out[name] = tail if rel == "." else f"{rel}{os.sep}{tail}"
    return out


def scan_folder(fd: int) -> tuple[dict[str, str], set[str]]:
    """(symlink name -> its text, names of everything else) in the folder `fd`."""
    links: dict[str, str] = {}
    other: set[str] = set()
    for entry in os.scandir(fd):
        if entry.is_symlink():
            links[entry.name] = os.readlink(entry.name, dir_fd=fd)
        else:
            other.add(entry.name)
    return links, other


def kind_of(fd: int, name: str) -> str | None:
    """What `name` in folder `fd` is, without following it: dir, link, file, or None."""
    try:
        mode = os.stat(name, dir_fd=fd, follow_symlinks=False).st_mode
    except FileNotFoundError:
        return None
    return "dir" if stat.S_ISDIR(mode) else "link" if stat.S_ISLNK(mode) else "file"


def remove_links(parent: int, name: str, mine: Callable[[str, str], bool] | None) -> bool:
    """Remove the links `mine` accepts (all links: None) of folder `name` in `parent`, and the
    folder when that empties it; folders inside are kept unless they were ours too (leftovers).
    True when the folder is gone (or was not there)."""
    try:
        fd = os.open(name, DIR_FLAGS, dir_fd=parent)
    except FileNotFoundError:
        return True
    except OSError as exc:
        if exc.errno in (errno.ELOOP, errno.ENOTDIR):
            raise Unsafe(name) from None
        raise
    clean = True
    try:
        links, other = scan_folder(fd)
        for link, text in links.items():
            if mine is None or mine(link, text):
                os.unlink(link, dir_fd=fd)
            else:
                clean = False
        for entry in other:
            if mine is None and kind_of(fd, entry) == "dir":
                clean = remove_links(fd, entry, None) and clean
            else:
                clean = False
                log.warning("%s: not made by organizer; left in place", entry)
    finally:
        os.close(fd)
    if clean:
        try:
            os.rmdir(name, dir_fd=parent)
        except OSError:
            return False
    return clean
