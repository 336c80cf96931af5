"""The catalog's schema as named migrations (sqlite-utils' `Migrations`): each is recorded in
`_sqlite_migrations` by name, and an upgrade applies every pending one in one transaction, so a
catalog is upgraded wholly or not at all.

Catalogs made before migrations had names kept their version in `PRAGMA user_version`; the first
`upgrade` records that many of the first migrations as applied.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import sqlite_utils

from organizer.catalog.database import now_iso, transaction
from organizer.errors import CatalogError

MIGRATIONS = sqlite_utils.Migrations("organizer")


@MIGRATIONS()
def m001_initial(db: sqlite_utils.Database) -> None:
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


@MIGRATIONS()
def m002_groups(db: sqlite_utils.Database) -> None:
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


@MIGRATIONS()
def m003_publishing(db: sqlite_utils.Database) -> None:
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


@MIGRATIONS()
def m004_vectors(db: sqlite_utils.Database) -> None:
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


@MIGRATIONS()
def m005_album_digests(db: sqlite_utils.Database) -> None:
    # what each published album holds, as a digest of its links: quick updates write only albums
    # whose digest changed
    db.executescript("ALTER TABLE albums ADD COLUMN links TEXT;")


@MIGRATIONS()
def m006_paths_as_bytes(db: sqlite_utils.Database) -> None:
    """Paths become the file system's bytes (see `paths`); `files` loses the CHECK on its states
    (a new state is no table rebuild) and gains `format` (what the content is, for files that are
    not catalogued as photos) and `checked` (the extractor version that last read the file, so a
    newer organizer looks again at what an older one could not read)."""
    db.executescript(
        """
        CREATE TABLE files_new (
            id INTEGER PRIMARY KEY,
            path BLOB NOT NULL UNIQUE,
            root BLOB NOT NULL,
            photo_id INTEGER REFERENCES photos(id) ON DELETE SET NULL,
            size INTEGER, mtime_ns INTEGER, inode INTEGER, dev INTEGER,
            state TEXT NOT NULL,
            format TEXT,
            checked INTEGER,
            first_seen TEXT NOT NULL, last_seen TEXT NOT NULL, missing_since TEXT
        );
        INSERT INTO files_new (id, path, root, photo_id, size, mtime_ns, inode, dev, state, checked,
                               first_seen, last_seen, missing_since)
            SELECT id, CAST(path AS BLOB), CAST(root AS BLOB), photo_id, size, mtime_ns, inode, dev, state, 1,
                   first_seen, last_seen, missing_since FROM files;
        DROP TABLE files;
        ALTER TABLE files_new RENAME TO files;
        CREATE INDEX files_photo ON files(photo_id);
        CREATE INDEX files_root ON files(root, state);
        UPDATE errors SET path = CAST(path AS BLOB);
        ALTER TABLE errors ADD COLUMN checked INTEGER;
        UPDATE photos SET thumb = CAST(thumb AS BLOB) WHERE thumb IS NOT NULL;
        UPDATE albums SET output = CAST(output AS BLOB);
        """
    )


@MIGRATIONS()
def m007_open_group_kinds(db: sqlite_utils.Database) -> None:
    """A new kind of group (tags, people, ...) is a new value, not a table rebuild."""
    db.executescript(
        """
        CREATE TABLE groups_new (
            id INTEGER PRIMARY KEY,
            kind TEXT NOT NULL,
            key TEXT NOT NULL,
            size INTEGER NOT NULL,
            start TEXT, end TEXT,
            lat REAL, lon REAL, radius_m REAL,
            created TEXT NOT NULL, updated TEXT NOT NULL,
            UNIQUE (kind, key)
        );
        INSERT INTO groups_new SELECT * FROM groups;
        DROP TABLE groups;
        ALTER TABLE groups_new RENAME TO groups;
        """
    )


@MIGRATIONS()
def m008_album_links(db: sqlite_utils.Database) -> None:
    """Every link organizer made in an album, by name and exact target: a link is organizer's
    only if it is recorded here, so a user's own links in an album are never taken for ours."""
    db.executescript(
        """
        CREATE TABLE album_links (
            album_id INTEGER NOT NULL REFERENCES albums(id) ON DELETE CASCADE,
            name TEXT NOT NULL,
            target BLOB NOT NULL,
            PRIMARY KEY (album_id, name)
        ) WITHOUT ROWID;
        """
    )


