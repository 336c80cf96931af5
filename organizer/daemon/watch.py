"""Watching photo folders: the observer choice, the event queue and the stability gate.

inotify on local disks; polling where inotify sees nothing (NFS, SMB/CIFS, FUSE and other network
file systems, found in the mount table) or when `watch.polling` is set. The event handler only
enqueues small immutable events; all I/O happens in the service's main loop.
"""

from __future__ import annotations

import logging
import os
import queue
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from watchdog.events import FileSystemEvent, FileSystemEventHandler
from watchdog.observers import Observer
from watchdog.observers.api import BaseObserver
from watchdog.observers.polling import PollingObserver

log = logging.getLogger(__name__)

# File systems whose changes inotify does not see (they happen on another machine).
REMOTE_FS = frozenset({
    "nfs", "nfs4", "cifs", "smb3", "smbfs", "9p", "afs", "ceph", "glusterfs", "davfs", "sshfs",
    "fuse.sshfs", "fuse.rclone", "fuse.s3fs", "fuse.gvfsd-fuse", "virtiofs", "lustre", "gpfs",
})


@dataclass(frozen=True)
class Change:
    """One thing a watcher saw. kind: changed | gone | moved (then `dest` is set)."""

    kind: str
    path: str
    dest: str | None = None
    is_dir: bool = False


class Enqueue(FileSystemEventHandler):
    """The watchdog handler: turns events into `Change`s on a queue, with no I/O."""

    def __init__(self, out: queue.Queue[Change]) -> None:
        self.out = out

    def on_any_event(self, event: FileSystemEvent) -> None:
        src = os.fsdecode(event.src_path)
        if event.event_type == "moved":
            self.out.put(Change("moved", src, os.fsdecode(event.dest_path), event.is_directory))
        elif event.event_type == "deleted":
            self.out.put(Change("gone", src, is_dir=event.is_directory))
        elif event.event_type in ("created", "modified", "closed") and not event.is_directory:
            self.out.put(Change("changed", src))
        elif event.event_type == "created" and event.is_directory:
            self.out.put(Change("changed", src, is_dir=True))  # files copied in with it


def mount_type(path: str, mounts: str = "/proc/mounts") -> str | None:
    """The file system type of the mount that holds `path` (longest mount point prefix)."""
    try:
        lines = Path(mounts).read_text().splitlines()
    except OSError:
        return None
    target = os.path.realpath(path)
    best, kind = "", None
    for line in lines:
        parts = line.split()
        if len(parts) < 3:
            continue
        point = parts[1].replace("\\040", " ")
        if (target == point or target.startswith(point.rstrip("/") + "/")) and len(point) >= len(best):
            best, kind = point, parts[2]
    return kind


def needs_polling(path: str, mounts: str = "/proc/mounts") -> bool:
    kind = mount_type(path, mounts)
    return kind is not None and (kind in REMOTE_FS or kind.startswith("fuse"))


def inotify_limit() -> int | None:
    try:
        return int(Path("/proc/sys/fs/inotify/max_user_watches").read_text())
    except (OSError, ValueError):
        return None


def count_folders(roots: Iterable[str]) -> int:
    count = 0
    for root in roots:
        for _dirpath, dirnames, _ in os.walk(root):
            dirnames[:] = [d for d in dirnames if not d.startswith(".")]
            count += 1
    return count


