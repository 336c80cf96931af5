"""The album tree: folders of relative symlinks inside one managed output folder.

Safety rules: the output folder carries a marker file listing the albums organizer made; a
non-empty folder without it is refused; only symlinks and folders that organizer made are ever
removed, never a regular file; nothing is written outside the output folder; one process at a time
writes into it (a lock file: a one-shot `organizer publish` waits for the daemon's). A much changed album
is built beside the old one and swapped in with one rename (RENAME_EXCHANGE where the kernel has
it), so a file browser never sees half of it; a few changes to a large album (a month a phone backup
adds to) are made link by link in place, so that their cost follows the change, not the album; an
unchanged album is not touched.
"""

from __future__ import annotations

import ctypes
import fcntl
import json
import logging
import os
import shutil
from collections.abc import Collection
from dataclasses import dataclass, field
from pathlib import Path

from organizer.errors import OutputError

log = logging.getLogger(__name__)

MARKER = ".organizer-albums.json"
LOCK = ".organizer-albums.lock"
TMP_PREFIX = ".organizer-new-"
OLD_PREFIX = ".organizer-old-"
IN_PLACE_SHARE = 0.1  # links changed, as a share of the album's links, up to which it is updated in place

_RENAME_EXCHANGE = 2
_AT_FDCWD = -100


