"""Pixel verifications of photo pairs (the duplicate finder's), kept between reclusters so that
each pair is verified once; a new verifier version makes the stored ones stale."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Mapping


class PairStore:
    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    def load(self, version: int) -> dict[tuple[int, int], list]:
        """(photo id, photo id) -> the stored measurement (a list of numbers) made by `version`."""
        return {(a, b): json.loads(result) for a, b, result in self.conn.execute(
            "SELECT a, b, result FROM pair_checks WHERE version = ?", (version,))}

    def save(self, version: int, checks: Mapping[tuple[int, int], list]) -> None:
        """Store measurements (call inside a transaction); older versions' are dropped."""
        self.conn.execute("DELETE FROM pair_checks WHERE version != ?", (version,))
        self.conn.executemany("INSERT OR REPLACE INTO pair_checks (a, b, version, result) VALUES (?, ?, ?, ?)",
                              [(a, b, version, json.dumps(v)) for (a, b), v in checks.items()])
