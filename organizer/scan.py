"""Walk photo roots (stat only, never opening a file) and diff what is there against the catalog.

One rule for both the whole-root scan and the daemon's per-path updates: what is skipped
(`Walker.skips`), and when a catalogued file is unchanged (`compare`). A file that looks gone is
marked missing only when the walk saw the folder it was in, on the device it was on: a folder that
could not be read, or a mount point whose disk went away, keeps its photos.
"""

from __future__ import annotations

import fnmatch
import logging
import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field

from organizer.catalog import KnownFile
from organizer.cluster import companions
from organizer.cluster.companions import SIDECAR_SUFFIXES
from organizer.fs import OUTPUT_MARKER, is_litter

log = logging.getLogger(__name__)

# Folders that NAS systems, sync tools and desktops fill with their own files.
DEFAULT_EXCLUDED_DIRS = frozenset({"@eaDir", "#recycle", "#snapshot", "lost+found", "@Recycle", "$RECYCLE.BIN",
                                   "System Volume Information"})

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

    @classmethod
    def of(cls, path: str, st: os.stat_result) -> Entry:
        return cls(path, st.st_size, st.st_mtime_ns, st.st_ino, st.st_dev)


@dataclass
class Walk:
    """What one walk of a root saw besides its files: the folders it read (with their device) and
    those it could not."""

    root: str
    folders: dict[str, int] = field(default_factory=dict)
    unreadable: set[str] = field(default_factory=set)
    outputs: list[str] = field(default_factory=list)  # folders skipped for holding an output marker
    sidecars: dict[str, list[str]] = field(default_factory=dict)  # media path -> its sidecars' paths


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

    def skips(self, path: str, root: str) -> bool:
        """Whether the walk of `root` would leave `path` (a file) out: any folder on the way
        excluded, an output folder, a symlink not followed, or a temporary name."""
        rel = os.path.relpath(path, root)
        parts = rel.split(os.sep)
        if rel.startswith(os.pardir) or self.temporary(parts[-1]):
            return True
        skip = {os.path.normpath(d) for d in self.skip_dirs}
        folder = root
        for i, name in enumerate(parts):
            here = os.path.join(folder, name)
            if self.excluded(name, os.sep.join(parts[:i + 1])) or here in skip:
                return True
            if not self.follow_symlinks and os.path.islink(here):
                return True
            if i < len(parts) - 1 and os.path.exists(os.path.join(here, OUTPUT_MARKER)):
                return True
            folder = here
        return os.path.exists(os.path.join(root, OUTPUT_MARKER))

    def walk(self, root: str, walk: Walk, on_error: Callable[[str, str], None]) -> Iterator[Entry]:
        """Every regular file under `root`, depth first; what else it saw goes into `walk`."""
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
                walk.unreadable.add(folder)
                on_error(folder, f"cannot read folder: {exc.strerror or exc}")
                continue
            if any(e.name == OUTPUT_MARKER for e in entries):
                log.info("%s: an organizer output folder; not indexed", folder)
                walk.outputs.append(folder)
                continue
            walk.folders[folder] = st.st_dev
            walk.sidecars.update(sidecars_among(folder, [e.name for e in entries if regular(e, self.follow_symlinks)]))
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
                        yield Entry.of(entry.path, entry.stat(follow_symlinks=self.follow_symlinks))
                except OSError as exc:
                    on_error(entry.path, f"cannot stat: {exc.strerror or exc}")
            stack.extend(sorted(subdirs, reverse=True))


def regular(entry: os.DirEntry, follow_symlinks: bool) -> bool:
    """Whether a folder entry is a regular file the walker would read (a symlink only when
    following them, and then only to a regular file; never a FIFO, a device or a socket)."""
    try:
        return (follow_symlinks or not entry.is_symlink()) and entry.is_file(follow_symlinks=follow_symlinks)
    except OSError:
        return False