class OverflowAlarm(logging.Handler):
    """watchdog only logs when the kernel's inotify queue overflows; this catches that line so
    the service can rescan, since events were lost."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.raised = False

    def emit(self, record: logging.LogRecord) -> None:
        if "overflow" in record.getMessage().lower():
            self.raised = True


@dataclass
class Watchers:
    """One observer per root, of the kind the root needs, and what it watches (the root folder's
    device and inode: a root replaced by another folder of the same name is no longer watched)."""

    observers: dict[str, BaseObserver]
    polling: dict[str, bool]
    identity: dict[str, tuple[int, int]]

    def why(self, root: str) -> str:
        """Why `root`'s watcher no longer watches it ('' when it does)."""
        observer = self.observers.get(root)
        if observer is None:
            return "not started"
        if not observer.is_alive():
            return "its observer thread ended"
        if not all(emitter.is_alive() for emitter in observer.emitters):
            return "its event reader thread ended"
        try:
            st = os.stat(root)
        except OSError:
            return ""  # gone: the service sees the root offline
        if (st.st_dev, st.st_ino) != self.identity.get(root):
            return "the folder was replaced by another of the same name"
        return ""

    def dead(self) -> list[str]:
        """The roots whose watcher died or watches a folder that is no longer the root."""
        return [root for root in self.observers if self.why(root)]

    @classmethod
    def start(cls, roots: Iterable[str], out: queue.Queue[Change], force_polling: bool,
              poll_interval_s: float) -> Watchers:
        roots = [r for r in roots if os.path.isdir(r)]
        use_inotify_ok = True
        limit = inotify_limit()
        if not force_polling and limit is not None:
            local = [r for r in roots if not needs_polling(r)]
            folders = count_folders(local)
            if folders > limit * 0.9:
                log.warning(
                    "%d folders to watch but fs.inotify.max_user_watches is %d: polling instead. Raise it: "
                    "sudo sysctl fs.inotify.max_user_watches=%d (and in /etc/sysctl.d/90-organizer.conf)",
                    folders, limit, max(folders * 2, 524288))
                use_inotify_ok = False
        observers, polling, identity = {}, {}, {}
        for root in roots:
            poll = force_polling or not use_inotify_ok or needs_polling(root)
            st = os.stat(root)
            observer = PollingObserver(timeout=poll_interval_s) if poll else Observer()
            observer.schedule(Enqueue(out), root, recursive=True)
            observer.daemon = True
            observer.start()
            observers[root], polling[root], identity[root] = observer, poll, (st.st_dev, st.st_ino)
            log.info("watching %s with %s", root, "polling" if poll else "inotify")
        return cls(observers, polling, identity)

    def stop(self) -> None:
        for observer in self.observers.values():
            observer.stop()
        for observer in self.observers.values():
            observer.join(5)

    def restart(self, root: str, out: queue.Queue[Change], force_polling: bool, poll_interval_s: float) -> None:
        """Watch a root again (it came back after being offline)."""
        old = self.observers.pop(root, None)
        if old is not None:
            old.stop()
            old.join(5)
        fresh = Watchers.start([root], out, force_polling or self.polling.get(root, False), poll_interval_s)
        self.observers.update(fresh.observers)
        self.polling.update(fresh.polling)
        self.identity.update(fresh.identity)


class Settler:
    """A file is ready once its size and mtime have been still for `settle_s`: a photo still being
    copied (over SMB, in chunks) is never indexed half-written."""

    def __init__(self, settle_s: float) -> None:
        self.settle_s = settle_s
        self.pending: dict[str, tuple[int, int, float]] = {}  # path -> (size, mtime_ns, still since)

    def touch(self, path: str, now: float) -> None:
        self.pending.setdefault(path, (-1, -1, now))

    def forget(self, path: str) -> None:
        self.pending.pop(path, None)
        prefix = path.rstrip(os.sep) + os.sep
        for p in [p for p in self.pending if p.startswith(prefix)]:
            del self.pending[p]

    def ready(self, now: float) -> list[str]:
        out = []
        for path, (size, mtime, since) in list(self.pending.items()):
            try:
                st = os.stat(path)
            except OSError:
                del self.pending[path]
                continue
            if (st.st_size, st.st_mtime_ns) != (size, mtime):
                self.pending[path] = (st.st_size, st.st_mtime_ns, now)
            elif now - since >= self.settle_s:
                del self.pending[path]
                out.append(path)
        return out
