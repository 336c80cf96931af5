"""The indexing pipeline: scan diff -> extraction in worker processes -> catalog, in batches.

Each worker process handles one file at a time, so a file that hangs or crashes its decoder is
known by name: the worker is killed (after `scan.file_timeout_s`) or found dead, the file gets an
error row, and a fresh worker takes its place. The catalog is written only by this process.
"""

from __future__ import annotations

import logging
import multiprocessing
import multiprocessing.connection
import multiprocessing.context
import os
import signal
import sqlite3
import threading
import time
import warnings
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from PIL import UnidentifiedImageError

from organizer import extract
from organizer.catalog import Catalog, now_iso
from organizer.config import Config
from organizer.errors import ConfigError, OrganizerError
from organizer.extract import decode, vectors
from organizer.scan import Diff, Entry, Walker, diff, root_offline

log = logging.getLogger(__name__)

THUMB_SIZE = 320
COMMIT_EVERY_S = 2.0


@dataclass(frozen=True)
class Task:
    path: str
    mtime: float
    photo_id: int | None = None  # set for a vector-only task (a photo catalogued without one)


@dataclass(frozen=True)
class Outcome:
    """What a worker made of one file. kind: photo | known | error | ignored | vector."""

    path: str
    kind: str
    digest: str | None = None
    facts: extract.Facts | None = None
    thumb: str | None = None
    message: str | None = None
    vector: bytes | None = None
    photo_id: int | None = None


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


@dataclass(frozen=True)
class WorkerSettings:
    catalog_path: str
    thumbs_dir: str
    max_bytes: int
    cache_dir: str
    vectors: vectors.ModelSpec | None = None


def thumb_path(thumbs_dir: str, digest: str) -> str:
    return os.path.join(thumbs_dir, digest[:2], digest + ".jpg")


# --- the worker process --------------------------------------------------------------------------


def _worker_main(conn: multiprocessing.connection.Connection, settings: WorkerSettings) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent decides when to stop
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)  # libtiff and libheif write to stderr; our messages go through results
    warnings.simplefilter("ignore")
    logging.disable(logging.CRITICAL)
    lookup = sqlite3.connect(f"file:{settings.catalog_path}?mode=ro", uri=True, timeout=30)
    extract.warm_up()
    model = vectors.Model(settings.vectors, settings.cache_dir) if settings.vectors else None
    conn.send("ready")
    while True:
        try:
            task = conn.recv()
        except EOFError:
            return
        if task is None:
            return
        conn.send(process_file(task, settings, lookup, model))


def process_file(
    task: Task, settings: WorkerSettings, lookup: sqlite3.Connection, model: vectors.Model | None
) -> Outcome:
    """Read one file and extract it, unless its content is already catalogued."""
    name = os.path.basename(task.path)
    try:
        size = os.path.getsize(task.path)
        if size > settings.max_bytes:
            return Outcome(task.path, "error", message=f"file too large ({size} bytes), not read")
        with open(task.path, "rb") as fh:
            data = fh.read()
    except OSError as exc:
        return Outcome(task.path, "error", message=f"cannot read: {exc.strerror or exc}")
    if not data:
        return Outcome(task.path, "error", message="empty file")
    if task.photo_id is not None and model is not None:
        try:
            vector = extract.embed_only(data, THUMB_SIZE, model)
        except Exception as exc:  # this photo's vector fails, nothing else
            return Outcome(task.path, "error", message=_describe(exc), photo_id=task.photo_id)
        return Outcome(task.path, "vector", vector=vector, photo_id=task.photo_id)
    if decode.sniff(data[:64]) is None:
        if decode.looks_like_image(name):
            return Outcome(task.path, "error", message=f"not a supported image ({decode.describe(data[:64])})")
        return Outcome(task.path, "ignored")
    digest = extract.hashes.digest(data)
    row = lookup.execute(
        "SELECT 1 FROM photos WHERE digest = ? AND extractor >= ?", (digest, extract.EXTRACTOR_VERSION)
    ).fetchone()
    if row is not None:
        return Outcome(task.path, "known", digest=digest)
    try:
        facts = extract.extract(data, name, task.mtime, datetime.now(), THUMB_SIZE, digest=digest, model=model)
    except Exception as exc:  # any decoder failure is this file's error, never the run's
        return Outcome(task.path, "error", message=_describe(exc))
    thumb = thumb_path(settings.thumbs_dir, digest)
    try:
        os.makedirs(os.path.dirname(thumb), exist_ok=True)
        tmp = f"{thumb}.{os.getpid()}.tmp"
        with open(tmp, "wb") as fh:
            fh.write(facts.thumbnail)
        os.replace(tmp, thumb)
    except OSError as exc:
        facts.warnings.append(f"cannot write thumbnail: {exc.strerror or exc}")
        thumb = None
    return Outcome(task.path, "photo", digest=digest, facts=facts, thumb=thumb)


