"""The catalog's schema, as migrations: each runs once, in its own transaction together with the
`PRAGMA user_version` it sets (see `Catalog.migrate`)."""

from __future__ import annotations

from collections.abc import Callable

import sqlite_utils


def _m1_initial(db: sqlite_utils.Database) -> None:
    db.executescript(
        """
        CREATE TABLE photos (
            id INTEGER PRIMARY KEY,
            digest TEXT NOT NULL UNIQUE,
            format TEXT, width INTEGER, height INTEGER, orientation INTEGER,
            make TEXT, model TEXT,
            taken_local TEXT, taken_utc TEXT, utc_offset INTEGER,
            taken_source TEXT, offset_source TEXT,
            lat REAL, lon REAL, alt REAL,
            phash TEXT, dhash TEXT,
            thumb TEXT,
            extractor INTEGER NOT NULL,
            indexed_at TEXT NOT NULL
        );
        CREATE INDEX photos_taken ON photos(taken_local);
        CREATE TABLE files (
            id INTEGER PRIMARY KEY,
            path TEXT NOT NULL UNIQUE,
            root TEXT NOT NULL,
            photo_id INTEGER REFERENCES photos(id) ON DELETE SET NULL,
            size INTEGER, mtime_ns INTEGER, inode INTEGER, dev INTEGER,
            state TEXT NOT NULL CHECK (state IN ('ok', 'missing', 'error', 'ignored')),
            first_seen TEXT NOT NULL, last_seen TEXT NOT NULL, missing_since TEXT
        );
        CREATE INDEX files_photo ON files(photo_id);
        CREATE INDEX files_root ON files(root, state);
        CREATE TABLE errors (
            id INTEGER PRIMARY KEY,
            path TEXT NOT NULL,
            stage TEXT NOT NULL,
            message TEXT NOT NULL,
            at TEXT NOT NULL,
            UNIQUE (path, stage)
        );
        CREATE TABLE runs (
            id INTEGER PRIMARY KEY,
            kind TEXT NOT NULL,
            started TEXT NOT NULL,
            finished TEXT,
            stats TEXT
        );
        """
    )


def _m2_groups(db: sqlite_utils.Database) -> None:
    db.executescript(
        """
        CREATE TABLE groups (
            id INTEGER PRIMARY KEY,
            kind TEXT NOT NULL CHECK (kind IN ('event', 'place', 'duplicate', 'similar')),
            key TEXT NOT NULL,
            size INTEGER NOT NULL,
            start TEXT, end TEXT,
            lat REAL, lon REAL, radius_m REAL,
            created TEXT NOT NULL, updated TEXT NOT NULL,
            UNIQUE (kind, key)
        );
        CREATE TABLE group_members (
            group_id INTEGER NOT NULL REFERENCES groups(id) ON DELETE CASCADE,
            photo_id INTEGER NOT NULL REFERENCES photos(id) ON DELETE CASCADE,
            PRIMARY KEY (group_id, photo_id)
        ) WITHOUT ROWID;
        CREATE INDEX group_members_photo ON group_members(photo_id);
        """
    )


def _m3_publishing(db: sqlite_utils.Database) -> None:
    db.executescript(
        """
        CREATE TABLE place_names (
            cell TEXT PRIMARY KEY,
            country TEXT, region TEXT, city TEXT,
            source TEXT NOT NULL,
            at TEXT NOT NULL
        );
        CREATE TABLE albums (
            id INTEGER PRIMARY KEY,
            output TEXT NOT NULL,
            path TEXT NOT NULL,
            kind TEXT NOT NULL,
            group_key TEXT,
            UNIQUE (output, path)
        );
        CREATE TABLE album_photos (
            album_id INTEGER NOT NULL REFERENCES albums(id) ON DELETE CASCADE,
            photo_id INTEGER NOT NULL,
            PRIMARY KEY (album_id, photo_id)
        ) WITHOUT ROWID;
        CREATE INDEX album_photos_photo ON album_photos(photo_id);
        """
    )


def _m4_vectors(db: sqlite_utils.Database) -> None:
    db.executescript(
        """
        CREATE TABLE vectors (
            photo_id INTEGER PRIMARY KEY REFERENCES photos(id) ON DELETE CASCADE,
            model TEXT NOT NULL,
            vec BLOB NOT NULL
        );
        CREATE INDEX vectors_model ON vectors(model);
        """
    )


def _m5_album_digests(db: sqlite_utils.Database) -> None:
    # what each published album holds, as a digest of its links: quick updates write only albums
    # whose digest changed
    db.executescript("ALTER TABLE albums ADD COLUMN links TEXT;")


MIGRATIONS: list[Callable[[sqlite_utils.Database], None]] = [
    _m1_initial, _m2_groups, _m3_publishing, _m4_vectors, _m5_album_digests,
]
