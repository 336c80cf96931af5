"""Walk photo roots (stat only, never opening a file) and diff what is there against the catalog."""

from __future__ import annotations

import fnmatch
import logging
import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field

from organizer.catalog import KnownFile

log = logging.getLogger(__name__)

# Folders that NAS systems, sync tools and desktops fill with their own files.
DEFAULT_EXCLUDED_DIRS = frozenset({"@eaDir", "#recycle", "#snapshot", ".stfolder", ".thumbnails"})

# Files still being written by a download or sync tool.
TEMPORARY_PATTERNS = ("*.part", "*.tmp", "*.crdownload", ".syncthing.*.tmp", "~*")


@dataclass(frozen=True)
class Entry:
    path: str
    size: int
    mtime_ns: int
    inode: int
    dev: int

    @property
    def stat(self) -> tuple[int, int, int, int]:
        return (self.size, self.mtime_ns, self.inode, self.dev)


@dataclass(frozen=True)
class Walker:
    """What to skip while walking. `exclude` globs match a name or a path relative to the root."""

    exclude: Sequence[str] = ()
    follow_symlinks: bool = False
    skip_dirs: Sequence[str] = ()  # absolute paths, e.g. the output folder

    def excluded(self, name: str, rel: str) -> bool:
        if name.startswith(".") or name in DEFAULT_EXCLUDED_DIRS:
            return True
        return any(fnmatch.fnmatch(name, g) or fnmatch.fnmatch(rel, g) for g in self.exclude)

    def temporary(self, name: str) -> bool:
        return any(fnmatch.fnmatch(name, g) for g in TEMPORARY_PATTERNS)

    def walk(self, root: str, on_error: Callable[[str, str], None]) -> Iterator[Entry]:
        """Every regular file under `root`, depth first; unreadable folders go to `on_error`."""
        skip = {os.path.normpath(d) for d in self.skip_dirs}
        visited: set[tuple[int, int]] = set()
        stack = [root]
        while stack:
            folder = stack.pop()
            if os.path.normpath(folder) in skip:
                continue
            try:
                st = os.stat(folder)
                key = (st.st_dev, st.st_ino)
                if key in visited:
                    log.warning("%s: symlink loop, folder already walked", folder)
                    continue
                visited.add(key)
                with os.scandir(folder) as it:
                    entries = list(it)
            except OSError as exc:
                on_error(folder, f"cannot read folder: {exc.strerror or exc}")
                continue
            subdirs = []
            for entry in entries:
                rel = os.path.relpath(entry.path, root)
                if self.excluded(entry.name, rel):
                    continue
                try:
                    if entry.is_symlink() and not self.follow_symlinks:
                        continue
                    if entry.is_dir(follow_symlinks=self.follow_symlinks):
                        subdirs.append(entry.path)
                    elif entry.is_file(follow_symlinks=self.follow_symlinks):
                        if self.temporary(entry.name):
                            continue
                        st = entry.stat(follow_symlinks=self.follow_symlinks)
                        yield Entry(entry.path, st.st_size, st.st_mtime_ns, st.st_ino, st.st_dev)
                except OSError as exc:
                    on_error(entry.path, f"cannot stat: {exc.strerror or exc}")
            stack.extend(sorted(subdirs, reverse=True))


@dataclass
class Diff:
    """The difference between a root on disk and the catalog's rows for it."""

    todo: list[Entry] = field(default_factory=list)  # new or changed: open and extract
    moved: list[tuple[str, Entry]] = field(default_factory=list)  # (old path, entry): same inode
    gone: list[str] = field(default_factory=list)
    unchanged: int = 0


def diff(entries: Iterator[Entry], known: Mapping[str, KnownFile], retry_errors: bool = False) -> Diff:
    """Classify what the walk found; a file whose (size, mtime_ns, inode) is unchanged is not reopened
    (nor is an unchanged file that failed before, unless `retry_errors`)."""
    result = Diff()
    seen: set[str] = set()
    fresh: list[Entry] = []
    for entry in entries:
        seen.add(entry.path)
        row = known.get(entry.path)
        if row is None:
            fresh.append(entry)
        elif (
            row.state != "missing"
            and not (retry_errors and row.state == "error")
            and (row.size, row.mtime_ns, row.inode) == (entry.size, entry.mtime_ns, entry.inode)
        ):
            result.unchanged += 1
        else:
            result.todo.append(entry)
    gone = {p: row for p, row in known.items() if p not in seen and row.state != "missing"}
    by_inode = {(r.dev, r.inode, r.size, r.mtime_ns): p for p, r in gone.items()}
    for entry in fresh:
        old = by_inode.pop((entry.dev, entry.inode, entry.size, entry.mtime_ns), None)
        if old is not None:
            result.moved.append((old, entry))
            del gone[old]
        else:
            result.todo.append(entry)
    result.gone = sorted(gone)
    return result


def root_offline(root: str, catalogued: int) -> str | None:
    """Why a root must be left alone (an unmounted share), or None when it can be scanned."""
    if not os.path.isdir(root):
        return "absent"
    if catalogued:
        try:
            with os.scandir(root) as it:
                if next(it, None) is None:
                    return "empty"
        except OSError as exc:
            return f"unreadable ({exc.strerror or exc})"
    return None
