"""The batch writer: what the workers made of each file, into the catalog, a transaction at a time.

Only this writes file and photo rows during indexing. A photo's facts are the best over all its
paths: a copy whose name holds a date improves a photo dated only by mtime, and of several copies
dated by mtime the oldest mtime wins (see `better_date`).
"""

from __future__ import annotations

import json
import logging
import os
import time
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from typing import Any

from organizer import extract
from organizer.catalog import Catalog, PhotoRecord, now_iso
from organizer.extract import dates
from organizer.scan import Entry
from organizer.workers import Outcome

log = logging.getLogger(__name__)

COMMIT_EVERY_S = 2.0
WARN_FILES = 10  # per-file warnings in a run before they are only counted

# How much a date source says about when the photo was taken; any other source (EXIF, XMP, ...)
# outranks all of these.
_WEAK_SOURCES = {"mtime": 0, "exif-modified": 1, "filename-date": 2, "filename": 3}


def date_rank(source: str | None) -> int:
    return -1 if source is None else _WEAK_SOURCES.get(source, 10)


@dataclass
class Report:
    """What one scan or update did; its counts add up to `seen`."""

    roots: list[str] = field(default_factory=list)
    offline: dict[str, str] = field(default_factory=dict)
    seen: int = 0
    unchanged: int = 0
    indexed: int = 0  # extracted (decoded)
    known: int = 0  # new paths of photos already catalogued: no decode
    moved: int = 0
    restat: int = 0  # the same file with a new inode or device (a remounted share)
    errors: int = 0  # files (and folders) that failed this time
    unsupported: int = 0
    ignored: int = 0  # not photos
    skipped: int = 0  # temporary or half-written files, and files that vanished before being read
    missing: int = 0
    kept: int = 0  # look gone, but their folder or disk was not seen: not marked missing
    still_failing: int = 0  # files that failed before and are unchanged
    vectors: int = 0  # computed for photos catalogued before (a new model, or vectors turned on)
    features: int = 0  # likewise, registered features (new ones, or new versions)
    refreshed: int = 0  # photos whose metadata was read again (a sidecar changed, or newer readers)
    interrupted: bool = False
    seconds: float = 0.0
    touched: list[int] = field(default_factory=list)  # photos given a new or changed file
    warned: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if k not in ("touched", "warned")}

    def warn(self, path: str, message: str) -> None:
        """One warning per failing file up to WARN_FILES; `summary_warning` counts the rest."""
        self.warned += 1
        if self.warned <= WARN_FILES:
            log.warning("%s: %s", path, message)

    def summary_warning(self) -> None:
        if self.warned > WARN_FILES:
            log.warning("%d more files could not be read: `organizer errors` lists them", self.warned - WARN_FILES)


def record_of(outcome: Outcome, indexed_at: str) -> PhotoRecord:
    """The photo row for an extracted file: the one mapping of facts to columns."""
    facts = outcome.facts
    assert facts is not None
    taken = facts.taken
    return PhotoRecord(
        digest=facts.digest, extractor=extract.EXTRACTOR_VERSION, indexed_at=indexed_at, format=facts.format,
        width=facts.width, height=facts.height, orientation=facts.orientation, make=facts.make, model=facts.model,
        taken_local=taken.local.isoformat(), taken_utc=taken.utc.isoformat() if taken.utc else None,
        utc_offset=taken.offset_minutes, taken_source=taken.source, offset_source=taken.offset_source,
        lat=facts.lat, lon=facts.lon, alt=facts.alt, phash=facts.phash, dhash=facts.dhash, thumb=outcome.thumb,
        kind=facts.kind, duration=facts.duration, rating=facts.rating, title=facts.title,
        description=facts.description, content_id=facts.content_id, motion_video=facts.motion_video,
        sources=json.dumps(facts.sources, sort_keys=True), versions=json.dumps(facts.versions, sort_keys=True),
    )


def store_details(catalog: Catalog, photo_id: int, facts: extract.Facts) -> None:
    """What a photo carries beyond its row: keywords (with their hierarchical paths) and named
    face regions."""
    paths = {p.rsplit("/", 1)[-1]: p for p in facts.keyword_paths}
    keywords = {k: paths.get(k) for k in facts.keywords}
    keywords.update({leaf: path for leaf, path in paths.items() if leaf not in keywords})
    catalog.photos.set_keywords(photo_id, sorted(keywords.items()))
    catalog.photos.set_regions(photo_id, [(f.name or "", f.x, f.y, f.w, f.h) for f in facts.faces])


