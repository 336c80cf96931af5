"""Place names from the online geocoder, cached per ~1 km cell."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass

from organizer.catalog.database import now_iso


@dataclass(frozen=True)
class CachedName:
    country: str | None
    region: str | None
    city: str | None
    source: str


class PlaceNameStore:
    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    def get(self, cell: str) -> CachedName | None:
        row = self.conn.execute("SELECT country, region, city, source FROM place_names WHERE cell = ?",
                                (cell,)).fetchone()
        return None if row is None else CachedName(*row)

    def put(self, cell: str, name: CachedName) -> None:
        self.conn.execute("INSERT OR REPLACE INTO place_names (cell, country, region, city, source, at) "
                          "VALUES (?, ?, ?, ?, ?, ?)", (cell, name.country, name.region, name.city, name.source,
                                                        now_iso()))
