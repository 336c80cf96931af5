"""The SQLite catalog: opening and migrating it (schema in `schema`), writes from the one writer,
and queries.

WAL mode, a busy timeout, foreign keys on. One process writes (the indexer or the daemon); readers
open their own connections (`Catalog(path, readonly=True)`).
"""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import sqlite_utils

from organizer.errors import CatalogError
from organizer.schema import MIGRATIONS

BUSY_TIMEOUT_S = 30.0


def now_iso() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


GROUP_KINDS = ("event", "place", "duplicate", "similar")


@dataclass(frozen=True)
class GroupRow:
    """A group as stored: its stable key, members (photo ids) and what describes it."""

    key: str
    members: frozenset[int]
    start: str | None = None
    end: str | None = None
    lat: float | None = None
    lon: float | None = None
    radius_m: float | None = None


@dataclass(frozen=True)
class FileFacts:
    """What the gallery shows of a present file beside its picture."""

    size: int | None
    width: int | None
    height: int | None
    format: str | None


@dataclass(frozen=True)
class KnownFile:
    id: int
    size: int | None
    mtime_ns: int | None
    inode: int | None
    dev: int | None
    state: str
    photo_id: int | None


PHOTO_COLUMNS = (
    "digest", "format", "width", "height", "orientation", "make", "model", "taken_local",
    "taken_utc", "utc_offset", "taken_source", "offset_source", "lat", "lon", "alt", "phash",
    "dhash", "thumb", "extractor", "indexed_at",
)