@MIGRATIONS()
def m009_outputs(db: sqlite_utils.Database) -> None:
    """The device each output folder was on when last published: an output that is absent or on
    another device now (an unplugged disk) is offline, and nothing is written into its mount point."""
    db.executescript(
        """
        CREATE TABLE outputs (
            output BLOB PRIMARY KEY,
            dev INTEGER NOT NULL,
            at TEXT NOT NULL
        );
        """
    )


@MIGRATIONS()
def m010_features(db: sqlite_utils.Database) -> None:
    """Registered features (see extract.features), each with the version that made it."""
    db.executescript(
        """
        CREATE TABLE features (
            photo_id INTEGER NOT NULL REFERENCES photos(id) ON DELETE CASCADE,
            name TEXT NOT NULL,
            version TEXT NOT NULL,
            value BLOB NOT NULL,
            PRIMARY KEY (photo_id, name)
        ) WITHOUT ROWID;
        CREATE INDEX features_name ON features(name, version);
        """
    )


@MIGRATIONS()
def m011_items(db: sqlite_utils.Database) -> None:
    """Photos, videos and RAW files as items: what kind, how long, what the user said of them
    (rating, title, keywords, named face regions), Apple's Live Photo key, the sources of each
    fact, and the versions of the readers that made them; companions (RAW+JPEG, Live Photo MOVs,
    .thm files) point to their primary."""
    db.executescript(
        """
        ALTER TABLE photos ADD COLUMN kind TEXT NOT NULL DEFAULT 'photo';
        ALTER TABLE photos ADD COLUMN duration REAL;
        ALTER TABLE photos ADD COLUMN rating INTEGER;
        ALTER TABLE photos ADD COLUMN title TEXT;
        ALTER TABLE photos ADD COLUMN description TEXT;
        ALTER TABLE photos ADD COLUMN content_id TEXT;
        ALTER TABLE photos ADD COLUMN motion_video INTEGER;
        ALTER TABLE photos ADD COLUMN sources TEXT;
        ALTER TABLE photos ADD COLUMN versions TEXT;
        CREATE TABLE keywords (
            photo_id INTEGER NOT NULL REFERENCES photos(id) ON DELETE CASCADE,
            keyword TEXT NOT NULL,
            path TEXT,
            PRIMARY KEY (photo_id, keyword)
        ) WITHOUT ROWID;
        CREATE INDEX keywords_keyword ON keywords(keyword);
        CREATE TABLE regions (
            photo_id INTEGER NOT NULL REFERENCES photos(id) ON DELETE CASCADE,
            name TEXT NOT NULL,
            x REAL NOT NULL, y REAL NOT NULL, w REAL NOT NULL, h REAL NOT NULL
        );
        CREATE INDEX regions_photo ON regions(photo_id);
        CREATE TABLE companions (
            photo_id INTEGER PRIMARY KEY REFERENCES photos(id) ON DELETE CASCADE,
            primary_id INTEGER NOT NULL REFERENCES photos(id) ON DELETE CASCADE,
            relation TEXT NOT NULL
        );
        CREATE INDEX companions_primary ON companions(primary_id);
        """
    )


@MIGRATIONS()
def m012_group_notes_and_pair_checks(db: sqlite_utils.Database) -> None:
    """What each member of a group is to it (a duplicate's keeper, or how a copy differs from it),
    and the pixel verifications of photo pairs, kept so that a recluster verifies only new pairs."""
    db.executescript(
        """
        ALTER TABLE group_members ADD COLUMN note TEXT;
        CREATE TABLE pair_checks (
            a INTEGER NOT NULL REFERENCES photos(id) ON DELETE CASCADE,
            b INTEGER NOT NULL REFERENCES photos(id) ON DELETE CASCADE,
            version INTEGER NOT NULL,
            result TEXT NOT NULL,
            PRIMARY KEY (a, b)
        ) WITHOUT ROWID;
        """
    )


@MIGRATIONS()
def m013_person_names(db: sqlite_utils.Database) -> None:
    """The names users give persons (People albums), by the person group's stable key, so that a
    name survives reclusters."""
    db.executescript(
        """
        CREATE TABLE person_names (
            key TEXT PRIMARY KEY,
            name TEXT NOT NULL
        ) WITHOUT ROWID;
        """
    )


