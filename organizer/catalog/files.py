"""The files store: one row per path, its stat, its state and the photo it holds."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass

from organizer.catalog.paths import from_db, prefix_of, to_db

# ok: a catalogued photo; missing: gone from disk (kept, with its photo, until it comes back or
# its photo is dropped); error: could not be read; unsupported: a real file of a format organizer
# does not read (yet); ignored: not a photo at all; sidecar: an XMP or Takeout JSON file whose
# metadata belongs to a photo (photo_id), never an item of its own.
STATES = ("ok", "missing", "error", "unsupported", "ignored", "sidecar")


@dataclass(frozen=True)
class KnownFile:
    id: int
    size: int | None
    mtime_ns: int | None
    inode: int | None
    dev: int | None
    state: str
    photo_id: int | None
    checked: int | None = None  # the extractor version that last read it


@dataclass(frozen=True)
class FileRow:
    """A present file of a photo, with what choosing the original among copies needs."""

    photo_id: int
    path: str
    size: int
    mtime_ns: int


_KNOWN = "id, size, mtime_ns, inode, dev, state, photo_id, checked"


def _known(row: sqlite3.Row | tuple) -> KnownFile:
    return KnownFile(*row)


class FileStore:
    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    def known(self, root: str) -> dict[str, KnownFile]:
        rows = self.conn.execute(f"SELECT path, {_KNOWN} FROM files WHERE root = ?", (to_db(root),))
        return {from_db(row[0]): _known(row[1:]) for row in rows}

    def get(self, path: str) -> KnownFile | None:
        row = self.conn.execute(f"SELECT {_KNOWN} FROM files WHERE path = ?", (to_db(path),)).fetchone()
        return None if row is None else _known(row)

    def has_present(self, root: str) -> bool:
        """Whether any file under `root` is not missing (cheap: one row)."""
        return self.conn.execute("SELECT 1 FROM files WHERE root = ? AND state != 'missing' LIMIT 1",
                                 (to_db(root),)).fetchone() is not None

    def upsert(self, path: str, root: str, stat: tuple[int, int, int, int], state: str, photo_id: int | None,
               seen: str, checked: int | None = None, format: str | None = None) -> None:
        size, mtime_ns, inode, dev = stat
        self.conn.execute(
            """
            INSERT INTO files (path, root, photo_id, size, mtime_ns, inode, dev, state, format, checked,
                               first_seen, last_seen, missing_since)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, NULL)
            ON CONFLICT(path) DO UPDATE SET
                root = excluded.root, photo_id = excluded.photo_id, size = excluded.size,
                mtime_ns = excluded.mtime_ns, inode = excluded.inode, dev = excluded.dev,
                state = excluded.state, format = excluded.format, checked = excluded.checked,
                last_seen = excluded.last_seen, missing_since = NULL
            """,
            (to_db(path), to_db(root), photo_id, size, mtime_ns, inode, dev, state, format, checked, seen, seen),
        )

    def restat(self, path: str, stat: tuple[int, int, int, int], seen: str) -> None:
        """The same file seen with a new inode or device (a remounted share): keep its row."""
        size, mtime_ns, inode, dev = stat
        self.conn.execute("UPDATE files SET size = ?, mtime_ns = ?, inode = ?, dev = ?, last_seen = ? "
                          "WHERE path = ?", (size, mtime_ns, inode, dev, seen, to_db(path)))

    def move(self, old: str, new: str, root: str, seen: str) -> None:
        """A rename: the row keeps its photo; any stale row at the new path gives way."""
        self.conn.execute("DELETE FROM files WHERE path = ?", (to_db(new),))
        self.conn.execute(
            "UPDATE files SET path = ?, root = ?, state = CASE WHEN state = 'missing' THEN 'ok' "
            "ELSE state END, last_seen = ?, missing_since = NULL WHERE path = ?",
            (to_db(new), to_db(root), seen, to_db(old)),
        )

    def under(self, folder: str) -> list[str]:
        prefix = prefix_of(folder)
        return [from_db(r[0]) for r in self.conn.execute(
            "SELECT path FROM files WHERE substr(path, 1, ?) = ?", (len(prefix), prefix))]

    def mark_missing_under(self, path: str, when: str) -> list[tuple[str, int | None]]:
        """Mark a gone file, or every file of a gone folder, missing; returns their (path, photo id)."""
        prefix = prefix_of(path)
        rows = self.conn.execute(
            "UPDATE files SET state = 'missing', missing_since = coalesce(missing_since, ?) "
            "WHERE state != 'missing' AND (path = ? OR substr(path, 1, ?) = ?) RETURNING path, photo_id",
            (when, to_db(path), len(prefix), prefix),
        ).fetchall()
        return [(from_db(r[0]), r[1]) for r in rows]

    def mark_missing(self, paths: Iterable[str], when: str) -> None:
        self.conn.executemany(
            "UPDATE files SET state = 'missing', missing_since = coalesce(missing_since, ?) WHERE path = ?",
            [(when, to_db(p)) for p in paths],
        )

    def present(self, photo_ids: Iterable[int] | None = None) -> dict[int, list[FileRow]]:
        """The present files of the given photos (all photos: None), in path order."""
        sql = "SELECT photo_id, path, size, mtime_ns FROM files WHERE state = 'ok' AND photo_id IS NOT NULL"
        out: dict[int, list[FileRow]] = {}
        if photo_ids is None:
            chunks: Iterable[list[int] | None] = [None]
        else:
            ids = sorted(set(photo_ids))
            chunks = [ids[i:i + 500] for i in range(0, len(ids), 500)]
        for chunk in chunks:
            args: list = []
            where = sql
            if chunk is not None:
                where += f" AND photo_id IN ({','.join('?' * len(chunk))})"
                args = chunk
            for pid, path, size, mtime in self.conn.execute(where + " ORDER BY photo_id, path", args):
                out.setdefault(pid, []).append(FileRow(pid, from_db(path), size or 0, mtime or 0))
        return out

    def others(self, photo_id: int, path: str) -> list[str]:
        """The photo's other present paths."""
        return [from_db(r[0]) for r in self.conn.execute(
            "SELECT path FROM files WHERE photo_id = ? AND path != ? AND state = 'ok' ORDER BY path",
            (photo_id, to_db(path)))]

    def counts(self) -> dict[str, int]:
        """Files per state, every state named."""
        found = dict(self.conn.execute("SELECT state, count(*) FROM files GROUP BY state").fetchall())
        return {state: int(found.get(state, 0)) for state in STATES}

    def formats(self, state: str) -> dict[str, int]:
        """Files in `state` per sniffed format (what `status` shows of unsupported files)."""
        return {fmt or "unknown": int(n) for fmt, n in self.conn.execute(
            "SELECT format, count(*) FROM files WHERE state = ? GROUP BY format ORDER BY count(*) DESC", (state,))}

    def in_folder(self, folder: str) -> list[tuple[str, int]]:
        """(path, photo id) of the present photo files directly in `folder` (not in subfolders)."""
        prefix = prefix_of(folder)
        after = prefix[:-1] + bytes([prefix[-1] + 1])  # the first path past the prefix: a range on the path index
        return [(from_db(p), pid) for p, pid in self.conn.execute(
            "SELECT path, photo_id FROM files WHERE path >= ? AND path < ? AND instr(substr(path, ?), ?) = 0 "
            "AND state = 'ok' AND photo_id IS NOT NULL", (prefix, after, len(prefix) + 1, b"/"))]

    def sidecars_of(self, photo_id: int) -> list[str]:
        return [from_db(r[0]) for r in self.conn.execute(
            "SELECT path FROM files WHERE photo_id = ? AND state = 'sidecar' ORDER BY path", (photo_id,))]

    def roots(self) -> list[str]:
        """Every root that files were ever catalogued under."""
        return [from_db(r[0]) for r in self.conn.execute("SELECT DISTINCT root FROM files")]

    def photos_present(self) -> int:
        return int(self.conn.execute(
            "SELECT count(DISTINCT photo_id) FROM files WHERE state = 'ok' AND photo_id IS NOT NULL").fetchone()[0])

    def row(self, path: str) -> dict | None:
        """Every column of the file's row (for `explain`)."""
        cur = self.conn.execute("SELECT * FROM files WHERE path = ?", (to_db(path),))
        row = cur.fetchone()
        if row is None:
            return None
        out = dict(zip([d[0] for d in cur.description], row))
        out["path"], out["root"] = from_db(out["path"]), from_db(out["root"])
        return out