def sidecars_among(folder: str, names: list[str]) -> dict[str, list[str]]:
    """Media path -> the paths of its sidecars (XMP, Google Takeout JSON), among `names` (regular
    files) of one folder (see cluster.companions)."""
    if not any(n.lower().endswith(SIDECAR_SUFFIXES) for n in names):
        return {}
    return {os.path.join(folder, media): [os.path.join(folder, s) for s in found]
            for media, found in companions.sidecars(names).items()}


def compare(row: KnownFile, entry: Entry, version: int, retry_errors: bool = False) -> str:
    """How a catalogued file stands against what is on disk now: 'unchanged'; 'restat' (the same
    size and mtime on another device: a remounted share, whose inode numbers changed too: keep
    the row, no decode); or 'read' (new content, or a file an older organizer could not read)."""
    if row.state == "missing" or (row.size, row.mtime_ns) != (entry.size, entry.mtime_ns):
        return "read"
    if row.state != "ok" and (retry_errors and row.state == "error" or (row.checked or 0) < version):
        return "read"
    if row.dev is not None and row.dev != entry.dev:
        return "restat"
    return "unchanged" if row.inode == entry.inode else "read"


@dataclass
class Diff:
    """The difference between a root on disk and the catalog's rows for it."""

    todo: list[Entry] = field(default_factory=list)  # new or changed: open and extract
    moved: list[tuple[str, Entry]] = field(default_factory=list)  # (old path, entry): same inode
    restat: list[Entry] = field(default_factory=list)  # same file, new inode/device
    gone: list[str] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)  # look gone, but their folder or disk was not seen
    unchanged: int = 0
    still_failing: int = 0  # of the unchanged: files that could not be read before


def diff(entries: Iterator[Entry], walk: Walk, known: Mapping[str, KnownFile], version: int,
         retry_errors: bool = False) -> Diff:
    """Classify what the walk found (consuming `entries`, which fill `walk`)."""
    result = Diff()
    seen: set[str] = set()
    fresh: list[Entry] = []
    remap: dict[int, int] = {}  # old device -> new, learnt from files seen on both
    for entry in entries:
        seen.add(entry.path)
        row = known.get(entry.path)
        if row is None:
            fresh.append(entry)
            continue
        verdict = compare(row, entry, version, retry_errors)
        if row.dev is not None and row.dev != entry.dev and (row.size, row.mtime_ns) == (entry.size, entry.mtime_ns):
            remap[row.dev] = entry.dev
        if verdict == "unchanged":
            result.unchanged += 1
            result.still_failing += row.state == "error"
        elif verdict == "restat":
            result.restat.append(entry)
        else:
            result.todo.append(entry)
    gone = {}
    for path, row in known.items():
        if path in seen or row.state == "missing":
            continue
        if _unseen(path, row, walk, remap):
            result.kept.append(path)
        else:
            gone[path] = row
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


def _unseen(path: str, row: KnownFile, walk: Walk, remap: Mapping[int, int]) -> bool:
    """Whether the walk could not have seen `path`: its folder was unreadable, or the nearest folder
    it read is on another device than the file was (a mount point whose disk went away)."""
    folder = os.path.dirname(path)
    while folder not in walk.folders:
        if folder in walk.unreadable:
            return True
        parent = os.path.dirname(folder)
        if parent == folder or len(folder) < len(walk.root):
            return False
        folder = parent
    if row.dev is None:
        return False
    return remap.get(row.dev, row.dev) != walk.folders[folder]


def looks_empty(folder: str) -> bool:
    """True when `folder` holds nothing but OS litter (or nothing at all)."""
    with os.scandir(folder) as it:
        return all(is_litter(e.name) or e.name.startswith(".") for e in it)


def root_offline(root: str, catalogued: int) -> str | None:
    """Why a root must be left alone (an unmounted share), or None when it can be scanned."""
    if not os.path.isdir(root):
        return "absent"
    try:
        if catalogued and looks_empty(root):
            return "empty"
        os.listdir(root)
    except OSError as exc:
        return f"unreadable ({exc.strerror or exc})"
    return None
