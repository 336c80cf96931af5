"""The album tree: folders of relative symlinks inside one managed output folder.

Safety rules:
- The output carries a marker file listing the albums organizer made; a folder without it that
  holds anything but OS litter is refused. One process at a time writes into it (a lock file: a
  one-shot `organizer publish` waits for the daemon's).
- Nothing outside the output is ever touched, and no symlink inside it is ever followed: every
  operation is relative to a file descriptor of the output, each folder opened with O_NOFOLLOW.
  A symlink (or a file) where organizer expects one of its folders (`Events/`, an album) is left
  alone with a warning, and the rest of the tree is published.
- A link is organizer's only if organizer recorded making it (its name and target, in the
  catalog); a user's own links, files and folders inside an album are kept when the album is
  updated, renamed or removed.
- A much changed album is built beside the old one and swapped in with one rename
  (RENAME_EXCHANGE), so a file browser never sees half of it; a few changes to a large album are
  made link by link in place; an album holding a user's own things is always updated in place.
"""

from __future__ import annotations

import errno
import fcntl
import json
import logging
import os
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from organizer.errors import OutputError
from organizer.fs import OUTPUT_MARKER, is_litter
from organizer.publish.dirfd import (DIR_FLAGS, Unsafe, exchange, kind_of, open_folder, relative_links,
                                      remove_links, scan_folder)

log = logging.getLogger(__name__)

MARKER = OUTPUT_MARKER
LOCK = ".organizer-albums.lock"
DAEMON_LOCK = ".organizer-daemon.lock"  # held by `organizer run` for its life
TMP_PREFIX = ".organizer-new-"
OLD_PREFIX = ".organizer-old-"
IN_PLACE_SHARE = 0.1  # links changed, as a share of the album's links, up to which it is updated in place

# Decides, for an album with no record of its links (a catalog made before links were recorded),
# whether a symlink is organizer's: (album path, link name, link text) -> bool.
Fallback = Callable[[str, str, str], bool]


@dataclass
class TreeReport:
    unchanged: int = 0
    written: int = 0
    removed: int = 0
    renamed: int = 0
    kept_foreign: list[str] = field(default_factory=list)
    unsafe: list[str] = field(default_factory=list)  # album paths not written: a symlink on the way
    links: dict[str, dict[str, str]] = field(default_factory=dict)  # album looked at -> organizer's links in it
    changed: set[str] = field(default_factory=set)  # albums whose folder was written
    failed: dict[str, str] = field(default_factory=dict)  # album -> why it could not be written (a full disk...)


def usable(root: Path) -> None:
    """Raise OutputError when `root` must not be managed: not a folder, or a folder organizer does
    not manage that holds more than OS litter. Creates nothing."""
    if root.is_symlink() and not root.is_dir() or root.exists() and not root.is_dir():
        raise OutputError(f"{root}: the output exists and is not a folder")
    if root.is_dir() and not (root / MARKER).is_file():
        try:
            names = os.listdir(root)
        except OSError as exc:
            raise OutputError(f"{root}: cannot read the output folder: {exc.strerror}") from None
        if any(not is_litter(n) and n not in (LOCK, DAEMON_LOCK) for n in names):
            raise OutputError(f"{root}: refusing to write into a non-empty folder that organizer does not manage "
                              f"(no {MARKER}); choose an empty or new folder")