def _describe(exc: Exception) -> str:
    if isinstance(exc, UnidentifiedImageError):
        return "cannot decode: corrupt, truncated or unsupported image data"
    return f"{type(exc).__name__}: {exc}".strip()


class WorkerPool:
    """N worker processes, one file each at a time, with a per-file time bound."""

    def __init__(self, size: int, settings: WorkerSettings, timeout_s: float) -> None:
        self.settings = settings
        self.timeout_s = timeout_s
        self.workers = [self._spawn() for _ in range(size)]
        for slot in range(size):
            self._await_ready(slot)
        self.busy: dict[int, tuple[Task, float]] = {}  # worker slot -> (task, started)

    @staticmethod
    def _context() -> multiprocessing.context.BaseContext:
        if os.name != "posix":
            return multiprocessing.get_context("spawn")
        if threading.active_count() == 1:
            # A plain fork is safe with no other threads, and workers inherit a warm interpreter.
            extract.warm_up()
            return multiprocessing.get_context("fork")
        # the daemon has threads (watchers, scheduler): fork from a clean server process instead
        ctx = multiprocessing.get_context("forkserver")
        ctx.set_forkserver_preload(["organizer.index"])
        return ctx

    def _spawn(self) -> tuple[Any, multiprocessing.connection.Connection]:
        ctx = self._context()
        parent, child = ctx.Pipe()
        proc = ctx.Process(target=_worker_main, args=(child, self.settings), daemon=True)
        proc.start()
        child.close()
        return proc, parent

    def _await_ready(self, slot: int) -> None:
        """Workers warm up before their first file, so that its time bound is its own."""
        conn = self.workers[slot][1]
        if not conn.poll(60) or conn.recv() != "ready":
            raise OrganizerError("an extraction worker did not start")

    def idle_slots(self) -> list[int]:
        return [i for i in range(len(self.workers)) if i not in self.busy]

    def submit(self, slot: int, task: Task) -> None:
        self.workers[slot][1].send(task)
        self.busy[slot] = (task, time.monotonic())

    def collect(self, wait_s: float) -> list[Outcome]:
        """Outcomes that are ready, plus error outcomes for workers that died or overran."""
        conns = {self.workers[s][1]: s for s in self.busy}
        out: list[Outcome] = []
        if self.busy:  # wake up in time for the earliest deadline
            earliest = min(started for _, started in self.busy.values()) + self.timeout_s
            wait_s = max(0.0, min(wait_s, earliest - time.monotonic()))
        for conn in multiprocessing.connection.wait(list(conns), timeout=wait_s):
            slot = conns[conn]  # type: ignore[index]
            task, _ = self.busy.pop(slot)
            try:
                out.append(conn.recv())  # type: ignore[union-attr]
            except (EOFError, OSError):
                code = self.workers[slot][0].exitcode
                out.append(Outcome(task.path, "error", message=f"decoder crashed (exit code {code})"))
                self._replace(slot)
        now = time.monotonic()
        for slot, (task, started) in list(self.busy.items()):
            if now - started > self.timeout_s:
                del self.busy[slot]
                out.append(Outcome(task.path, "error", message=f"timed out after {self.timeout_s:g} s"))
                self._replace(slot)
        return out

    def _replace(self, slot: int) -> None:
        proc, conn = self.workers[slot]
        proc.kill()
        proc.join(5)
        conn.close()
        self.workers[slot] = self._spawn()
        self._await_ready(slot)

    def close(self) -> None:
        for proc, conn in self.workers:
            try:
                if proc.pid and proc.is_alive():
                    conn.send(None)
            except OSError:
                pass
        deadline = time.monotonic() + 2
        for proc, conn in self.workers:
            proc.join(max(0.0, deadline - time.monotonic()))
            if proc.is_alive():
                proc.kill()
                proc.join()
            conn.close()


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
    return config.scan.workers or os.cpu_count() or 1


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
    if spec is not None:
        try:
            vectors.graph_path(spec, cache_dir)  # built once here, not by every worker at once
        except vectors.ModelError as exc:
            raise OrganizerError(f"vectors.model: {exc}") from None
    settings = WorkerSettings(
        catalog_path=str(catalog.path),
        thumbs_dir=os.path.join(cache_dir, "thumbs"),
        max_bytes=config.scan.max_file_mb * 1024 * 1024,
        cache_dir=cache_dir,
        vectors=spec,
    )
    return WorkerPool(min(_workers(config), tasks), settings, config.scan.file_timeout_s)


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
