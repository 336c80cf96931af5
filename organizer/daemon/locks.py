"""The daemon's process locks: one `organizer run` per catalog and per album folder."""

from __future__ import annotations

import fcntl
import os

from organizer.errors import OrganizerError


class AlreadyRunning(OrganizerError):
    pass


def hold(path: str, what: str) -> int:
    """An exclusive lock on `path` for this daemon's life, holding its pid; AlreadyRunning when
    another process has it."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        pid = os.pread(fd, 32, 0).decode(errors="replace").strip() or "?"
        os.close(fd)
        raise AlreadyRunning(f"organizer is already running for this {what} (pid {pid}); stop it first") from None
    except OSError:  # no locks on this file system: go on unguarded
        pass
    os.ftruncate(fd, 0)
    os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
    return fd
