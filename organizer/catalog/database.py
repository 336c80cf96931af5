"""Opening the catalog file: WAL, a busy timeout, health checks, transactions, and SQLite's errors
as messages a user can act on."""

from __future__ import annotations

import logging
import os
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from urllib.request import pathname2url

from organizer.errors import CatalogError

log = logging.getLogger(__name__)

BUSY_TIMEOUT_S = 30.0
FULL_BELOW = 1 << 20  # bytes free under which an I/O error is a full disk


class CatalogFullError(CatalogError):
    """The file system holding the catalog is full: nothing of the failed write was kept."""


class CatalogDamagedError(CatalogError):
    """The catalog file fails SQLite's checks."""


def now_iso() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def recovery_advice(path: Path) -> str:
    return (f"{path}: the catalog is damaged; organizer will not write to it. Restore your backup, or "
            f"recover what SQLite can: sqlite3 '{path}' .recover | sqlite3 '{path}.recovered', then use "
            f"the recovered file (reading commands still work on this one where they can)")


def _disk_full(path: Path) -> bool:
    """Whether the file system holding `path` has (next to) no room left: SQLite reports a full
    disk as an I/O error when the write that failed was its WAL index's."""
    try:
        st = os.statvfs(path.parent)
    except OSError:
        return False
    return st.f_bavail * st.f_frsize < FULL_BELOW


def translate(exc: sqlite3.Error, path: Path) -> CatalogError:
    """The user-facing error for a failure of SQLite on the catalog at `path`."""
    code = getattr(exc, "sqlite_errorcode", None)
    text = str(exc)
    io_error = code is not None and code & 0xFF == sqlite3.SQLITE_IOERR
    if code == sqlite3.SQLITE_FULL or "disk is full" in text or io_error and _disk_full(path):
        return CatalogFullError(f"{path}: the disk holding the catalog is full; nothing of the last change "
                                f"was written (free some space and run the command again)")
    if code in (sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB) or "malformed" in text:
        return CatalogDamagedError(recovery_advice(path))
    if code == sqlite3.SQLITE_READONLY or "readonly" in text:
        return CatalogError(f"{path}: the catalog is read-only here (file mode, mount or snapshot); "
                            f"only reading commands work on it")
    if io_error:
        return CatalogError(f"{path}: {text} (is the disk failing, full or disconnected?)")
    return CatalogError(f"{path}: {text}")


def _uri(path: Path, **params: str) -> str:
    query = "&".join(f"{k}={v}" for k, v in params.items())
    return f"file:{pathname2url(str(path))}?{query}"


def connect(path: Path, readonly: bool) -> sqlite3.Connection:
    """A connection with organizer's settings. A reader that cannot share the WAL index (a
    read-only folder, mount or snapshot copy without its -shm file) reads the file as immutable."""
    attempts = [_uri(path, mode="ro"), _uri(path, mode="ro", immutable="1")] if readonly else [str(path)]
    last: sqlite3.Error | None = None
    for target in attempts:
        try:
            conn = sqlite3.connect(target, uri=readonly, timeout=BUSY_TIMEOUT_S, check_same_thread=False)
            conn.isolation_level = None  # explicit transactions only
            conn.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_S * 1000)}")
            conn.execute("PRAGMA foreign_keys = ON")
            if not readonly:
                _wal(conn)
                conn.execute("PRAGMA synchronous = NORMAL")
            conn.execute("SELECT count(*) FROM sqlite_master").fetchone()  # reads the header and schema
            return conn
        except sqlite3.Error as exc:
            last = exc
            log.debug("%s: cannot open as %s: %s", path, target, exc)
    assert last is not None
    code = getattr(last, "sqlite_errorcode", None)
    if readonly or code in (sqlite3.SQLITE_NOTADB, sqlite3.SQLITE_CANTOPEN):
        raise CatalogError(f"{path}: cannot open the catalog: {last}") from None
    raise translate(last, path) from None


def _wal(conn: sqlite3.Connection) -> None:
    """Switch to WAL, waiting up to BUSY_TIMEOUT_S: two organizers opening a new catalog at once
    race for the switch, and SQLite answers the loser 'database is locked' at once, whatever the
    busy timeout (seen under load: the second of two concurrent scans failed)."""
    deadline = time.monotonic() + BUSY_TIMEOUT_S
    while True:
        try:
            conn.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def quick_check(conn: sqlite3.Connection) -> str:
    """'ok', or the first problem SQLite's quick check finds."""
    try:
        return str(conn.execute("PRAGMA quick_check(1)").fetchone()[0])
    except sqlite3.DatabaseError as exc:
        return str(exc)


@contextmanager
def transaction(conn: sqlite3.Connection, path: Path) -> Iterator[sqlite3.Connection]:
    """BEGIN IMMEDIATE ... COMMIT, rolled back on any exception; SQLite's failures (a full disk,
    a damaged file) come out as CatalogError with a message."""
    try:
        conn.execute("BEGIN IMMEDIATE")
    except sqlite3.Error as exc:
        raise translate(exc, path) from None
    try:
        yield conn
        conn.execute("COMMIT")
    except BaseException as exc:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        if isinstance(exc, sqlite3.Error):
            raise translate(exc, path) from None
        raise
