"""The indexing pipeline: scan diff -> extraction in worker processes (`workers`) -> catalog,
in batches. The catalog is written only by this process; a file whose extraction failed, hung or
crashed its worker becomes an error row."""

from __future__ import annotations

import logging
import os
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


from organizer import extract
from organizer.catalog import Catalog, now_iso
from organizer.config import MAX_AUTO_WORKERS, Config, cores
from organizer.errors import ConfigError, OrganizerError
from organizer.extract import vectors
from organizer.scan import Diff, Entry, Walker, diff, root_offline
from organizer.workers import Outcome, Task, WorkerPool, WorkerSettings

log = logging.getLogger(__name__)

COMMIT_EVERY_S = 2.0


@dataclass
class Report:
    roots: list[str] = field(default_factory=list)
    offline: dict[str, str] = field(default_factory=dict)
    seen: int = 0
    unchanged: int = 0
    indexed: int = 0  # extracted (decoded)
    known: int = 0  # new paths of photos already catalogued: no decode
    moved: int = 0
    ignored: int = 0
    errors: int = 0
    missing: int = 0
    vectors: int = 0  # computed for photos catalogued before (a new model, or vectors turned on)
    interrupted: bool = False
    seconds: float = 0.0
    touched: list[int] = field(default_factory=list)  # photos given a new or changed file

    def as_dict(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if k != "touched"}


Progress = Callable[[int, int, str], None]


# --- the writer ----------------------------------------------------------------------------------


def _photo_values(outcome: Outcome) -> dict[str, Any]:
    facts = outcome.facts
    assert facts is not None
    taken = facts.taken
    return {
        "digest": facts.digest,
        "format": facts.format,
        "width": facts.width,
        "height": facts.height,
        "orientation": facts.orientation,
        "make": facts.make,
        "model": facts.model,
        "taken_local": taken.local.isoformat(),
        "taken_utc": taken.utc.isoformat() if taken.utc else None,
        "utc_offset": taken.offset_minutes,
        "taken_source": taken.source,
        "offset_source": taken.offset_source,
        "lat": facts.lat,
        "lon": facts.lon,
        "alt": facts.alt,
        "phash": facts.phash,
        "dhash": facts.dhash,
        "thumb": outcome.thumb,
        "extractor": extract.EXTRACTOR_VERSION,
        "indexed_at": now_iso(),
    }


class Writer:
    """Batches outcomes into transactions on the one writing connection."""

    def __init__(self, catalog: Catalog, report: Report, batch_size: int, model_id: str | None) -> None:
        self.catalog = catalog
        self.report = report
        self.batch_size = batch_size
        self.model_id = model_id
        self.pending: list[tuple[Outcome, str | None, Entry | None]] = []
        self.last_commit = time.monotonic()

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
        cat, report = self.catalog, self.report
        path = outcome.path
        if outcome.photo_id is not None:  # a vector-only task
            if outcome.kind == "vector" and outcome.vector and self.model_id:
                cat.put_vector(outcome.photo_id, self.model_id, outcome.vector)
                report.vectors += 1
            else:
                cat.record_error(path, "vectors", outcome.message or "unknown error", seen)
                log.warning("%s: no vector: %s", path, outcome.message)
            return
        assert root is not None and entry is not None
        if outcome.kind == "photo":
            photo_id = cat.upsert_photo(_photo_values(outcome))
            cat.upsert_file(path, root, entry.stat, "ok", photo_id, seen)
            report.touched.append(photo_id)
            facts = outcome.facts
            if facts is not None and facts.vector is not None and facts.vector_model:
                cat.put_vector(photo_id, facts.vector_model, facts.vector)
            cat.clear_errors(path)
            report.indexed += 1
            for note in outcome.facts.warnings if outcome.facts else ():
                log.info("%s: %s", path, note)
        elif outcome.kind == "known":
            photo_id = cat.photo_id(outcome.digest or "")
            if photo_id is None:  # the photo vanished in between; extract on the next run
                return
            cat.upsert_file(path, root, entry.stat, "ok", photo_id, seen)
            cat.clear_errors(path)
            report.known += 1
            report.touched.append(photo_id)
        elif outcome.kind == "ignored":
            cat.upsert_file(path, root, entry.stat, "ignored", None, seen)
            report.ignored += 1
        else:
            cat.upsert_file(path, root, entry.stat, "error", None, seen)
            cat.record_error(path, "extract", outcome.message or "unknown error", seen)
            report.errors += 1
            log.warning("%s: %s", path, outcome.message)


# --- the pipeline --------------------------------------------------------------------------------


def _workers(config: Config) -> int:
    return config.scan.workers or min(cores(), MAX_AUTO_WORKERS)


