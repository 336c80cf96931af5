"""The photos store: one row per distinct content, its facts, and its CNN vector."""

from __future__ import annotations

import dataclasses
import json
import sqlite3
from collections.abc import Iterable, Iterator, Sequence
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
    kind: str = "photo"  # photo | video | raw
    duration: float | None = None  # seconds (videos)
    rating: int | None = None  # -1 (rejected) .. 5
    title: str | None = None
    description: str | None = None
    content_id: str | None = None  # Apple's Live Photo key
    motion_video: int | None = None  # bytes of a Motion Photo's embedded MP4
    sources: str | None = None  # JSON: fact -> where it came from
    versions: str | None = None  # JSON: reader -> the version that made these facts


COLUMNS = tuple(f.name for f in dataclasses.fields(PhotoRecord))
# What a metadata-only refresh rewrites (a sidecar changed, or the metadata readers did).
METADATA_COLUMNS = ("make", "model", "taken_local", "taken_utc", "utc_offset", "taken_source", "offset_source",
                    "lat", "lon", "alt", "rating", "title", "description", "content_id", "motion_video", "sources",
                    "versions")


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
    kind: str
    rating: int | None
    duration: float | None
    make: str | None
    model: str | None
    orientation: int | None
    primary_id: int | None  # set for a companion (a RAW's JPEG, a Live Photo's MOV)
    files: int  # present files


