"""The albums store: what organizer published in each output folder, link by link."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from organizer.catalog.database import now_iso
from organizer.catalog.paths import from_db, to_db


@dataclass(frozen=True)
class AlbumRecord:
    """One published album: its group, photos, a digest of its links, and the links themselves
    (name -> target exactly as written, relative to the album folder)."""

    kind: str
    key: str | None
    photos: tuple[int, ...]
    digest: str
    links: Mapping[str, str] = field(default_factory=dict)


class AlbumStore:
    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    def record(self, output: str, albums: Mapping[str, AlbumRecord], removed: Iterable[str] | None = None) -> None:
        """Record what is published in `output` (call inside a transaction). Without `removed`,
        `albums` is all there is; with it, only `albums` and `removed` change."""
        out = to_db(output)
        if removed is None:
            self.conn.execute("DELETE FROM albums WHERE output = ?", (out,))
        else:
            self.conn.executemany("DELETE FROM albums WHERE output = ? AND path = ?",
                                  [(out, path) for path in [*removed, *albums]])
        for path, album in albums.items():
            album_id = self.conn.execute(
                "INSERT INTO albums (output, path, kind, group_key, links) VALUES (?, ?, ?, ?, ?) RETURNING id",
                (out, path, album.kind, album.key, album.digest)).fetchone()[0]
            self.conn.executemany("INSERT OR IGNORE INTO album_photos (album_id, photo_id) VALUES (?, ?)",
                                  [(album_id, p) for p in album.photos])
            self.conn.executemany("INSERT INTO album_links (album_id, name, target) VALUES (?, ?, ?)",
                                  [(album_id, name, to_db(target)) for name, target in album.links.items()])

    def digests(self, output: str) -> dict[str, str | None]:
        """Album path -> the digest of its links, as last published in `output`."""
        return dict(self.conn.execute("SELECT path, links FROM albums WHERE output = ?", (to_db(output),)))

    def paths_by_group(self, output: str) -> dict[tuple[str, str], str]:
        """(kind, group key) -> the album path it was last published at."""
        return {(kind, key): path for kind, key, path in self.conn.execute(
            "SELECT kind, group_key, path FROM albums WHERE output = ? AND group_key IS NOT NULL", (to_db(output),))}

    def links(self, output: str, paths: Iterable[str] | None = None) -> dict[str, dict[str, str]]:
        """Album path -> {link name: target} organizer recorded making there (of `paths`, or all)."""
        sql = ("SELECT a.path, l.name, l.target FROM albums a JOIN album_links l ON l.album_id = a.id "
               "WHERE a.output = ?")
        out: dict[str, dict[str, str]] = {}
        wanted = None if paths is None else sorted(set(paths))
        chunks = [None] if wanted is None else [wanted[i:i + 500] for i in range(0, len(wanted), 500)]
        for chunk in chunks:
            args: list = [to_db(output)]
            query = sql
            if chunk is not None:
                query += f" AND a.path IN ({','.join('?' * len(chunk))})"
                args += chunk
            for path, name, target in self.conn.execute(query, args):
                out.setdefault(path, {})[name] = from_db(target)
        return out

    def device(self, output: str) -> int | None:
        """The device `output` was on when last published there (None: never published)."""
        row = self.conn.execute("SELECT dev FROM outputs WHERE output = ?", (to_db(output),)).fetchone()
        return None if row is None else int(row[0])

    def set_device(self, output: str, dev: int) -> None:
        self.conn.execute("INSERT OR REPLACE INTO outputs (output, dev, at) VALUES (?, ?, ?)",
                          (to_db(output), dev, now_iso()))

    def of_photo(self, photo_id: int) -> list[str]:
        return [str(Path(from_db(output)) / path) for output, path in self.conn.execute(
            "SELECT a.output, a.path FROM albums a JOIN album_photos ap ON ap.album_id = a.id "
            "WHERE ap.photo_id = ? ORDER BY a.path", (photo_id,))]
