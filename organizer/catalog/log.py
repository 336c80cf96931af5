"""The error and run logs: files that could not be read, and every scan, cluster and publish."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from organizer.catalog.database import now_iso
from organizer.catalog.paths import from_db, prefix_of, to_db


@dataclass(frozen=True)
class ErrorRow:
    path: str
    stage: str  # scan (a folder or a stat), extract, vectors
    message: str
    at: str


@dataclass(frozen=True)
class RunRow:
    kind: str
    started: str
    finished: str | None
    stats: dict[str, Any] | None


class ErrorStore:
    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    def record(self, path: str, stage: str, message: str, at: str, checked: int | None = None) -> None:
        self.conn.execute(
            "INSERT INTO errors (path, stage, message, at, checked) VALUES (?, ?, ?, ?, ?) "
            "ON CONFLICT(path, stage) DO UPDATE SET message = excluded.message, at = excluded.at, "
            "checked = excluded.checked", (to_db(path), stage, message, at, checked))

    def clear(self, paths: Iterable[str], stage: str | None = None) -> None:
        sql = "DELETE FROM errors WHERE path = ?" + (" AND stage = ?" if stage else "")
        self.conn.executemany(sql, [(to_db(p), stage) if stage else (to_db(p),) for p in paths])

    def clear_under(self, folder: str, stage: str) -> None:
        """Drop `stage` errors of `folder` and of everything under it."""
        prefix = prefix_of(folder)
        self.conn.execute("DELETE FROM errors WHERE stage = ? AND (path = ? OR substr(path, 1, ?) = ?)",
                          (stage, to_db(folder), len(prefix), prefix))

    def rename(self, old: str, new: str) -> None:
        self.conn.execute("UPDATE OR REPLACE errors SET path = ? WHERE path = ?", (to_db(new), to_db(old)))

    def all(self) -> list[ErrorRow]:
        return [ErrorRow(from_db(p), s, m, a) for p, s, m, a in self.conn.execute(
            "SELECT path, stage, message, at FROM errors ORDER BY at DESC, path")]

    def of(self, path: str) -> list[ErrorRow]:
        return [ErrorRow(path, s, m, a) for s, m, a in self.conn.execute(
            "SELECT stage, message, at FROM errors WHERE path = ? ORDER BY stage", (to_db(path),))]

    def count(self) -> int:
        return int(self.conn.execute("SELECT count(*) FROM errors").fetchone()[0])


class RunStore:
    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    def start(self, kind: str) -> int:
        return int(self.conn.execute("INSERT INTO runs (kind, started) VALUES (?, ?) RETURNING id",
                                     (kind, now_iso())).fetchone()[0])

    def finish(self, run_id: int, stats: dict[str, Any]) -> None:
        self.conn.execute("UPDATE runs SET finished = ?, stats = ? WHERE id = ?",
                          (now_iso(), json.dumps(stats, sort_keys=True, default=str), run_id))

    def last(self) -> dict[str, RunRow]:
        """The last run of each kind."""
        return {kind: RunRow(kind, started, finished, json.loads(stats) if stats else None)
                for kind, started, finished, stats in self.conn.execute(
                    "SELECT kind, started, finished, stats FROM runs WHERE id IN "
                    "(SELECT max(id) FROM runs GROUP BY kind) ORDER BY kind")}