class Catalog:
    def __init__(self, path: str | Path, readonly: bool = False) -> None:
        self.path = Path(path).expanduser()
        self.readonly = readonly
        try:
            if readonly:
                if not self.path.exists():
                    raise CatalogError(f"{self.path}: no catalog here yet (run `organizer scan` first)")
                conn = sqlite3.connect(
                    f"file:{self.path}?mode=ro", uri=True, timeout=BUSY_TIMEOUT_S, check_same_thread=False
                )
            else:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                conn = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_S, check_same_thread=False)
            conn.isolation_level = None  # explicit transactions only
            conn.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_S * 1000)}")
            conn.execute("PRAGMA foreign_keys = ON")
            if not readonly:
                conn.execute("PRAGMA journal_mode = WAL")
                conn.execute("PRAGMA synchronous = NORMAL")
            conn.execute("PRAGMA schema_version").fetchone()  # reads the header: is it a database?
        except sqlite3.Error as exc:
            raise CatalogError(f"{self.path}: cannot open the catalog: {exc}") from None
        except OSError as exc:
            raise CatalogError(f"{self.path}: cannot create the catalog: {exc.strerror}") from None
        self.conn = conn
        self.db = sqlite_utils.Database(conn)
        if readonly:
            if self.version() < len(MIGRATIONS):
                raise CatalogError(f"{self.path}: the catalog needs an upgrade; run any writing command")
        else:
            self.migrate()

    def close(self) -> None:
        self.conn.close()

    def __enter__(self) -> Catalog:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- schema -------------------------------------------------------------------------------

    def version(self) -> int:
        return int(self.conn.execute("PRAGMA user_version").fetchone()[0])

    def migrate(self) -> None:
        current = self.version()
        if current > len(MIGRATIONS):
            raise CatalogError(
                f"{self.path}: the catalog is from a newer organizer (schema {current}); upgrade organizer"
            )
        for number in range(current + 1, len(MIGRATIONS) + 1):
            with self.transaction():
                MIGRATIONS[number - 1](self.db)
                self.conn.execute(f"PRAGMA user_version = {number}")

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        self.conn.execute("BEGIN IMMEDIATE")
        try:
            yield self.conn
        except BaseException:
            self.conn.execute("ROLLBACK")
            raise
        self.conn.execute("COMMIT")

    def integrity_check(self) -> str:
        return str(self.conn.execute("PRAGMA integrity_check").fetchone()[0])

    # --- files and photos ---------------------------------------------------------------------

    def known_files(self, root: str) -> dict[str, KnownFile]:
        rows = self.conn.execute(
            "SELECT path, id, size, mtime_ns, inode, dev, state, photo_id FROM files WHERE root = ?",
            (root,),
        )
        return {row[0]: KnownFile(*row[1:]) for row in rows}

    def has_present(self, root: str) -> bool:
        """Whether the catalog holds any file under `root` that is not missing (cheap: one row)."""
        return self.conn.execute(
            "SELECT 1 FROM files WHERE root = ? AND state != 'missing' LIMIT 1", (root,)
        ).fetchone() is not None

    def photo_id(self, digest: str, min_extractor: int = 0) -> int | None:
        row = self.conn.execute(
            "SELECT id FROM photos WHERE digest = ? AND extractor >= ?", (digest, min_extractor)
        ).fetchone()
        return None if row is None else int(row[0])

    def upsert_photo(self, values: dict[str, Any]) -> int:
        cols = ", ".join(PHOTO_COLUMNS)
        marks = ", ".join("?" for _ in PHOTO_COLUMNS)
        updates = ", ".join(f"{c} = excluded.{c}" for c in PHOTO_COLUMNS if c != "digest")
        row = self.conn.execute(
            f"INSERT INTO photos ({cols}) VALUES ({marks}) "
            f"ON CONFLICT(digest) DO UPDATE SET {updates} RETURNING id",
            [values.get(c) for c in PHOTO_COLUMNS],
        ).fetchone()
        return int(row[0])

    def upsert_file(
        self,
        path: str,
        root: str,
        stat: tuple[int, int, int, int],
        state: str,
        photo_id: int | None,
        seen: str,
    ) -> None:
        size, mtime_ns, inode, dev = stat
        self.conn.execute(
            """
            INSERT INTO files (path, root, photo_id, size, mtime_ns, inode, dev, state,
                               first_seen, last_seen, missing_since)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, NULL)
            ON CONFLICT(path) DO UPDATE SET
                root = excluded.root, photo_id = excluded.photo_id, size = excluded.size,
                mtime_ns = excluded.mtime_ns, inode = excluded.inode, dev = excluded.dev,
                state = excluded.state, last_seen = excluded.last_seen, missing_since = NULL
            """,
            (path, root, photo_id, size, mtime_ns, inode, dev, state, seen, seen),
        )

    def move_file(self, old: str, new: str, root: str, seen: str) -> None:
        """A rename: the row keeps its photo; any stale row at the new path gives way."""
        self.conn.execute("DELETE FROM files WHERE path = ?", (new,))
        self.conn.execute(
            "UPDATE files SET path = ?, root = ?, state = CASE WHEN state = 'missing' THEN 'ok' "
            "ELSE state END, last_seen = ?, missing_since = NULL WHERE path = ?",
            (new, root, seen, old),
        )
        self.conn.execute("UPDATE errors SET path = ? WHERE path = ?", (new, old))

    def known_file(self, path: str) -> KnownFile | None:
        row = self.conn.execute(
            "SELECT id, size, mtime_ns, inode, dev, state, photo_id FROM files WHERE path = ?", (path,)
        ).fetchone()
        return None if row is None else KnownFile(*row)

    def move_tree(self, old: str, new: str, root: str, seen: str) -> int:
        """A renamed or moved folder: every row under it follows, keeping its photo."""
        old_prefix, new_prefix = old.rstrip(os.sep) + os.sep, new.rstrip(os.sep) + os.sep
        rows = self.conn.execute(
            "SELECT path FROM files WHERE substr(path, 1, ?) = ?", (len(old_prefix), old_prefix)
        ).fetchall()
        for (path,) in rows:
            self.move_file(path, new_prefix + path[len(old_prefix):], root, seen)
        return len(rows)

    def mark_missing_under(self, path: str, when: str) -> int:
        """Mark a gone file, or every file of a gone folder, missing; returns how many."""
        prefix = path.rstrip(os.sep) + os.sep
        cur = self.conn.execute(
            "UPDATE files SET state = 'missing', missing_since = coalesce(missing_since, ?) "
            "WHERE state != 'missing' AND (path = ? OR substr(path, 1, ?) = ?)",
            (when, path, len(prefix), prefix),
        )
        return cur.rowcount

    def mark_missing(self, paths: Iterable[str], when: str) -> None:
        self.conn.executemany(
            "UPDATE files SET state = 'missing', missing_since = coalesce(missing_since, ?) WHERE path = ?",
            [(when, p) for p in paths],
        )

    def drop_orphan_photos(self) -> list[str]:
        """Delete photos that no file row points to; returns their thumbnail paths."""
        rows = self.conn.execute(
            "DELETE FROM photos WHERE id NOT IN (SELECT photo_id FROM files WHERE photo_id IS NOT NULL) "
            "RETURNING thumb"
        ).fetchall()
        return [r[0] for r in rows if r[0]]

    # --- vectors ------------------------------------------------------------------------------

    def put_vector(self, photo_id: int, model: str, vec: bytes) -> None:
        self.conn.execute(
            "INSERT OR REPLACE INTO vectors (photo_id, model, vec) VALUES (?, ?, ?)", (photo_id, model, vec)
        )

    def photos_without_vector(self, model: str) -> list[tuple[int, str]]:
        """(photo id, one present path) of photos with no vector from `model`."""
        return self.conn.execute(
            """
            SELECT p.id, min(f.path) FROM photos p JOIN files f ON f.photo_id = p.id AND f.state = 'ok'
            LEFT JOIN vectors v ON v.photo_id = p.id AND v.model = ?
            WHERE v.photo_id IS NULL GROUP BY p.id
            """,
            (model,),
        ).fetchall()

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
            (model,),
        )
        while rows := cursor.fetchmany(size):
            yield [r[0] for r in rows], [r[1] for r in rows]

    def vector(self, photo_id: int, model: str) -> bytes | None:
        row = self.conn.execute("SELECT vec FROM vectors WHERE photo_id = ? AND model = ?",
                                (photo_id, model)).fetchone()
        return row[0] if row else None

    def first_paths(self, photo_ids: list[int]) -> dict[int, str]:
        out: dict[int, str] = {}
        for start in range(0, len(photo_ids), 500):
            chunk = photo_ids[start:start + 500]
            marks = ",".join("?" * len(chunk))
            out.update(self.conn.execute(
                f"SELECT photo_id, min(path) FROM files WHERE state = 'ok' AND photo_id IN ({marks}) "
                "GROUP BY photo_id", chunk).fetchall())
        return out

    # --- groups -------------------------------------------------------------------------------

    def photo_facts(self, photo_ids: Iterable[int]) -> list[tuple]:
        """(id, taken_local, taken_source, lat, lon) of the given photos."""
        ids = sorted(set(photo_ids))
        out: list[tuple] = []
        for start in range(0, len(ids), 500):
            chunk = ids[start:start + 500]
            out += self.conn.execute(
                f"SELECT id, taken_local, taken_source, lat, lon FROM photos WHERE id IN ({','.join('?' * len(chunk))})",
                chunk,
            ).fetchall()
        return out

    def cluster_rows(self) -> list[tuple]:
        """(id, digest, taken_local, taken_source, lat, lon, phash, dhash, ok_files) of every photo
        that has at least one present file."""
        return self.conn.execute(
            """
            SELECT p.id, p.digest, p.taken_local, p.taken_source, p.lat, p.lon, p.phash, p.dhash, f.n
            FROM photos p
            JOIN (SELECT photo_id, count(*) AS n FROM files WHERE state = 'ok' AND photo_id IS NOT NULL
                  GROUP BY photo_id) f ON f.photo_id = p.id
            ORDER BY p.id
            """
        ).fetchall()

    def groups(self, kind: str) -> dict[str, frozenset[int]]:
        members: dict[str, set[int]] = {}
        for key, photo_id in self.conn.execute(
            "SELECT g.key, m.photo_id FROM groups g LEFT JOIN group_members m ON m.group_id = g.id "
            "WHERE g.kind = ?",
            (kind,),
        ):
            bucket = members.setdefault(key, set())
            if photo_id is not None:
                bucket.add(photo_id)
        return {k: frozenset(v) for k, v in members.items()}

    def replace_groups(self, kind: str, rows: list[GroupRow]) -> dict[str, int]:
        """Make the stored groups of `kind` equal to `rows`, rewriting only what changed.

        Returns counts: kept (same members), changed, added, dropped.
        """
        stamp = now_iso()
        old = self.groups(kind)
        ids = dict(self.conn.execute("SELECT key, id FROM groups WHERE kind = ?", (kind,)).fetchall())
        counts = {"kept": 0, "changed": 0, "added": 0, "dropped": 0}
        new_keys = {r.key for r in rows}
        with self.transaction():
            for key in set(old) - new_keys:
                self.conn.execute("DELETE FROM groups WHERE id = ?", (ids[key],))
                counts["dropped"] += 1
            for r in rows:
                values = (len(r.members), r.start, r.end, r.lat, r.lon, r.radius_m)
                if r.key in ids:
                    self.conn.execute(
                        "UPDATE groups SET size = ?, start = ?, end = ?, lat = ?, lon = ?, radius_m = ?, "
                        "updated = CASE WHEN size != ? THEN ? ELSE updated END WHERE id = ?",
                        (*values, len(r.members), stamp, ids[r.key]),
                    )
                    group_id = ids[r.key]
                    if old.get(r.key) == r.members:
                        counts["kept"] += 1
                        continue
                    self.conn.execute("DELETE FROM group_members WHERE group_id = ?", (group_id,))
                    counts["changed"] += 1
                else:
                    group_id = self.conn.execute(
                        "INSERT INTO groups (kind, key, size, start, end, lat, lon, radius_m, created, updated) "
                        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
                        (kind, r.key, *values, stamp, stamp),
                    ).fetchone()[0]
                    counts["added"] += 1
                self.conn.executemany(
                    "INSERT INTO group_members (group_id, photo_id) VALUES (?, ?)",
                    [(group_id, m) for m in sorted(r.members)],
                )
        return counts

    def in_group(self, kind: str, photo_id: int) -> bool:
        return self.conn.execute(
            "SELECT 1 FROM group_members m JOIN groups g ON g.id = m.group_id WHERE g.kind = ? AND m.photo_id = ?",
            (kind, photo_id),
        ).fetchone() is not None

    def add_member(self, kind: str, key: str, photo_id: int, taken: str | None = None) -> None:
        """A new photo joins an existing group between reclusters (its span grows to include it)."""
        group_id = self.conn.execute("SELECT id FROM groups WHERE kind = ? AND key = ?", (kind, key)).fetchone()[0]
        self.conn.execute("INSERT OR IGNORE INTO group_members (group_id, photo_id) VALUES (?, ?)",
                          (group_id, photo_id))
        self.conn.execute(
            "UPDATE groups SET size = (SELECT count(*) FROM group_members WHERE group_id = ?), "
            "start = CASE WHEN ? IS NOT NULL AND ? < start THEN ? ELSE start END, "
            "end = CASE WHEN ? IS NOT NULL AND ? > end THEN ? ELSE end END, updated = ? WHERE id = ?",
            (group_id, taken, taken, taken, taken, taken, taken, now_iso(), group_id),
        )

    def group_counts(self) -> dict[str, int]:
        counts = dict(self.conn.execute("SELECT kind, count(*) FROM groups GROUP BY kind").fetchall())
        return {kind: int(counts.get(kind, 0)) for kind in GROUP_KINDS}

    def groups_of_photo(self, photo_id: int) -> list[dict[str, Any]]:
        return list(
            self.db.query(
                "SELECT g.kind, g.key, g.size, g.start, g.end FROM groups g "
                "JOIN group_members m ON m.group_id = g.id WHERE m.photo_id = ? ORDER BY g.kind",
                [photo_id],
            )
        )

    def duplicate_listing(self) -> list[dict[str, Any]]:
        """Every duplicate group with its files (paths of present files of each member photo)."""
        out: dict[str, dict[str, Any]] = {}
        for key, photo_id, path, taken, width, height, size in self.conn.execute(
            """
            SELECT g.key, p.id, f.path, p.taken_local, p.width, p.height, f.size
            FROM groups g JOIN group_members m ON m.group_id = g.id
            JOIN photos p ON p.id = m.photo_id
            JOIN files f ON f.photo_id = p.id AND f.state = 'ok'
            WHERE g.kind = 'duplicate' ORDER BY g.key, p.width * p.height DESC, f.size DESC, f.path
            """
        ):
            group = out.setdefault(key, {"group": key, "files": []})
            group["files"].append(
                {"path": path, "photo": photo_id, "taken_at": taken, "width": width, "height": height, "size": size}
            )
        return list(out.values())

    # --- publishing ---------------------------------------------------------------------------

    def cached_place_name(self, cell: str) -> tuple | None:
        row = self.conn.execute(
            "SELECT country, region, city, source FROM place_names WHERE cell = ?", (cell,)
        ).fetchone()
        return None if row is None else tuple(row)

    def cache_place_name(self, cell: str, country: str | None, region: str | None, city: str | None,
                         source: str) -> None:
        with self.transaction():
            self.conn.execute(
                "INSERT OR REPLACE INTO place_names (cell, country, region, city, source, at) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (cell, country, region, city, source, now_iso()),
            )

    def publish_rows(self) -> list[tuple]:
        """(photo id, digest, taken_local, taken_source, lat, lon, thumb, path) for every present
        file, ordered by photo and path."""
        return self.conn.execute(
            """
            SELECT p.id, p.digest, p.taken_local, p.taken_source, p.lat, p.lon, p.thumb, f.path
            FROM photos p JOIN files f ON f.photo_id = p.id AND f.state = 'ok'
            ORDER BY p.id, f.path
            """
        ).fetchall()

    def file_facts(self, paths: Iterable[str]) -> dict[str, FileFacts]:
        """Size, pixel size and format of the present files among `paths`, by path."""
        wanted = sorted(set(paths))
        out: dict[str, FileFacts] = {}
        for start in range(0, len(wanted), 500):
            chunk = wanted[start:start + 500]
            for path, size, width, height, fmt in self.conn.execute(
                    "SELECT f.path, f.size, p.width, p.height, p.format FROM files f JOIN photos p ON p.id = f.photo_id "
                    f"WHERE f.state = 'ok' AND f.path IN ({','.join('?' * len(chunk))})", chunk):
                out[path] = FileFacts(size, width, height, fmt)
        return out

    def group_rows(self, kind: str) -> list[tuple]:
        """(key, start, end, lat, lon, radius_m, members) of every group of `kind`, members sorted."""
        rows = self.conn.execute(
            "SELECT g.key, g.start, g.end, g.lat, g.lon, g.radius_m, group_concat(m.photo_id) FROM groups g "
            "JOIN group_members m ON m.group_id = g.id WHERE g.kind = ? GROUP BY g.id ORDER BY g.key",
            (kind,),
        ).fetchall()
        return [(*r[:6], sorted(int(x) for x in r[6].split(","))) for r in rows]

    def set_albums(self, output: str, albums: dict[str, tuple[str, str | None, list[int], str]],
                   removed: Iterable[str] | None = None) -> None:
        """Record what is published in `output`: album path -> (kind, group key, photo ids, links
        digest). Without `removed`, `albums` is all there is; with it, only `albums` and `removed`
        change and the other recorded albums stay."""
        with self.transaction():
            if removed is None:
                self.conn.execute("DELETE FROM albums WHERE output = ?", (output,))
            else:
                self.conn.executemany("DELETE FROM albums WHERE output = ? AND path = ?",
                                      [(output, path) for path in [*removed, *albums]])
            for path, (kind, key, photos, digest) in albums.items():
                album_id = self.conn.execute(
                    "INSERT INTO albums (output, path, kind, group_key, links) VALUES (?, ?, ?, ?, ?) RETURNING id",
                    (output, path, kind, key, digest),
                ).fetchone()[0]
                self.conn.executemany(
                    "INSERT OR IGNORE INTO album_photos (album_id, photo_id) VALUES (?, ?)",
                    [(album_id, p) for p in photos],
                )

    def album_digests(self, output: str) -> dict[str, str | None]:
        """Album path -> the digest of its links, as last published in `output`."""
        return dict(self.conn.execute("SELECT path, links FROM albums WHERE output = ?", (output,)))

    def albums_of_photo(self, photo_id: int) -> list[str]:
        return [
            str(Path(output) / path)
            for output, path in self.conn.execute(
                "SELECT a.output, a.path FROM albums a JOIN album_photos ap ON ap.album_id = a.id "
                "WHERE ap.photo_id = ? ORDER BY a.path",
                (photo_id,),
            )
        ]

    # --- errors -------------------------------------------------------------------------------

    def record_error(self, path: str, stage: str, message: str, at: str) -> None:
        self.conn.execute(
            "INSERT INTO errors (path, stage, message, at) VALUES (?, ?, ?, ?) "
            "ON CONFLICT(path, stage) DO UPDATE SET message = excluded.message, at = excluded.at",
            (path, stage, message, at),
        )

    def clear_errors(self, path: str) -> None:
        self.conn.execute("DELETE FROM errors WHERE path = ?", (path,))

    def errors(self) -> list[dict[str, Any]]:
        return [
            dict(row)
            for row in self.db.query("SELECT path, stage, message, at FROM errors ORDER BY at DESC, path")
        ]

    # --- runs ---------------------------------------------------------------------------------

    def start_run(self, kind: str) -> int:
        with self.transaction():
            cur = self.conn.execute(
                "INSERT INTO runs (kind, started) VALUES (?, ?)", (kind, now_iso())
            )
        return int(cur.lastrowid)

    def finish_run(self, run_id: int, stats: dict[str, Any]) -> None:
        with self.transaction():
            self.conn.execute(
                "UPDATE runs SET finished = ?, stats = ? WHERE id = ?",
                (now_iso(), json.dumps(stats, sort_keys=True), run_id),
            )

    def last_runs(self) -> dict[str, dict[str, Any]]:
        out: dict[str, dict[str, Any]] = {}
        for row in self.db.query(
            "SELECT kind, started, finished, stats FROM runs WHERE id IN "
            "(SELECT max(id) FROM runs GROUP BY kind) ORDER BY kind"
        ):
            out[row["kind"]] = {
                "started": row["started"],
                "finished": row["finished"],
                "stats": json.loads(row["stats"]) if row["stats"] else None,
            }
        return out

    # --- reports ------------------------------------------------------------------------------

    def status(self) -> dict[str, Any]:
        one = lambda sql: int(self.conn.execute(sql).fetchone()[0])  # noqa: E731
        return {
            "files": one("SELECT count(*) FROM files WHERE state = 'ok'"),
            "photos": one(
                "SELECT count(DISTINCT photo_id) FROM files WHERE state = 'ok' AND photo_id IS NOT NULL"
            ),
            "errors": one("SELECT count(*) FROM errors"),
            "missing": one("SELECT count(*) FROM files WHERE state = 'missing'"),
            "ignored": one("SELECT count(*) FROM files WHERE state = 'ignored'"),
        }

    def explain(self, path: str) -> dict[str, Any]:
        """All that the catalog knows of one file."""
        rows = list(self.db.query("SELECT * FROM files WHERE path = ?", [path]))
        if not rows:
            raise CatalogError(f"{path}: not in the catalog")
        file = rows[0]
        photo: dict[str, Any] = {}
        if file["photo_id"] is not None:
            photo = next(iter(self.db.query("SELECT * FROM photos WHERE id = ?", [file["photo_id"]])), {})
        others = [
            r[0]
            for r in self.conn.execute(
                "SELECT path FROM files WHERE photo_id = ? AND path != ? AND state = 'ok' ORDER BY path",
                (file["photo_id"], path),
            )
        ]
        camera = " ".join(p for p in (photo.get("make"), photo.get("model")) if p) or None
        return {
            "path": path,
            "state": file["state"],
            "size": file["size"],
            "digest": photo.get("digest"),
            "format": photo.get("format"),
            "taken_at": photo.get("taken_local"),
            "taken_at_utc": photo.get("taken_utc"),
            "utc_offset": photo.get("utc_offset"),
            "taken_at_source": photo.get("taken_source"),
            "utc_offset_source": photo.get("offset_source"),
            "lat": photo.get("lat"),
            "lon": photo.get("lon"),
            "alt": photo.get("alt"),
            "camera": camera,
            "width": photo.get("width"),
            "height": photo.get("height"),
            "orientation": photo.get("orientation"),
            "phash": photo.get("phash"),
            "dhash": photo.get("dhash"),
            "thumbnail": photo.get("thumb"),
            "vector_model": next(iter(self.conn.execute(
                "SELECT model FROM vectors WHERE photo_id = ?", (file["photo_id"],)).fetchone() or ()), None),
            "same_content": others,
            "errors": list(self.db.query("SELECT stage, message, at FROM errors WHERE path = ?", [path])),
            "groups": self.groups_of_photo(file["photo_id"]) if file["photo_id"] is not None else [],
            "albums": self.albums_of_photo(file["photo_id"]) if file["photo_id"] is not None else [],
            "first_seen": file["first_seen"],
            "last_seen": file["last_seen"],
            "missing_since": file["missing_since"],
        }