def index(
    catalog: Catalog,
    config: Config,
    roots: Sequence[str] | None = None,
    progress: Progress | None = None,
    should_stop: Callable[[], bool] = lambda: False,
    retry_errors: bool = False,
) -> Report:
    """Bring the catalog up to date with the files under `roots` (default: the config's roots).

    Every committed batch survives an interruption (KeyboardInterrupt or `should_stop`); a rerun
    continues where this one stopped.
    """
    indexer = Indexer(catalog, config)
    try:
        return indexer.scan(roots, progress, should_stop, retry_errors)
    finally:
        indexer.close()


class Indexer:
    """Keeps the catalog up to date, by whole roots (`scan`) or by given paths (`update`, for the
    daemon). With `keep_pool` the worker processes outlive a call, so a new photo is not charged
    for starting them."""

    def __init__(self, catalog: Catalog, config: Config, keep_pool: bool = False) -> None:
        self.catalog = catalog
        self.config = config
        self.keep_pool = keep_pool
        self.spec = vector_spec(config)
        self.model_id = vectors.model_id(self.spec) if self.spec else None
        self.pool: WorkerPool | None = None
        output = config.output.path
        self.walker = Walker(
            exclude=config.scan.exclude,
            follow_symlinks=config.scan.follow_symlinks,
            skip_dirs=[os.path.abspath(os.path.expanduser(output))] if output else [],
        )

    def check_model(self) -> None:
        """Start one worker on the configured model and stop it: a user's model that cannot run is
        a ConfigError now (the daemon's start), not at the first photo, however late that comes."""
        if self.spec is not None and self.spec.model != vectors.BUILTIN and self.pool is None:
            _pool(self.catalog, self.config, self.spec, 1).close()

    def close(self) -> None:
        if self.pool is not None:
            self.pool.close()
            self.pool = None

    def _pool_for(self, tasks: int) -> WorkerPool:
        if self.pool is None:
            size = _workers(self.config) if self.keep_pool else min(_workers(self.config), tasks)
            self.pool = _pool(self.catalog, self.config, self.spec, size)
        return self.pool

    def scan(
        self,
        roots: Sequence[str] | None = None,
        progress: Progress | None = None,
        should_stop: Callable[[], bool] = lambda: False,
        retry_errors: bool = False,
    ) -> Report:
        catalog = self.catalog
        started = time.monotonic()
        root_list = [os.path.abspath(os.path.expanduser(r)) for r in (roots or self.config.scan.roots)]
        if not root_list:
            raise OrganizerError("no photo folders: name them on the command line or in scan.roots")
        report = Report(roots=root_list)
        run_id = catalog.start_run("scan")

        def walk_error(path: str, message: str) -> None:
            log.warning("%s: %s", path, message)
            report.errors += 1
            with catalog.transaction():
                catalog.record_error(path, "scan", message, now_iso())

        plans: list[tuple[str, Diff]] = []
        for root in root_list:
            known = catalog.known_files(root)
            catalogued = sum(1 for k in known.values() if k.state != "missing")
            why = root_offline(root, catalogued)
            if why == "absent" and not known:
                raise OrganizerError(f"photo folder not found: {root}")
            if why is not None:
                log.warning("%s: photo folder is %s; skipped, nothing in it is marked missing", root, why)
                report.offline[root] = why
                continue
            plan = diff(self.walker.walk(root, walk_error), known, retry_errors)
            report.seen += plan.unchanged + len(plan.todo) + len(plan.moved)
            report.unchanged += plan.unchanged
            plans.append((root, plan))

        seen = now_iso()
        with catalog.transaction():
            for root, plan in plans:
                for old, entry in plan.moved:
                    catalog.move_file(old, entry.path, root, seen)
                    report.moved += 1

        todo = [(root, entry) for root, plan in plans for entry in plan.todo]
        online = tuple(root.rstrip(os.sep) + os.sep for root, _ in plans)
        try:
            self._extract(todo, online, report, progress, should_stop)
        except KeyboardInterrupt:
            report.interrupted = True
            catalog.finish_run(run_id, report.as_dict())
            raise
        if not report.interrupted:
            with catalog.transaction():
                for _, plan in plans:
                    catalog.mark_missing(plan.gone, seen)
                    report.missing += len(plan.gone)
                self._drop_orphans()
        report.seconds = round(time.monotonic() - started, 3)
        catalog.finish_run(run_id, report.as_dict())
        return report

    def update(
        self,
        root_of: Callable[[str], str | None],
        changed: Sequence[str] = (),
        gone: Sequence[str] = (),
        moved: Sequence[tuple[str, str]] = (),
        should_stop: Callable[[], bool] = lambda: False,
    ) -> Report:
        """Apply what a watcher saw: moved files and folders keep their rows (no decode), gone
        ones are marked missing, changed or new files are extracted. `root_of` maps a path to its
        root, or None when it is not under an online root (then it is left alone)."""
        catalog = self.catalog
        started = time.monotonic()
        report = Report()
        seen = now_iso()
        candidates = list(changed)
        with catalog.transaction():
            for src, dst in moved:
                root = root_of(dst)
                if root is None:
                    continue
                if os.path.isdir(dst):
                    report.moved += catalog.move_tree(src, dst, root, seen)
                elif catalog.known_file(src) is not None:
                    catalog.move_file(src, dst, root, seen)
                    report.moved += 1
                else:  # moved in from outside the roots: a new file
                    candidates.append(dst)
            for path in gone:
                if root_of(path) is not None:
                    report.missing += catalog.mark_missing_under(path, seen)
        todo = []
        for path in dict.fromkeys(candidates):
            root = root_of(path)
            name = os.path.basename(path)
            if root is None or self.walker.excluded(name, os.path.relpath(path, root)) or self.walker.temporary(name):
                continue
            try:
                st = os.stat(path, follow_symlinks=self.config.scan.follow_symlinks)
            except OSError:
                continue
            if not os.path.isfile(path):
                continue
            entry = Entry(path, st.st_size, st.st_mtime_ns, st.st_ino, st.st_dev)
            row = catalog.known_file(path)
            report.seen += 1
            if row is not None and row.state != "missing" and (row.size, row.mtime_ns, row.inode) == (
                entry.size, entry.mtime_ns, entry.inode
            ):
                report.unchanged += 1
                continue
            todo.append((root, entry))
        self._extract(todo, (), report, None, should_stop)
        if report.missing:
            with catalog.transaction():
                self._drop_orphans()
        report.seconds = round(time.monotonic() - started, 3)
        return report

    def _drop_orphans(self) -> None:
        for thumb in self.catalog.drop_orphan_photos():
            Path(thumb).unlink(missing_ok=True)

    def _extract(
        self,
        todo: list[tuple[str, Entry]],
        online: tuple[str, ...],
        report: Report,
        progress: Progress | None,
        should_stop: Callable[[], bool],
    ) -> None:
        """Extract `todo` in the workers, then compute missing vectors of photos under `online`."""
        writer = Writer(self.catalog, report, self.config.scan.batch_size, self.model_id)
        try:
            if todo:
                entries = {entry.path: (root, entry) for root, entry in todo}
                tasks = [Task(e.path, e.mtime_ns / 1e9) for _, e in todo]
                _run(self._pool_for(len(tasks)), tasks, lambda o: writer.add(o, *entries[o.path]),
                     progress, should_stop, report)
                writer.flush()
            if self.model_id and online and not report.interrupted:
                stale = [Task(path, 0.0, pid) for pid, path in self.catalog.photos_without_vector(self.model_id)
                         if path.startswith(online)]
                if stale:
                    _run(self._pool_for(len(stale)), stale, lambda o: writer.add(o, None, None), progress,
                         should_stop, report)
        finally:
            writer.flush()
            if not self.keep_pool:
                self.close()


