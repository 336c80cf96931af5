"""The photos store: one row per distinct content, its facts, and its CNN vector."""

from __future__ import annotations

import dataclasses
import sqlite3
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from organizer.catalog.paths import from_db, to_db


@dataclass(frozen=True)
class PhotoRecord:
    """A photo's row as written: the one place that says which facts are columns."""

    digest: str
    extractor: int
    indexed_at: str
    format: str | None = None
    width: int | None = None
    height: int | None = None
    orientation: int | None = None
    make: str | None = None
    model: str | None = None
    taken_local: str | None = None
    taken_utc: str | None = None
    utc_offset: int | None = None
    taken_source: str | None = None
    offset_source: str | None = None
    lat: float | None = None
    lon: float | None = None
    alt: float | None = None
    phash: str | None = None
    dhash: str | None = None
    thumb: str | None = None


COLUMNS = tuple(f.name for f in dataclasses.fields(PhotoRecord))


@dataclass(frozen=True)
class PhotoFacts:
    """What grouping and publishing read of a photo."""

    id: int
    digest: str
    taken_local: str | None
    taken_source: str | None
    lat: float | None
    lon: float | None
    phash: str | None
    dhash: str | None
    thumb: str | None
    width: int | None
    height: int | None
    format: str | None
    files: int  # present files


_FACTS = "p.id, p.digest, p.taken_local, p.taken_source, p.lat, p.lon, p.phash, p.dhash, p.thumb, p.width, p.height, p.format"


def _facts(row: tuple) -> PhotoFacts:
    thumb = row[8]
    return PhotoFacts(*row[:8], from_db(thumb) if thumb is not None else None, *row[9:])


class PhotoStore:
    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    def id_of(self, digest: str, min_extractor: int = 0) -> int | None:
        row = self.conn.execute("SELECT id FROM photos WHERE digest = ? AND extractor >= ?",
                                (digest, min_extractor)).fetchone()
        return None if row is None else int(row[0])

    def upsert(self, record: PhotoRecord) -> int:
        values = [to_db(v) if c == "thumb" and v is not None else v
                  for c, v in zip(COLUMNS, dataclasses.astuple(record))]
        updates = ", ".join(f"{c} = excluded.{c}" for c in COLUMNS if c != "digest")
        row = self.conn.execute(
            f"INSERT INTO photos ({', '.join(COLUMNS)}) VALUES ({', '.join('?' * len(COLUMNS))}) "
            f"ON CONFLICT(digest) DO UPDATE SET {updates} RETURNING id", values).fetchone()
        return int(row[0])

    def redate(self, photo_id: int, taken_local: str, source: str, utc: str | None, offset: int | None,
               offset_source: str | None) -> None:
        """A better date found at another path of the same photo (see `index`)."""
        self.conn.execute("UPDATE photos SET taken_local = ?, taken_source = ?, taken_utc = ?, utc_offset = ?, "
                          "offset_source = ? WHERE id = ?", (taken_local, source, utc, offset, offset_source,
                                                             photo_id))

    def date_of(self, photo_id: int) -> tuple[str | None, str | None]:
        row = self.conn.execute("SELECT taken_local, taken_source FROM photos WHERE id = ?", (photo_id,)).fetchone()
        return (row[0], row[1]) if row else (None, None)

    def drop_orphans(self) -> list[str]:
        """Delete photos that no file row points to; returns their thumbnail paths."""
        rows = self.conn.execute(
            "DELETE FROM photos WHERE id NOT IN (SELECT photo_id FROM files WHERE photo_id IS NOT NULL) "
            "RETURNING thumb").fetchall()
        return [from_db(r[0]) for r in rows if r[0]]

    def facts(self, photo_ids: Iterable[int] | None = None) -> list[PhotoFacts]:
        """The photos with at least one present file (of `photo_ids`, or all), in id order."""
        sql = (f"SELECT {_FACTS}, f.n FROM photos p JOIN (SELECT photo_id, count(*) AS n FROM files "
               "WHERE state = 'ok' AND photo_id IS NOT NULL GROUP BY photo_id) f ON f.photo_id = p.id")
        if photo_ids is None:
            return [_facts(r) for r in self.conn.execute(sql + " ORDER BY p.id")]
        ids = sorted(set(photo_ids))
        out: list[PhotoFacts] = []
        for i in range(0, len(ids), 500):
            chunk = ids[i:i + 500]
            out += [_facts(r) for r in self.conn.execute(
                sql + f" WHERE p.id IN ({','.join('?' * len(chunk))}) ORDER BY p.id", chunk)]
        return out

    def row(self, photo_id: int) -> dict | None:
        """Every column of the photo's row (for `explain`)."""
        cur = self.conn.execute("SELECT * FROM photos WHERE id = ?", (photo_id,))
        row = cur.fetchone()
        if row is None:
            return None
        out = dict(zip([d[0] for d in cur.description], row))
        if out.get("thumb") is not None:
            out["thumb"] = from_db(out["thumb"])
        return out

    # --- vectors --------------------------------------------------------------------------------

    def put_vector(self, photo_id: int, model: str, vec: bytes) -> None:
        self.conn.execute("INSERT OR REPLACE INTO vectors (photo_id, model, vec) VALUES (?, ?, ?)",
                          (photo_id, model, vec))

    def without_vector(self, model: str) -> list[tuple[int, str]]:
        """(photo id, one present path) of photos with no vector from `model`."""
        return [(pid, from_db(path)) for pid, path in self.conn.execute(
            """
            SELECT p.id, min(f.path) FROM photos p JOIN files f ON f.photo_id = p.id AND f.state = 'ok'
            LEFT JOIN vectors v ON v.photo_id = p.id AND v.model = ?
            WHERE v.photo_id IS NULL GROUP BY p.id
            """, (model,))]

    def vectors(self, model: str) -> tuple[list[int], list[bytes]]:
        """Photo ids (with a present file) and their vectors from `model`."""
        ids: list[int] = []
        blobs: list[bytes] = []
        for batch_ids, batch_blobs in self.vector_batches(model, 65_536):
            ids += batch_ids
            blobs += batch_blobs
        return ids, blobs

    def vector_batches(self, model: str, size: int) -> Iterator[tuple[list[int], list[bytes]]]:
        """The same rows as `vectors`, `size` at a time: memory bounded by one batch."""
        cursor = self.conn.execute(
            "SELECT v.photo_id, v.vec FROM vectors v WHERE v.model = ? AND EXISTS "
            "(SELECT 1 FROM files f WHERE f.photo_id = v.photo_id AND f.state = 'ok') ORDER BY v.photo_id",
            (model,))
        while rows := cursor.fetchmany(size):
            yield [r[0] for r in rows], [r[1] for r in rows]

    def vector(self, photo_id: int, model: str) -> bytes | None:
        row = self.conn.execute("SELECT vec FROM vectors WHERE photo_id = ? AND model = ?",
                                (photo_id, model)).fetchone()
        return row[0] if row else None

    def vector_model(self, photo_id: int) -> str | None:
        row = self.conn.execute("SELECT model FROM vectors WHERE photo_id = ?", (photo_id,)).fetchone()
        return row[0] if row else None