def _exchange(a: Path, b: Path) -> bool:
    """Atomically swap two paths (Linux renameat2); False where that is not available."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        fn = libc.renameat2
    except (OSError, AttributeError):
        return False
    fn.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    return fn(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE) == 0


@dataclass
class TreeReport:
    unchanged: int = 0
    written: int = 0
    removed: int = 0
    kept_foreign: list[str] = field(default_factory=list)


def remove_ours(folder: Path) -> bool:
    """Remove the symlinks and then-empty folders under `folder`; keep anything else.
    True when the folder itself is gone."""
    clean = True
    for entry in list(os.scandir(folder)):
        path = Path(entry.path)
        if entry.is_symlink():
            path.unlink()
        elif entry.is_dir(follow_symlinks=False):
            clean = remove_ours(path) and clean
        else:
            log.warning("%s: not made by organizer; left in place", path)
            clean = False
    if clean:
        folder.rmdir()
    return clean


def _relative(links: dict[str, str], folder: Path) -> dict[str, str]:
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


class AlbumTree:
    """The output folder, held for this process from `with AlbumTree(path) as tree:` to the end."""

    def __init__(self, root: str | os.PathLike) -> None:
        self.root = Path(root).expanduser().absolute()
        self.marker = self.root / MARKER
        self.managed: set[str] = set()
        self._lock_fd: int | None = None

    def __enter__(self) -> AlbumTree:
        """Check that the folder may be managed (creating it and its marker when new), and hold
        it: another organizer writing into it is waited for."""
        if self.root.exists() and not self.root.is_dir():
            raise OutputError(f"{self.root}: the output exists and is not a folder")
        if not self.marker.is_file() and self.root.is_dir() and any(
                p.name != LOCK for p in self.root.iterdir()):
            raise OutputError(
                f"{self.root}: refusing to write into a non-empty folder that organizer does not manage "
                f"(no {MARKER}); choose an empty or new folder"
            )
        try:
            self.root.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise OutputError(f"{self.root}: cannot create the output folder: {exc.strerror}") from None
        self._lock()
        try:
            if not self.marker.is_file():
                self._save()
            data = json.loads(self.marker.read_text())
            self.managed = set(data.get("albums", []))
        except (OSError, ValueError) as exc:
            self._unlock()
            raise OutputError(f"{self.marker}: unreadable marker file ({exc})") from None
        except BaseException:
            self._unlock()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self._unlock()

    def _lock(self) -> None:
        try:
            fd = os.open(self.root / LOCK, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        except OSError as exc:
            raise OutputError(f"{self.root / LOCK}: cannot create the lock file: {exc.strerror}") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            log.info("%s: another organizer is writing albums here; waiting for it", self.root)
            fcntl.flock(fd, fcntl.LOCK_EX)
        except OSError as exc:  # a file system without locks (some SMB mounts): go on unguarded
            log.debug("%s: no file locks here (%s)", self.root, exc.strerror)
        self._lock_fd = fd

    def _unlock(self) -> None:
        if self._lock_fd is not None:
            os.close(self._lock_fd)  # releases the lock
            self._lock_fd = None

    def _save(self) -> None:
        tmp = self.marker.with_suffix(".tmp")
        tmp.write_text(json.dumps({"managed_by": "organizer", "version": 1, "albums": sorted(self.managed)},
                                  indent=1))
        os.replace(tmp, self.marker)

    def _inside(self, rel: str) -> Path:
        path = (self.root / rel).absolute()
        if ".." in Path(rel).parts or not str(path).startswith(str(self.root) + os.sep):
            raise OutputError(f"{rel}: album path outside the output folder")
        return path

    def clean_leftovers(self) -> None:
        """Remove what an interrupted swap left behind (only symlinks and our folders)."""
        for dirpath, dirnames, _ in os.walk(self.root):
            for name in list(dirnames):
                if name.startswith((TMP_PREFIX, OLD_PREFIX)):
                    remove_ours(Path(dirpath) / name)
                    dirnames.remove(name)

    def apply(self, desired: dict[str, dict[str, str]], keep: Collection[str] = ()) -> TreeReport:
        """Make the tree hold exactly `desired` (album path -> {link name: absolute target}) and
        the albums in `keep`, which are taken to be in place already and are not read. A full pass
        (nothing kept) first clears what an interrupted swap left behind."""
        report = TreeReport(unchanged=len(keep))
        if not keep:
            self.clean_leftovers()
        for rel in sorted(desired):
            if rel not in self.managed:  # recorded before it exists, so an interruption leaves no orphan
                self.managed.add(rel)
                self._save()
            if self._write_album(rel, desired[rel], report):
                report.written += 1
            else:
                report.unchanged += 1
        for rel in sorted(self.managed - set(desired) - set(keep)):
            folder = self._inside(rel)
            if folder.is_dir() and not remove_ours(folder):
                report.kept_foreign.append(rel)
            self.managed.discard(rel)
            report.removed += 1
            self._prune_parents(folder.parent)
        self._save()
        return report

    def _prune_parents(self, folder: Path) -> None:
        while folder != self.root and folder.is_dir():
            try:
                folder.rmdir()  # only succeeds when empty
            except OSError:
                return
            folder = folder.parent

    def _write_album(self, rel: str, links: dict[str, str], report: TreeReport) -> bool:
        folder = self._inside(rel)
        wanted = _relative(links, folder)
        current: dict[str, str] = {}
        foreign: set[str] = set()
        if folder.is_dir():
            for entry in os.scandir(folder):
                if entry.is_symlink():
                    current[entry.name] = os.readlink(entry.path)
                else:
                    foreign.add(entry.name)
            if current == wanted:
                return False
        folder.parent.mkdir(parents=True, exist_ok=True)
        stale = [name for name, target in current.items() if wanted.get(name) != target]
        new = [name for name, target in wanted.items() if current.get(name) != target]
        # link by link in place: around a user's own file (never moved), or for a small change
        if foreign or len(stale) + len(new) <= len(current) * IN_PLACE_SHARE:
            for name in stale:
                (folder / name).unlink()
            for name in new:
                if name in foreign:
                    log.warning("%s: not made by organizer; no link made in its place", folder / name)
                else:
                    os.symlink(wanted[name], folder / name)
            if foreign:
                report.kept_foreign.append(rel)
            return True
        tmp = folder.parent / (TMP_PREFIX + folder.name)
        if tmp.exists():
            remove_ours(tmp)
        tmp.mkdir()
        for name, target in wanted.items():
            os.symlink(target, tmp / name)
        if not folder.exists():
            os.rename(tmp, folder)
        elif _exchange(tmp, folder):
            remove_ours(tmp)  # now holds the old album
        else:
            old = folder.parent / (OLD_PREFIX + folder.name)
            os.rename(folder, old)
            os.rename(tmp, folder)
            remove_ours(old)
        return True


def copy_assets(source: Path, destination: Path) -> None:
    """Copy a folder of static files, replacing what changed."""
    for path in source.rglob("*"):
        if path.is_file():
            target = destination / path.relative_to(source)
            if not target.exists() or target.stat().st_size != path.stat().st_size:
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(path, target)
