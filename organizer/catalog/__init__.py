"""The SQLite catalog: one file, WAL, one writing process, readers on their own connections.

`Catalog` opens (and upgrades) the file and holds one store per concept: `files`, `photos` (with
their vectors), `groups`, `albums`, `errors`, `runs`, `places`, `pairs`. Stores return named rows; every
write happens inside `Catalog.transaction()`, which turns SQLite's failures (a full disk, a
damaged file) into CatalogError messages.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from organizer.catalog import migrations
from organizer.catalog.albums import AlbumRecord, AlbumStore
from organizer.catalog.database import (CatalogDamagedError, CatalogFullError, connect, now_iso, quick_check,
                                        recovery_advice, transaction)
from organizer.catalog.files import STATES, FileRow, FileStore, KnownFile
from organizer.catalog.groups import FacePin, GroupRow, GroupStore, Membership
from organizer.catalog.log import ErrorRow, ErrorStore, RunRow, RunStore
from organizer.catalog.pairs import PairStore
from organizer.catalog.paths import shown
from organizer.catalog.photos import PhotoFacts, PhotoRecord, PhotoStore
from organizer.catalog.places import CachedName, PlaceNameStore
from organizer.errors import CatalogError

__all__ = [
    "AlbumRecord", "CachedName", "Catalog", "CatalogDamagedError", "CatalogFullError", "ErrorRow", "FileRow",
    "FacePin", "GroupRow", "KnownFile", "Membership", "PhotoFacts", "PhotoRecord", "RunRow", "STATES", "now_iso", "shown",
]

log = logging.getLogger(__name__)


class Catalog:
    """The catalog file at `path`. A writer checks the file's health and upgrades its schema; a
    reader (`readonly`) works on a file it cannot write (mode 444, a read-only mount, a snapshot)."""

    def __init__(self, path: str | os.PathLike, readonly: bool = False) -> None:
        self.path = Path(path).expanduser()
        self.readonly = readonly
        if readonly:
            if not self.path.exists():
                raise CatalogError(f"{self.path}: no catalog here yet (run `organizer scan` first)")
        else:
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise CatalogError(f"{self.path}: cannot create the catalog: {exc.strerror}") from None
        self.conn = connect(self.path, readonly)
        try:
            if readonly:
                migrations.check_readable(self.conn, self.path)
            else:
                health = quick_check(self.conn)
                if health != "ok":
                    log.error("%s: quick_check: %s", self.path, health)
                    raise CatalogDamagedError(recovery_advice(self.path))
                migrations.upgrade(self.conn, self.path)
        except BaseException:
            self.conn.close()
            raise
        self.files = FileStore(self.conn)
        self.photos = PhotoStore(self.conn)
        self.groups = GroupStore(self.conn)
        self.albums = AlbumStore(self.conn)
        self.errors = ErrorStore(self.conn)
        self.runs = RunStore(self.conn)
        self.places = PlaceNameStore(self.conn)
        self.pairs = PairStore(self.conn)

    def close(self) -> None:
        self.conn.close()

    def __enter__(self) -> Catalog:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def transaction(self) -> Iterator[None]:
        with transaction(self.conn, self.path):
            yield

    def integrity_check(self) -> str:
        return str(self.conn.execute("PRAGMA integrity_check").fetchone()[0])

    # --- what spans two stores ----------------------------------------------------------------

    def move_file(self, old: str, new: str, root: str, seen: str) -> int | None:
        """A renamed file keeps its row, its photo and its error rows; returns its photo id."""
        self.files.move(old, new, root, seen)
        self.errors.rename(old, new)
        row = self.files.get(new)
        return None if row is None else row.photo_id

    def move_tree(self, old: str, new: str, root: str, seen: str) -> list[int | None]:
        """A renamed or moved folder: every row under it follows, keeping its photo; returns
        their photo ids."""
        paths = self.files.under(old)
        old_prefix, new_prefix = old.rstrip(os.sep) + os.sep, new.rstrip(os.sep) + os.sep
        return [self.move_file(path, new_prefix + path[len(old_prefix):], root, seen) for path in paths]

    def mark_missing(self, paths: list[str], when: str) -> None:
        """Gone files: missing, and their error rows (about a file that is not there) dropped."""
        self.files.mark_missing(paths, when)
        self.errors.clear(paths)

    def mark_missing_under(self, path: str, when: str) -> list[tuple[str, int | None]]:
        """A gone file or folder: its files missing; returns their (path, photo id)."""
        gone = self.files.mark_missing_under(path, when)
        self.errors.clear(p for p, _ in gone)
        return gone

    def start_run(self, kind: str) -> int:
        with self.transaction():
            return self.runs.start(kind)

    def finish_run(self, run_id: int, stats: dict) -> None:
        with self.transaction():
            self.runs.finish(run_id, stats)