class AlbumTree:
    """The output folder, held for this process from `with AlbumTree(path) as tree:` to the end.
    The path is resolved once (a symlinked output is followed to its folder, then never again)."""

    def __init__(self, root: str | os.PathLike) -> None:
        self.root = Path(os.path.realpath(os.path.expanduser(root)))
        self.managed: set[str] = set()
        self.fd = -1
        self._lock_fd: int | None = None
        self._warned: set[str] = set()
        self.made: dict[str, dict[str, str]] = {}  # album -> the links this tree wrote there

    # --- holding the folder -----------------------------------------------------------------------

    def __enter__(self) -> AlbumTree:
        """Check that the folder may be managed (creating it and its marker when new), and hold
        it: another organizer writing into it is waited for. A failure leaves nothing behind."""
        usable(self.root)
        created = not self.root.exists()
        try:
            self.root.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise OutputError(f"{self.root}: cannot create the output folder: {exc.strerror}") from None
        try:
            self.fd = os.open(self.root, DIR_FLAGS)
            self._lock()
            try:
                data = json.loads(self._read(MARKER))
            except FileNotFoundError:
                self._save()
                data = {}
            self.managed = set(data.get("albums", []))
        except (OSError, ValueError) as exc:
            self.__exit__()
            if created:
                self._undo_create()
            raise OutputError(f"{self.root / MARKER}: unreadable marker file ({exc})") from None
        except BaseException:
            self.__exit__()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        if self._lock_fd is not None:
            os.close(self._lock_fd)  # releases the lock
            self._lock_fd = None
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1

    def _undo_create(self) -> None:
        for name in (LOCK, MARKER):
            try:
                os.unlink(self.root / name)
            except OSError:
                pass
        try:
            self.root.rmdir()
        except OSError:
            pass

    def _lock(self) -> None:
        try:
            fd = os.open(LOCK, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC | os.O_NOFOLLOW, 0o644, dir_fd=self.fd)
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

    def _read(self, name: str) -> str:
        fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=self.fd)
        with os.fdopen(fd, encoding="utf-8") as fh:
            return fh.read()

    def write_file(self, name: str, text: str) -> None:
        """A file at the output's top level, replaced atomically (never through a symlink)."""
        tmp = f".{name}.{os.getpid()}.tmp"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW | os.O_CLOEXEC, 0o644, dir_fd=self.fd)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                fh.write(text)
            os.replace(tmp, name, src_dir_fd=self.fd, dst_dir_fd=self.fd)
        except BaseException:  # a full disk: no half-written file left to fill it further
            try:
                os.unlink(tmp, dir_fd=self.fd)
            except FileNotFoundError:
                pass
            raise

    def _save(self) -> None:
        try:
            self.write_file(MARKER, json.dumps({"managed_by": "organizer", "version": 1,
                                                "albums": sorted(self.managed)}, indent=1))
        except OSError as exc:  # a full or read-only disk: one line, not a traceback
            raise OutputError(f"{self.root / MARKER}: the marker file could not be written "
                              f"({exc.strerror or exc}); the albums are written again next time") from None

    # --- folders ----------------------------------------------------------------------------------

    def folder(self, rel: str, create: bool) -> int | None:
        """A descriptor of the folder at `rel` (a/b/c), opened without following any symlink on
        the way; None when it does not exist and not `create`. Raises Unsafe for a symlink or a
        file where a folder should be. The caller closes it."""
        return open_folder(self.fd, rel, create)

    def _warn_unsafe(self, rel: str, where: str, report: TreeReport) -> None:
        report.unsafe.append(rel)
        if where not in self._warned:
            self._warned.add(where)
            log.warning("%s: a symlink or a file where organizer keeps a folder of its own; left alone, "
                        "and nothing is published through it", self.root / where)

    def clean_leftovers(self) -> None:
        """Remove what an interrupted swap left behind (only symlinks and our folders)."""
        for dirpath, dirnames, _, dirfd in os.fwalk(dir_fd=self.fd, follow_symlinks=False):
            for name in list(dirnames):
                if name.startswith((TMP_PREFIX, OLD_PREFIX)):
                    remove_links(dirfd, name, None)
                    dirnames.remove(name)

    # --- albums -----------------------------------------------------------------------------------

    def apply(self, desired: Mapping[str, Mapping[str, str]], keep: Collection[str] = (),
              ours: Mapping[str, Mapping[str, str]] | None = None, fallback: Fallback | None = None,
              renames: Mapping[str, str] | None = None, remove: Collection[str] | None = None) -> TreeReport:
        """Make the tree hold exactly `desired` (album path -> {link name: absolute target}) and
        the albums in `keep`, which are taken to be in place already and are not read. `ours`:
        album path -> the links organizer recorded making there; `fallback` decides for albums
        with no record. `renames`: new album path -> the path the same group was published at
        before (its folder is renamed, keeping a user's things in it). Every other managed album is
        removed, or only those in `remove` when given (a partial update). A full pass (nothing
        kept) first clears what an interrupted swap left behind."""
        report = TreeReport(unchanged=len(keep))
        ours = {**self.made, **(ours or {})}
        if not keep and remove is None:  # a full pass; a partial update leaves the rest of the tree unread
            self.clean_leftovers()
        for new, old in (renames or {}).items():
            if new in desired and old not in desired and old in self.managed and self._rename(old, new, report):
                ours[new] = ours.pop(old, {})
        new = set(desired) - self.managed
        if new:  # recorded before they exist, so an interruption leaves no orphan
            self.managed |= new
            self._save()
        for rel in sorted(desired):
            try:
                changed, links = self._write_album(rel, desired[rel], ours.get(rel), fallback, report)
            except Unsafe as exc:
                self._warn_unsafe(rel, str(exc), report)
                continue
            except OSError as exc:  # this album, not the others (a full or read-only disk says so for all)
                report.failed[rel] = f"{exc.strerror or exc}"
                continue
            report.written += changed
            report.unchanged += not changed
            if changed:
                report.changed.add(rel)
            report.links[rel] = self.made[rel] = links
        leaving = self.managed - set(desired) - set(keep)
        for rel in sorted(leaving if remove is None else leaving & set(remove)):
            try:
                if not self._remove_album(rel, ours.get(rel), fallback):
                    report.kept_foreign.append(rel)
            except Unsafe as exc:
                self._warn_unsafe(rel, str(exc), report)
            except OSError as exc:
                report.failed[rel] = f"{exc.strerror or exc}"
                continue
            self.managed.discard(rel)
            self.made.pop(rel, None)
            report.removed += 1
        self._save()
        return report

    def _rename(self, old: str, new: str, report: TreeReport) -> bool:
        """Move the folder of a renamed album, when it is there and the new name is free."""
        head, _, name = old.rpartition("/")
        new_head, _, new_name = new.rpartition("/")
        try:
            src = self.folder(head, create=False)
            if src is None or kind_of(src, name) != "dir":
                return False
            try:
                dst = self.folder(new_head, create=True)
                assert dst is not None
                try:
                    if kind_of(dst, new_name) is not None:
                        return False
                    os.rename(name, new_name, src_dir_fd=src, dst_dir_fd=dst)
                finally:
                    os.close(dst)
            finally:
                os.close(src)
        except Unsafe as exc:
            self._warn_unsafe(new, str(exc), report)
            return False
        self.managed.discard(old)
        self.managed.add(new)
        self._save()
        self._prune(head)
        report.renamed += 1
        log.info("%s: renamed to %s", self.root / old, new)
        return True

    def _write_album(self, rel: str, links: Mapping[str, str], ours: Mapping[str, str] | None,
                     fallback: Fallback | None, report: TreeReport) -> tuple[bool, dict[str, str]]:
        """Write one album: (whether anything changed, organizer's links in it: name -> text)."""
        head, _, name = rel.rpartition("/")
        wanted = relative_links(links, str(self.root / rel))
        parent = self.folder(head, create=True)
        assert parent is not None
        try:
            try:
                fd = os.open(name, DIR_FLAGS, dir_fd=parent)
            except FileNotFoundError:
                fd = None
            except OSError as exc:
                if exc.errno in (errno.ELOOP, errno.ENOTDIR):
                    raise Unsafe(rel) from None
                raise
            if fd is None:
                self._build(parent, name, wanted)
                return True, wanted
            try:
                current, other = scan_folder(fd)
                mine = {n: t for n, t in current.items() if _is_ours(rel, n, t, ours, fallback)}
                foreign = other | (set(current) - set(mine))
                if mine == wanted:
                    if foreign:
                        report.kept_foreign.append(rel)
                    return False, wanted
                stale = [n for n, t in mine.items() if wanted.get(n) != t]
                new = [n for n, t in wanted.items() if mine.get(n) != t]
                if foreign or len(stale) + len(new) <= len(mine) * IN_PLACE_SHARE:
                    self._in_place(fd, rel, wanted, stale, new, foreign)
                    if foreign:
                        report.kept_foreign.append(rel)
                    return True, {n: t for n, t in wanted.items() if n not in foreign}
            finally:
                os.close(fd)
            self._build(parent, name, wanted)
            return True, wanted
        finally:
            os.close(parent)

    def _in_place(self, fd: int, rel: str, wanted: Mapping[str, str], stale: list[str], new: list[str],
                  foreign: set[str]) -> None:
        for name in stale:
            os.unlink(name, dir_fd=fd)
        for name in new:
            if name in foreign:
                log.warning("%s: not made by organizer; no link made in its place", self.root / rel / name)
            else:
                os.symlink(wanted[name], name, dir_fd=fd)

    def _build(self, parent: int, name: str, wanted: Mapping[str, str]) -> None:
        """A new album folder beside the old one, swapped in with one rename."""
        tmp = TMP_PREFIX + name
        if kind_of(parent, tmp) is not None:
            remove_links(parent, tmp, None)
        os.mkdir(tmp, 0o755, dir_fd=parent)
        fd = os.open(tmp, DIR_FLAGS, dir_fd=parent)
        try:
            for link, target in wanted.items():
                os.symlink(target, link, dir_fd=fd)
        finally:
            os.close(fd)
        if kind_of(parent, name) is None:
            os.rename(tmp, name, src_dir_fd=parent, dst_dir_fd=parent)
            return
        if exchange(parent, tmp, name):
            remove_links(parent, tmp, None)  # now holds the old album: only our links
        else:
            old = OLD_PREFIX + name
            os.rename(name, old, src_dir_fd=parent, dst_dir_fd=parent)
            os.rename(tmp, name, src_dir_fd=parent, dst_dir_fd=parent)
            remove_links(parent, old, None)

    def _remove_album(self, rel: str, ours: Mapping[str, str] | None, fallback: Fallback | None) -> bool:
        """Remove organizer's links of an album and then its folder, if that leaves it empty;
        True when nothing of a user's was in it."""
        head, _, name = rel.rpartition("/")
        parent = self.folder(head, create=False)
        if parent is None:
            return True
        try:
            clean = remove_links(parent, name, lambda n, t: _is_ours(rel, n, t, ours, fallback))
        finally:
            os.close(parent)
        self._prune(head)
        return clean

    def _prune(self, head: str) -> None:
        """Remove the now empty folders above a removed album (never a non-empty one)."""
        parts = [p for p in head.split("/") if p]
        while parts:
            parent = self.folder("/".join(parts[:-1]), create=False)
            if parent is None:
                return
            try:
                os.rmdir(parts[-1], dir_fd=parent)
            except OSError:
                return
            finally:
                os.close(parent)
            parts.pop()


def _is_ours(rel: str, name: str, text: str, ours: Mapping[str, str] | None, fallback: Fallback | None) -> bool:
    if ours is not None:
        return ours.get(name) == text
    return fallback is not None and fallback(rel, name, text)