def path_date(path: str, mtime_ns: int, now: datetime) -> dates.Taken:
    """What one path alone says of when its photo was taken: a date in its name, else its mtime."""
    found = dates.from_filename(os.path.basename(path), now)
    if found is not None:
        value, has_time = found
        return dates.Taken(value, "filename" if has_time else "filename-date")
    instant = datetime.fromtimestamp(mtime_ns / 1e9, tz=timezone.utc).astimezone()
    offset = instant.utcoffset()
    return dates.Taken(instant.replace(tzinfo=None), "mtime",
                       None if offset is None else int(offset.total_seconds() // 60), "system")


def better_date(current: tuple[str | None, str | None], candidate: dates.Taken) -> bool:
    """Whether `candidate` (from another path) should replace a photo's (taken_local, source)."""
    local, source = current
    if date_rank(candidate.source) != date_rank(source):
        return date_rank(candidate.source) > date_rank(source)
    return source == "mtime" and local is not None and candidate.local.isoformat() < local


class Writer:
    """Batches outcomes into transactions on the one writing connection."""

    def __init__(self, catalog: Catalog, report: Report, batch_size: int, model_id: str | None) -> None:
        self.catalog = catalog
        self.report = report
        self.batch_size = batch_size
        self.model_id = model_id
        self.pending: list[tuple[Outcome, str | None, Entry | None]] = []
        self.last_commit = time.monotonic()
        self.written: set[str] = set()  # digests extracted in this run (two copies read at once)

    def add(self, outcome: Outcome, root: str | None, entry: Entry | None) -> None:
        self.pending.append((outcome, root, entry))
        if len(self.pending) >= self.batch_size or time.monotonic() - self.last_commit > COMMIT_EVERY_S:
            self.flush()

    def flush(self) -> None:
        if not self.pending:
            return
        seen = now_iso()
        with self.catalog.transaction():
            for outcome, root, entry in self.pending:
                self._write(outcome, root, entry, seen)
        self.pending.clear()
        self.last_commit = time.monotonic()

    def _write(self, outcome: Outcome, root: str | None, entry: Entry | None, seen: str) -> None:
        cat, report, path = self.catalog, self.report, outcome.path
        if outcome.photo_id is not None:  # a refresh task: features of a catalogued photo
            if outcome.kind == "refresh":
                cat.errors.clear([path], "features")  # an earlier refresh's failure (a timeout) is over
                if outcome.facts is not None and outcome.facts.thumbnail is not None:  # newer decoders
                    self._reextracted(outcome, seen)
                elif outcome.facts is not None:  # metadata read again (a sidecar, or newer readers)
                    self._metadata(outcome.photo_id, outcome.facts, seen)
                if outcome.vector and self.model_id:
                    cat.photos.put_vector(outcome.photo_id, self.model_id, outcome.vector)
                    report.vectors += 1
                for name, (version, value) in (outcome.features or {}).items():
                    cat.photos.put_feature(outcome.photo_id, name, version, value)
                    report.features += 1
            else:
                cat.errors.record(path, "features", outcome.message or "unknown error", seen)
                report.warn(path, f"no vector or features: {outcome.message}")
            return
        assert root is not None and entry is not None
        version = extract.EXTRACTOR_VERSION
        if outcome.kind == "photo":
            self._photo(outcome, root, entry, seen)
        elif outcome.kind == "known":
            photo_id = cat.photos.id_of(outcome.digest or "")
            if photo_id is None:  # the photo vanished in between; extract on the next run
                return
            row = cat.files.get(path)
            if row is not None and (row.state, row.photo_id, row.size, row.mtime_ns) == (
                    "ok", photo_id, entry.size, entry.mtime_ns):  # this very file, written by another organizer meanwhile
                report.unchanged += 1
                return
            cat.files.upsert(path, root, entry.stat, "ok", photo_id, seen, version, outcome.format)
            cat.errors.clear([path])
            self._improve_date(photo_id, entry)
            report.known += 1
            report.touched.append(photo_id)
        elif outcome.kind in ("ignored", "unsupported"):
            cat.files.upsert(path, root, entry.stat, outcome.kind, None, seen, version, outcome.format)
            cat.errors.clear([path])
            setattr(report, outcome.kind, getattr(report, outcome.kind) + 1)
        elif outcome.kind == "vanished":
            report.skipped += 1
        elif outcome.facts is not None:  # pixels that fail, metadata that reads: in the timeline, with its error
            self._photo(outcome, root, entry, seen)
            cat.errors.record(path, "pixels", outcome.message or "unknown error", seen, version)
            report.indexed -= 1
            report.errors += 1
            report.warn(path, outcome.message or "unknown error")
        else:
            cat.files.upsert(path, root, entry.stat, "error", None, seen, version, outcome.format)
            cat.errors.record(path, "extract", outcome.message or "unknown error", seen, version)
            report.errors += 1
            report.warn(path, outcome.message or "unknown error")

    def _photo(self, outcome: Outcome, root: str, entry: Entry, seen: str) -> None:
        cat, facts = self.catalog, outcome.facts
        assert facts is not None
        record = record_of(outcome, seen)
        existing = cat.photos.id_of(facts.digest)
        if existing is not None:  # extracted again (a newer extractor, or a twin): keep a better date of another path
            current = cat.photos.date_of(existing)
            if date_rank(current[1]) < 10 and not better_date(current, facts.taken):
                record = _redated(record, cat.photos.row(existing) or {})
        photo_id = cat.photos.upsert(record)
        cat.files.upsert(outcome.path, root, entry.stat, "ok", photo_id, seen, extract.EXTRACTOR_VERSION,
                         facts.format)
        if facts.vector is not None and facts.vector_model:
            cat.photos.put_vector(photo_id, facts.vector_model, facts.vector)
        for name, (version, value) in facts.features.items():
            cat.photos.put_feature(photo_id, name, version, value)
        self._details(photo_id, facts, seen)
        cat.errors.clear([outcome.path])
        if facts.digest in self.written:  # a copy decoded beside its twin: a copy of a known photo
            self.report.known += 1
            self._improve_date(photo_id, entry)
        else:
            self.report.indexed += 1
        self.written.add(facts.digest)
        self.report.touched.append(photo_id)
        for note in facts.warnings:
            log.info("%s: %s", outcome.path, note)

    def _reextracted(self, outcome: Outcome, seen: str) -> None:
        """A catalogued photo extracted again by newer decoders: every fact, its better date kept."""
        cat, facts = self.catalog, outcome.facts
        assert facts is not None and outcome.photo_id is not None
        record = record_of(outcome, seen)
        current = cat.photos.date_of(outcome.photo_id)
        if date_rank(current[1]) < 10 and not better_date(current, facts.taken):
            record = _redated(record, cat.photos.row(outcome.photo_id) or {})
        cat.photos.upsert(record)
        if facts.vector is not None and facts.vector_model:
            cat.photos.put_vector(outcome.photo_id, facts.vector_model, facts.vector)
        for name, (version, value) in facts.features.items():
            cat.photos.put_feature(outcome.photo_id, name, version, value)
        self._details(outcome.photo_id, facts, seen)
        self.report.refreshed += 1

    def _metadata(self, photo_id: int, facts: extract.Facts, seen: str) -> None:
        row = self.catalog.photos.row(photo_id) or {}
        record = record_of(Outcome("", "refresh", facts=facts), seen)
        if date_rank(row.get("taken_source")) < 10 and not better_date((row.get("taken_local"), row.get("taken_source")),
                                                                        facts.taken):
            record = _redated(record, row)  # a better date from another path stays
        made = json.loads(row.get("versions") or "{}")
        record = replace(record, versions=json.dumps({**made, "metadata": facts.versions["metadata"]}, sort_keys=True))
        self.catalog.photos.refresh_metadata(photo_id, record)
        self._details(photo_id, facts, seen)
        self.report.refreshed += 1

    def _details(self, photo_id: int, facts: extract.Facts, seen: str) -> None:
        """The photo's keywords and faces; a sidecar that could not be read is a warning and an
        error row of its own (the photo stays indexed), cleared once it reads."""
        store_details(self.catalog, photo_id, facts)
        self.catalog.errors.clear(facts.sidecars, "sidecar")
        for path, why in facts.refused:
            self.catalog.errors.record(path, "sidecar", why, seen)
            self.report.warn(path, why)

    def _improve_date(self, photo_id: int, entry: Entry) -> None:
        candidate = path_date(entry.path, entry.mtime_ns, datetime.now())
        if better_date(self.catalog.photos.date_of(photo_id), candidate):
            self.catalog.photos.redate(photo_id, candidate.local.isoformat(), candidate.source,
                                       candidate.utc.isoformat() if candidate.utc else None,
                                       candidate.offset_minutes, candidate.offset_source)


def _redated(record: PhotoRecord, old: dict[str, Any]) -> PhotoRecord:
    return replace(record, **{k: old.get(k) for k in ("taken_local", "taken_utc", "utc_offset", "taken_source",
                                                      "offset_source")})