@MIGRATIONS()
def m014_person_faces(db: sqlite_utils.Database) -> None:
    """The user's decisions on faces (`organizer people merge / split / forget`): a face (its
    photo, its number in the photo's faces and its descriptor, which finds it again if the faces
    are detected anew) pinned to a person's key, or forgotten (not a person; the key kept for undo)."""
    db.executescript(
        """
        CREATE TABLE person_faces (
            photo_id INTEGER NOT NULL REFERENCES photos(id) ON DELETE CASCADE,
            face INTEGER NOT NULL,
            descriptor BLOB NOT NULL,
            person TEXT NOT NULL,
            forgotten INTEGER NOT NULL DEFAULT 0,
            PRIMARY KEY (photo_id, face)
        ) WITHOUT ROWID;
        CREATE INDEX person_faces_person ON person_faces(person);
        """
    )


# Before migrations had names, `PRAGMA user_version` counted the applied ones.
LEGACY = ("m001_initial", "m002_groups", "m003_publishing", "m004_vectors", "m005_album_digests")


def _applied(conn: sqlite3.Connection, migrations: sqlite_utils.Migrations) -> list[str]:
    exists = conn.execute("SELECT 1 FROM sqlite_master WHERE name = ?",
                          (migrations.migrations_table,)).fetchone()
    if exists:
        return [r[0] for r in conn.execute(
            f"SELECT name FROM [{migrations.migrations_table}] WHERE migration_set = ? ORDER BY rowid",
            (migrations.name,))]
    version = int(conn.execute("PRAGMA user_version").fetchone()[0])
    if version > len(LEGACY):
        return [f"schema {version}"]  # unknown to this organizer
    return list(LEGACY[:version])


def state(conn: sqlite3.Connection, migrations: sqlite_utils.Migrations = MIGRATIONS) -> tuple[list[str], list[str]]:
    """(pending migrations, applied ones this organizer does not know)."""
    applied = _applied(conn, migrations)
    known = [m.name for m in migrations.pending(sqlite_utils.Database(memory=True))]  # all of them
    return [n for n in known if n not in applied], [n for n in applied if n not in known]


def check_readable(conn: sqlite3.Connection, path: Path) -> None:
    """Raise when this organizer cannot read the catalog as it is."""
    pending, unknown = state(conn)
    if unknown:
        raise CatalogError(f"{path}: the catalog is from a newer organizer (it has {', '.join(unknown)}); "
                           f"upgrade organizer")
    if pending:
        raise CatalogError(f"{path}: the catalog needs an upgrade; run any writing command")


class _Failed(Exception):
    pass


def upgrade(conn: sqlite3.Connection, path: Path, migrations: sqlite_utils.Migrations = MIGRATIONS) -> list[str]:
    """Apply the pending migrations, all in one transaction; returns their names. Foreign keys
    are off meanwhile (a table rebuild would cascade), and checked before the commit."""
    pending, unknown = state(conn, migrations)
    if unknown:
        check_readable(conn, path)
    if not pending:
        return []
    db = sqlite_utils.Database(conn)
    conn.execute("PRAGMA foreign_keys = OFF")
    try:
        with transaction(conn, path):
            pending, _ = state(conn, migrations)  # another process may have upgraded meanwhile
            legacy = [n for n in _applied(conn, migrations) if n in LEGACY]
            migrations.ensure_migrations_table(db)
            recorded = {m.name for m in migrations.applied(db)}
            for name in legacy:
                if name not in recorded:
                    db[migrations.migrations_table].insert(
                        {"migration_set": migrations.name, "name": name, "applied_at": now_iso()})
            try:
                migrations.apply(db)
            except Exception as exc:  # undone with the transaction; said as the upgrade's failure
                raise _Failed(f"{type(exc).__name__}: {exc}") from None
            broken = conn.execute("PRAGMA foreign_key_check").fetchall()
            if broken:
                raise CatalogError(f"{path}: the upgrade would break {len(broken)} references; nothing was changed")
            conn.execute(f"PRAGMA user_version = {len(_applied(conn, migrations))}")
    except _Failed as exc:
        raise CatalogError(f"{path}: the catalog upgrade failed and was undone ({exc}); the catalog is as it "
                           f"was") from None
    finally:
        conn.execute("PRAGMA foreign_keys = ON")
    return pending
