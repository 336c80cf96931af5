"""The groups store: events, places, duplicates, similar shots (any kind), with stable keys."""

from __future__ import annotations

import sqlite3
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from organizer.catalog.database import now_iso


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
    notes: Mapping[int, str] = field(default_factory=dict)  # member -> what it is to the group ("keep", ...)

    def sorted_members(self) -> list[int]:
        return sorted(self.members)


@dataclass(frozen=True)
class Membership:
    """A group a photo belongs to (for `explain`)."""

    kind: str
    key: str
    size: int
    start: str | None
    end: str | None


@dataclass(frozen=True)
class FacePin:
    """A user's decision on one face: the person (key) it belongs to, or, forgotten, none."""

    photo_id: int
    face: int  # its number among the photo's faces when decided
    descriptor: bytes  # 128 float32, to find the face again if the faces are detected anew
    person: str
    forgotten: bool = False


class GroupStore:
    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    def members(self, kind: str) -> dict[str, frozenset[int]]:
        found: dict[str, set[int]] = {}
        for key, photo_id in self.conn.execute(
                "SELECT g.key, m.photo_id FROM groups g LEFT JOIN group_members m ON m.group_id = g.id "
                "WHERE g.kind = ?", (kind,)):
            bucket = found.setdefault(key, set())
            if photo_id is not None:
                bucket.add(photo_id)
        return {k: frozenset(v) for k, v in found.items()}

    def rows(self, kind: str, keys: Iterable[str] | None = None) -> list[GroupRow]:
        """Every group of `kind` that has members (of `keys` only, when given), in key order."""
        sql = ("SELECT g.key, group_concat(m.photo_id), g.start, g.end, g.lat, g.lon, g.radius_m FROM groups g "
               "JOIN group_members m ON m.group_id = g.id WHERE g.kind = ?")
        wanted = None if keys is None else sorted(set(keys))
        chunks = [None] if wanted is None else [wanted[i:i + 500] for i in range(0, len(wanted), 500)]
        out = []
        for chunk in chunks:
            where = sql if chunk is None else sql + f" AND g.key IN ({','.join('?' * len(chunk))})"
            for key, members, *rest in self.conn.execute(where + " GROUP BY g.id", (kind, *(chunk or ()))):
                out.append(GroupRow(key, frozenset(int(x) for x in members.split(",")), *rest))
        return sorted(out, key=lambda r: r.key)

    def rows_with(self, kind: str, photo_ids: Iterable[int]) -> list[GroupRow]:
        """The groups of `kind` that hold any of `photo_ids`, whole, in key order."""
        ids = sorted(set(photo_ids))
        keys: set[str] = set()
        for i in range(0, len(ids), 500):
            chunk = ids[i:i + 500]
            keys.update(r[0] for r in self.conn.execute(
                f"SELECT DISTINCT g.key FROM groups g JOIN group_members m ON m.group_id = g.id WHERE g.kind = ? "
                f"AND m.photo_id IN ({','.join('?' * len(chunk))})", (kind, *chunk)))
        return self.rows(kind, keys) if keys else []

    def replace(self, kind: str, rows: list[GroupRow]) -> dict[str, int]:
        """Make the stored groups of `kind` equal to `rows`, rewriting only what changed (call
        inside a transaction). Returns counts: kept (same members), changed, added, dropped."""
        stamp = now_iso()
        old = self.members(kind)
        old_notes = self.notes(kind)
        ids = dict(self.conn.execute("SELECT key, id FROM groups WHERE kind = ?", (kind,)).fetchall())
        counts = {"kept": 0, "changed": 0, "added": 0, "dropped": 0}
        new_keys = {r.key for r in rows}
        for key in set(old) - new_keys:
            self.conn.execute("DELETE FROM groups WHERE id = ?", (ids[key],))
            counts["dropped"] += 1
        for r in rows:
            values = (len(r.members), r.start, r.end, r.lat, r.lon, r.radius_m)
            if r.key in ids:
                self.conn.execute(
                    "UPDATE groups SET size = ?, start = ?, end = ?, lat = ?, lon = ?, radius_m = ?, "
                    "updated = CASE WHEN size != ? THEN ? ELSE updated END WHERE id = ?",
                    (*values, len(r.members), stamp, ids[r.key]))
                group_id = ids[r.key]
                if old.get(r.key) == r.members and old_notes.get(r.key, {}) == dict(r.notes):
                    counts["kept"] += 1
                    continue
                self.conn.execute("DELETE FROM group_members WHERE group_id = ?", (group_id,))
                counts["changed"] += 1
            else:
                group_id = self.conn.execute(
                    "INSERT INTO groups (kind, key, size, start, end, lat, lon, radius_m, created, updated) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id", (kind, r.key, *values, stamp, stamp),
                ).fetchone()[0]
                counts["added"] += 1
            self.conn.executemany("INSERT INTO group_members (group_id, photo_id, note) VALUES (?, ?, ?)",
                                  [(group_id, m, r.notes.get(m)) for m in sorted(r.members)])
        return counts

    def notes(self, kind: str) -> dict[str, dict[int, str]]:
        """Group key -> member -> its note, for the groups of `kind` whose members have notes."""
        out: dict[str, dict[int, str]] = {}
        for key, pid, note in self.conn.execute(
                "SELECT g.key, m.photo_id, m.note FROM groups g JOIN group_members m ON m.group_id = g.id "
                "WHERE g.kind = ? AND m.note IS NOT NULL", (kind,)):
            out.setdefault(key, {})[pid] = note
        return out

    def person_names(self) -> dict[str, str]:
        """Person group key -> the name a user gave it."""
        return dict(self.conn.execute("SELECT key, name FROM person_names").fetchall())

    def person_labels(self) -> dict[str, str]:
        """Person group key -> the name its faces' XMP regions give it most often (a tie: the
        first in name order), for the persons whose faces carry such names (their members' notes)."""
        out: dict[str, str] = {}
        for key, notes in self.notes("person").items():
            counts = Counter(notes.values())
            out[key] = min(counts, key=lambda name: (-counts[name], name))
        return out

    def shown_person_names(self) -> dict[str, str]:
        """Person group key -> its name: the one a user gave it, else the one its XMP regions give."""
        return {**self.person_labels(), **self.person_names()}

    def name_person(self, key: str, name: str) -> None:
        self.conn.execute("INSERT INTO person_names (key, name) VALUES (?, ?) "
                          "ON CONFLICT (key) DO UPDATE SET name = excluded.name", (key, name))

    def unname_persons(self, keys: Iterable[str]) -> None:
        self.conn.executemany("DELETE FROM person_names WHERE key = ?", [(k,) for k in keys])

    def face_pins(self) -> list[FacePin]:
        """Every decision on a face, in (photo, face) order."""
        return [FacePin(pid, face, bytes(d), person, bool(f)) for pid, face, d, person, f in self.conn.execute(
            "SELECT photo_id, face, descriptor, person, forgotten FROM person_faces ORDER BY photo_id, face")]

    def pin_faces(self, pins: Iterable[FacePin]) -> None:
        """Store decisions, each replacing the one on the same face (call inside a transaction)."""
        self.conn.executemany(
            "INSERT INTO person_faces (photo_id, face, descriptor, person, forgotten) VALUES (?, ?, ?, ?, ?) "
            "ON CONFLICT (photo_id, face) DO UPDATE SET descriptor = excluded.descriptor, "
            "person = excluded.person, forgotten = excluded.forgotten",
            [(p.photo_id, p.face, p.descriptor, p.person, int(p.forgotten)) for p in pins])

    def unforget_person(self, key: str) -> int:
        """The faces forgotten as person `key` are its again; returns how many."""
        return self.conn.execute("UPDATE person_faces SET forgotten = 0 WHERE person = ? AND forgotten = 1",
                                 (key,)).rowcount

    def forgotten_persons(self) -> dict[str, int]:
        """Forgotten person key -> its forgotten faces."""
        return dict(self.conn.execute(
            "SELECT person, count(*) FROM person_faces WHERE forgotten = 1 GROUP BY person ORDER BY person"))

    def contains(self, kind: str, photo_id: int) -> bool:
        return self.conn.execute(
            "SELECT 1 FROM group_members m JOIN groups g ON g.id = m.group_id WHERE g.kind = ? AND m.photo_id = ?",
            (kind, photo_id)).fetchone() is not None

    def add_member(self, kind: str, key: str, photo_id: int, taken: str | None = None) -> None:
        """A new photo joins an existing group between reclusters (its span grows to include it)."""
        group_id = self.conn.execute("SELECT id FROM groups WHERE kind = ? AND key = ?", (kind, key)).fetchone()[0]
        self.conn.execute("INSERT OR IGNORE INTO group_members (group_id, photo_id) VALUES (?, ?)",
                          (group_id, photo_id))
        self.conn.execute(
            "UPDATE groups SET size = (SELECT count(*) FROM group_members WHERE group_id = ?), "
            "start = CASE WHEN ? IS NOT NULL AND ? < start THEN ? ELSE start END, "
            "end = CASE WHEN ? IS NOT NULL AND ? > end THEN ? ELSE end END, updated = ? WHERE id = ?",
            (group_id, taken, taken, taken, taken, taken, taken, now_iso(), group_id))

    def counts(self, kinds: Iterable[str]) -> dict[str, int]:
        """Groups per kind, every kind in `kinds` named."""
        found = dict(self.conn.execute("SELECT kind, count(*) FROM groups GROUP BY kind").fetchall())
        return {kind: int(found.get(kind, 0)) for kind in kinds}

    def kinds(self) -> list[str]:
        return [r[0] for r in self.conn.execute("SELECT DISTINCT kind FROM groups ORDER BY kind")]

    def of_photo(self, photo_id: int) -> list[Membership]:
        return [Membership(*r) for r in self.conn.execute(
            "SELECT g.kind, g.key, g.size, g.start, g.end FROM groups g "
            "JOIN group_members m ON m.group_id = g.id WHERE m.photo_id = ? ORDER BY g.kind, g.key", (photo_id,))]