_FACTS = ("p.id, p.digest, p.taken_local, p.taken_source, p.lat, p.lon, p.phash, p.dhash, p.thumb, p.width, "
          "p.height, p.format, p.kind, p.rating, p.duration, p.make, p.model, p.orientation, "
          "(SELECT c.primary_id FROM companions c WHERE c.photo_id = p.id)")


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

    def refresh_metadata(self, photo_id: int, record: PhotoRecord) -> None:
        """Rewrite a photo's metadata columns only (its pixels' facts stay)."""
        values = [getattr(record, c) for c in METADATA_COLUMNS]
        self.conn.execute(f"UPDATE photos SET {', '.join(f'{c} = ?' for c in METADATA_COLUMNS)} WHERE id = ?",
                          (*values, photo_id))

    def set_keywords(self, photo_id: int, keywords: Iterable[tuple[str, str | None]]) -> None:
        """A photo's keywords, each with its hierarchical path ('Places/Italy/Arezzo') or None."""
        self.conn.execute("DELETE FROM keywords WHERE photo_id = ?", (photo_id,))
        self.conn.executemany("INSERT OR IGNORE INTO keywords (photo_id, keyword, path) VALUES (?, ?, ?)",
                              [(photo_id, k, p) for k, p in keywords])

    def keywords(self, photo_id: int | None = None) -> dict[int, list[str]]:
        """Photo id -> its keywords (of one photo, or of all)."""
        sql = "SELECT photo_id, keyword FROM keywords" + (" WHERE photo_id = ?" if photo_id is not None else "")
        out: dict[int, list[str]] = {}
        for pid, keyword in self.conn.execute(sql + " ORDER BY photo_id, keyword",
                                              () if photo_id is None else (photo_id,)):
            out.setdefault(pid, []).append(keyword)
        return out

    def keyword_names(self) -> list[str]:
        """Every keyword some photo carries, once."""
        return [r[0] for r in self.conn.execute("SELECT DISTINCT keyword FROM keywords")]

    def tagged(self, keywords: Iterable[str]) -> set[int]:
        """The photos that carry any of `keywords`."""
        words = sorted(set(keywords))
        out: set[int] = set()
        for i in range(0, len(words), 500):
            chunk = words[i:i + 500]
            out.update(r[0] for r in self.conn.execute(
                f"SELECT photo_id FROM keywords WHERE keyword IN ({','.join('?' * len(chunk))})", chunk))
        return out

    def rated(self, at_least: int) -> set[int]:
        return {r[0] for r in self.conn.execute("SELECT id FROM photos WHERE rating >= ?", (at_least,))}

    def taken_between(self, start: str, end: str) -> set[int]:
        """Photos whose local date is in [start, end) (ISO text; photos_taken is its index)."""
        return {r[0] for r in self.conn.execute(
            "SELECT id FROM photos WHERE taken_local >= ? AND taken_local < ?", (start, end))}

    def undated(self, sources: Iterable[str]) -> set[int]:
        """Photos with no date from one of `sources` (the Timeline's Undated)."""
        names = sorted(sources)
        return {r[0] for r in self.conn.execute(
            f"SELECT id FROM photos WHERE taken_local IS NULL OR taken_source IS NULL OR taken_source NOT IN "
            f"({','.join('?' * len(names))})", names)}

    def set_regions(self, photo_id: int, regions: Iterable[tuple[str, float, float, float, float]]) -> None:
        """Named face regions a photo carries (XMP MWG: name, centre x, y, width, height as fractions)."""
        self.conn.execute("DELETE FROM regions WHERE photo_id = ?", (photo_id,))
        self.conn.executemany("INSERT INTO regions (photo_id, name, x, y, w, h) VALUES (?, ?, ?, ?, ?, ?)",
                              [(photo_id, *r) for r in regions])

    def regions(self, photo_ids: Sequence[int]) -> dict[int, list[tuple[str, float, float, float, float]]]:
        """Photo id -> its named face regions (name, centre x, y, width, height), for those of
        `photo_ids` that have any; regions without a name are left out."""
        out: dict[int, list[tuple[str, float, float, float, float]]] = {}
        for start in range(0, len(photo_ids), 500):
            chunk = list(photo_ids[start:start + 500])
            for pid, *region in self.conn.execute(
                    f"SELECT photo_id, name, x, y, w, h FROM regions WHERE name != '' AND photo_id IN "
                    f"({','.join('?' * len(chunk))}) ORDER BY rowid", chunk):
                out.setdefault(pid, []).append(tuple(region))  # type: ignore[arg-type]
        return out

    def set_companions(self, primary: int, companions: Iterable[int], relation: str) -> None:
        """Make `companions` the companions of `primary` (each companion has one primary; a
        primary is no one's companion)."""
        self.conn.execute("DELETE FROM companions WHERE primary_id = ? OR photo_id = ?", (primary, primary))
        self.conn.executemany("INSERT OR REPLACE INTO companions (photo_id, primary_id, relation) VALUES (?, ?, ?)",
                              [(c, primary, relation) for c in companions if c != primary])

    def companions(self) -> dict[int, list[tuple[int, str]]]:
        """Primary photo id -> its companions (photo id, relation)."""
        out: dict[int, list[tuple[int, str]]] = {}
        for pid, primary, relation in self.conn.execute(
                "SELECT photo_id, primary_id, relation FROM companions ORDER BY primary_id, photo_id"):
            out.setdefault(primary, []).append((pid, relation))
        return out

    def pairing(self, photo_ids: list[int]) -> dict[int, tuple[str, str | None, str | None, int | None, bool]]:
        """Photo id -> (kind, taken_utc, content_id, motion_video, has a thumbnail): what pairing
        companions needs."""
        out = {}
        for i in range(0, len(photo_ids), 500):
            chunk = photo_ids[i:i + 500]
            for pid, *rest in self.conn.execute(
                    f"SELECT id, kind, taken_utc, content_id, motion_video, thumb IS NOT NULL FROM photos WHERE id IN "
                    f"({','.join('?' * len(chunk))})", chunk):
                out[pid] = tuple(rest)
        return out  # type: ignore[return-value]

    def primary_of(self, photo_id: int) -> tuple[int, str] | None:
        row = self.conn.execute("SELECT primary_id, relation FROM companions WHERE photo_id = ?",
                                (photo_id,)).fetchone()
        return None if row is None else (row[0], row[1])

    def outdated(self, versions: dict[str, int]) -> list[tuple[int, str, str]]:
        """(photo id, one present path, 'metadata' or 'all') of photos whose facts an older
        reader made: 'metadata' when only the metadata readers changed, 'all' when the decoder of
        their kind did (photo: pixels, video, raw)."""
        out = []
        for pid, kind, stored, path in self.conn.execute(
                "SELECT p.id, p.kind, p.versions, min(f.path) FROM photos p JOIN files f ON f.photo_id = p.id "
                "AND f.state = 'ok' GROUP BY p.id"):
            made = json.loads(stored) if stored else {}
            decoder = "pixels" if kind == "photo" else kind
            if made.get(decoder, 1) != versions.get(decoder, 1) or made.get("pixels", 1) != versions.get("pixels", 1):
                out.append((pid, from_db(path), "all"))
            elif made.get("metadata", 1) != versions.get("metadata", 1):
                out.append((pid, from_db(path), "metadata"))
        return out

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
        # a few photos: count each one's files by the index rather than grouping every file
        sql = (f"SELECT * FROM (SELECT {_FACTS}, (SELECT count(*) FROM files f WHERE f.photo_id = p.id "
               "AND f.state = 'ok') AS n FROM photos p WHERE p.id IN ({})) WHERE n > 0 ORDER BY 1")
        ids = sorted(set(photo_ids))
        out: list[PhotoFacts] = []
        for i in range(0, len(ids), 500):
            chunk = ids[i:i + 500]
            out += [_facts(r) for r in self.conn.execute(sql.format(",".join("?" * len(chunk))), chunk)]
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
        """(photo id, one present path) of photos with no vector from `model` (of those whose pixels
        could be decoded)."""
        return [(pid, from_db(path)) for pid, path in self.conn.execute(
            """
            SELECT p.id, min(f.path) FROM photos p JOIN files f ON f.photo_id = p.id AND f.state = 'ok'
            LEFT JOIN vectors v ON v.photo_id = p.id AND v.model = ?
            WHERE v.photo_id IS NULL AND p.phash IS NOT NULL GROUP BY p.id
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

    # --- registered features ---------------------------------------------------------------------

    def put_feature(self, photo_id: int, name: str, version: str, value: bytes) -> None:
        self.conn.execute("INSERT OR REPLACE INTO features (photo_id, name, version, value) VALUES (?, ?, ?, ?)",
                          (photo_id, name, version, value))

    def lacking(self, wanted: dict[str, str], model: str | None) -> list[tuple[int, str, tuple[str, ...]]]:
        """(photo id, one present path, what it lacks) of photos (with decodable pixels) lacking
        the CNN vector of `model` ("cnn") or a feature at the wanted version (name -> version)."""
        out: dict[int, tuple[str, list[str]]] = {}
        if model:
            for pid, path in self.without_vector(model):
                out.setdefault(pid, (path, []))[1].append("cnn")
        for name, version in wanted.items():
            for pid, path in self.conn.execute(
                    """
                    SELECT p.id, min(f.path) FROM photos p JOIN files f ON f.photo_id = p.id AND f.state = 'ok'
                    LEFT JOIN features x ON x.photo_id = p.id AND x.name = ? AND x.version = ?
                    WHERE x.photo_id IS NULL AND p.phash IS NOT NULL GROUP BY p.id
                    """, (name, version)):
                out.setdefault(pid, (from_db(path), []))[1].append(name)
        return [(pid, path, tuple(names)) for pid, (path, names) in sorted(out.items())]

    def features(self, name: str, version: str) -> tuple[list[int], list[bytes]]:
        """Photo ids (with a present file) and their values of a feature at a version."""
        rows = self.conn.execute(
            "SELECT x.photo_id, x.value FROM features x WHERE x.name = ? AND x.version = ? AND EXISTS "
            "(SELECT 1 FROM files f WHERE f.photo_id = x.photo_id AND f.state = 'ok') ORDER BY x.photo_id",
            (name, version)).fetchall()
        return [r[0] for r in rows], [r[1] for r in rows]

    def feature_values(self, name: str, version: str, photo_ids: Sequence[int]) -> dict[int, bytes]:
        """Photo id -> its value of a feature at a version, for these photos (those that have it)."""
        out: dict[int, bytes] = {}
        for start in range(0, len(photo_ids), 500):
            chunk = list(photo_ids[start:start + 500])
            out.update(self.conn.execute(
                f"SELECT photo_id, value FROM features WHERE name = ? AND version = ? AND photo_id IN "
                f"({','.join('?' * len(chunk))})", (name, version, *chunk)).fetchall())
        return out

    def vector_model(self, photo_id: int) -> str | None:
        row = self.conn.execute("SELECT model FROM vectors WHERE photo_id = ?", (photo_id,)).fetchone()
        return row[0] if row else None