def vector_spec(config: Config) -> vectors.ModelSpec | None:
    v = config.vectors
    if not v.enabled:
        return None
    if v.model == vectors.BUILTIN:  # its input conventions are part of its graph
        return vectors.ModelSpec(precision=v.precision)
    path = os.path.expanduser(v.model)
    if not os.path.isfile(path):
        raise ConfigError(f"{config.sources.get('vectors.model', 'default')}: vectors.model: {path}: "
                          f"no such ONNX model file")
    return vectors.ModelSpec(path, v.input_size, v.resize, tuple(v.mean), tuple(v.std), v.output)  # type: ignore[arg-type]


def _pool(catalog: Catalog, config: Config, spec: vectors.ModelSpec | None, tasks: int) -> WorkerPool:
    cache_dir = os.path.expanduser(config.catalog.cache_dir)
    settings = WorkerSettings(
        catalog_path=str(catalog.path),
        thumbs_dir=os.path.join(cache_dir, "thumbs"),
        max_bytes=config.scan.max_file_mb * 1024 * 1024,
        cache_dir=cache_dir,
        vectors=spec,
    )
    try:
        if spec is not None:
            vectors.graph_path(spec, cache_dir)  # built once here, not by every worker at once
        return WorkerPool(min(_workers(config), tasks), settings, config.scan.file_timeout_s)
    except vectors.ModelError as exc:  # a model that cannot load or run: before any photo
        raise ConfigError(f"{config.sources.get('vectors.model', 'default')}: vectors.model: {exc}") from None


def _run(
    pool: WorkerPool,
    tasks: list[Task],
    on_outcome: Callable[[Outcome], None],
    progress: Progress | None,
    should_stop: Callable[[], bool],
    report: Report,
) -> None:
    queue = deque(tasks)
    done = 0
    while queue or pool.busy:
        if should_stop():
            report.interrupted = True
            return
        for slot in pool.idle_slots():
            if not queue:
                break
            pool.submit(slot, queue.popleft())
        for outcome in pool.collect(0.5):
            on_outcome(outcome)
            done += 1
            if progress:
                progress(done, len(tasks), outcome.path)
