"""Extraction in worker processes, one file at a time each, with a per-file time bound.

Because a worker holds one file at a time, a file that hangs or crashes its decoder is known by
name: the worker is killed (after `scan.file_timeout_s`) or found dead, the file gets an error
outcome, and a fresh worker takes its place. Workers only read the catalog (to skip contents it
already knows); the indexer writes it.
"""

from __future__ import annotations

import glob
import importlib
import importlib.machinery
import logging
import multiprocessing
import multiprocessing.connection
import multiprocessing.context
import os
import signal
import sys
import threading
import time
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import Any

from PIL import UnidentifiedImageError

from organizer import extract
from organizer.catalog.database import connect
from organizer.catalog.photos import PhotoStore
from organizer.errors import OrganizerError
from organizer.extract import decode, features, raw, source, vectors

THUMB_SIZE = 320
READY_S = 60.0  # a worker's start (imports and warm-up), however loaded the machine
PARENT_CHECK_S = 1.0


@dataclass(frozen=True)
class Task:
    path: str
    mtime: float
    size: int | None = None  # as the walk saw it (not stat-ed again); None: not known
    photo_id: int | None = None  # set for a refresh task: a catalogued photo lacking some features
    refresh: tuple[str, ...] = ()  # what it lacks: "cnn" (its vector) and registered feature names;
    # or ("metadata",) to read its metadata again, ("all",) to extract it again (newer readers)
    sidecars: tuple[str, ...] = ()  # XMP / Takeout JSON sidecars of this file (cluster.companions)


@dataclass(frozen=True)
class Outcome:
    """What a worker made of one file. kind: photo | known | error | unsupported (a real file of
    a format organizer does not read) | ignored (not a photo) | vanished (gone before it was
    read) | refresh (the vector and features a refresh task asked for)."""

    path: str
    kind: str
    digest: str | None = None
    facts: extract.Facts | None = None
    thumb: str | None = None
    message: str | None = None
    vector: bytes | None = None
    photo_id: int | None = None
    format: str | None = None  # what the content is, as sniffed
    features: dict[str, tuple[str, bytes]] | None = None  # a refresh's: name -> (version, value)


@dataclass(frozen=True)
class WorkerSettings:
    catalog_path: str
    thumbs_dir: str
    max_bytes: int
    cache_dir: str
    vectors: vectors.ModelSpec | None = None
    max_megapixels: float = 250.0  # scan.max_megapixels
    features: Mapping[str, features.Params] = field(default_factory=dict)  # registered features wanted
    background: frozenset[str] = frozenset()  # of those, the ones only refresh tasks compute
    idle: bool = False  # workers of the background pass: at the lowest CPU priority


def _idle_priority() -> None:
    """The lowest CPU priority (nice 19): anything else that wants the CPU gets it first, and the
    pass still moves on a machine that is never idle (SCHED_IDLE starved it there)."""
    try:
        os.nice(19 - os.nice(0))
    except OSError:
        pass


def thumb_path(thumbs_dir: str, digest: str) -> str:
    return os.path.join(thumbs_dir, digest[:2], digest + ".jpg")


# --- the worker process --------------------------------------------------------------------------


def _worker_main(conn: multiprocessing.connection.Connection, settings: WorkerSettings,
                 forked_from: int | None) -> None:
    """Serve tasks until told to stop. `forked_from`: the indexer's pid when it forked this worker
    itself. Workers forked one after another hold each other's pipe to the indexer, so when it
    dies (kill -9) none would see EOF: such a worker watches for being orphaned instead."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent decides when to stop
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)  # libtiff and libheif write to stderr; our messages go through results
    warnings.simplefilter("ignore")
    logging.disable(logging.CRITICAL)
    if settings.idle:
        _idle_priority()
    lookup = PhotoStore(connect(Path(settings.catalog_path), readonly=True))
    extract.warm_up()
    try:
        model = vectors.Model(settings.vectors, settings.cache_dir) if settings.vectors else None
        if model is not None and settings.vectors.model != vectors.BUILTIN:  # the built-in one is tested
            model.check()
    except vectors.ModelError as exc:
        conn.send(exc)
        return
    conn.send("ready")
    while True:
        while not conn.poll(PARENT_CHECK_S):
            if forked_from is not None and os.getppid() != forked_from:
                return
        try:
            task = conn.recv()
        except EOFError:
            return
        if task is None:
            return
        conn.send(process_file(task, settings, lookup, model))


def process_file(task: Task, settings: WorkerSettings, lookup: PhotoStore, model: vectors.Model | None) -> Outcome:
    """Sniff one file, look its digest up, and extract it unless its content is already
    catalogued. Images are read once, whole, under `max_bytes`; videos and RAW files are streamed."""
    src = _open(task, settings)
    if isinstance(src, Outcome):
        return src
    options = extract.Options(THUMB_SIZE, settings.max_bytes, settings.max_megapixels, features=settings.features)
    if task.photo_id is not None:
        return _refresh(task, src, settings, options, model)
    options = replace(options, features={k: v for k, v in settings.features.items() if k not in settings.background})
    try:
        digest = src.digest()
    except OSError as exc:
        return Outcome(task.path, "error", message=f"cannot read: {exc.strerror or exc}")
    if lookup.id_of(digest, extract.EXTRACTOR_VERSION) is not None:
        return Outcome(task.path, "known", digest=digest, format=src.format)
    try:
        facts = extract.extract_source(src, task.mtime, datetime.now(), options, task.sidecars, model)
    except Exception as exc:  # any failure is this file's error, never the run's
        return Outcome(task.path, "error", message=_describe(exc), format=src.format)
    if facts.decode_error:  # the error row; with metadata worth it, the facts too (for the timeline)
        kept = facts if facts.taken.source != "mtime" or facts.make or facts.lat is not None else None
        return Outcome(task.path, "error", digest=digest, facts=kept, message=facts.decode_error,
                       format=src.format)
    return Outcome(task.path, "photo", digest=digest, facts=facts, thumb=_write_thumb(settings, facts),
                   format=src.format)


def _open(task: Task, settings: WorkerSettings) -> source.Source | Outcome:
    """The sniffed file, or the outcome of a file that is empty, gone, too large or not media."""
    name = os.path.basename(task.path)
    try:
        size = task.size if task.size is not None else os.path.getsize(task.path)
        if size == 0:
            if source.expected_kind(name):
                return Outcome(task.path, "error", message="empty file")
            return Outcome(task.path, "ignored", format="empty")
        return extract.open_file(task.path, settings.max_bytes)
    except FileNotFoundError:
        return Outcome(task.path, "vanished")
    except extract.TooLarge as exc:
        return Outcome(task.path, "error", message=str(exc))
    except extract.NotMedia as exc:
        kind = decode.unsupported(exc.head)
        if kind is not None:
            return Outcome(task.path, "unsupported", format=kind)
        if source.expected_kind(name):
            return Outcome(task.path, "error", message=str(exc))
        return Outcome(task.path, "ignored")
    except OSError as exc:
        return Outcome(task.path, "error", message=f"cannot read: {exc.strerror or exc}")


def _refresh(task: Task, src: source.Source, settings: WorkerSettings, options: extract.Options,
             model: vectors.Model | None) -> Outcome:
    """A catalogued photo brought up to date: its metadata read again (newer readers, or a
    changed sidecar; with "all", its pixels too), or only the features it lacks."""
    if task.refresh in (("metadata",), ("all",)):
        try:
            facts = extract.extract_source(src, task.mtime, datetime.now(),
                                           replace(options, pixels=task.refresh == ("all",)), task.sidecars, model)
        except Exception as exc:
            return Outcome(task.path, "error", message=_describe(exc), photo_id=task.photo_id)
        thumb = _write_thumb(settings, facts) if facts.thumbnail is not None else None
        return Outcome(task.path, "refresh", facts=facts, thumb=thumb, photo_id=task.photo_id)
    wanted = {name: settings.features[name] for name in task.refresh if name in settings.features}
    try:
        vector, computed, image = extract.refresh(src, replace(options, features=wanted),
                                                  model if "cnn" in task.refresh else None)
        if "faces" in computed:
            _write_face_crops(settings, src.digest(), image, computed["faces"][1])
    except Exception as exc:  # this photo's refresh fails, nothing else
        return Outcome(task.path, "error", message=_describe(exc), photo_id=task.photo_id)
    return Outcome(task.path, "refresh", vector=vector, photo_id=task.photo_id, features=computed)


def face_crop_paths(cache_dir: str, digest: str) -> str:
    """The glob of a photo's face crops in the cache: `faces/ab/<digest>-<n>.jpg`."""
    return os.path.join(cache_dir, "faces", digest[:2], f"{digest}-*.jpg")


def _write_face_crops(settings: WorkerSettings, digest: str, image: Any, value: bytes) -> None:
    """Each face's crop (extract.faces.crops) into the cache, replacing the photo's earlier ones."""
    from organizer.extract import faces

    for old in glob.glob(face_crop_paths(settings.cache_dir, digest)):
        os.unlink(old)
    for n, crop in enumerate(faces.crops(image, value)):
        target = face_crop_paths(settings.cache_dir, digest).replace("*", str(n))
        os.makedirs(os.path.dirname(target), exist_ok=True)
        tmp = f"{target}.{os.getpid()}.tmp"
        crop.save(tmp, "JPEG", quality=85)
        os.replace(tmp, target)


def _write_thumb(settings: WorkerSettings, facts: extract.Facts) -> str | None:
    thumb = thumb_path(settings.thumbs_dir, facts.digest)
    try:
        os.makedirs(os.path.dirname(thumb), exist_ok=True)
        tmp = f"{thumb}.{os.getpid()}.tmp"
        with open(tmp, "wb") as fh:
            fh.write(facts.thumbnail or b"")
        os.replace(tmp, thumb)
    except OSError as exc:
        facts.warnings.append(f"cannot write thumbnail: {exc.strerror or exc}")
        return None
    return thumb


def _describe(exc: Exception) -> str:
    if isinstance(exc, UnidentifiedImageError):
        return "cannot decode: corrupt, truncated or unsupported image data"
    return f"{type(exc).__name__}: {exc}".strip()


class InlinePool:
    """Extraction in this process, one file at a time, with no time bound (`scan.inline`: for
    tests, pdb and coverage). The same interface as WorkerPool."""

    def __init__(self, settings: WorkerSettings) -> None:
        self.settings = settings
        self.lookup = PhotoStore(connect(Path(settings.catalog_path), readonly=True))
        self.model = vectors.Model(settings.vectors, settings.cache_dir) if settings.vectors else None
        self.busy: dict[int, Task] = {}

    def idle_slots(self) -> list[int]:
        return [] if self.busy else [0]

    def submit(self, slot: int, task: Task) -> None:
        self.busy[slot] = task

    def collect(self, wait_s: float) -> list[Outcome]:
        tasks = list(self.busy.values())
        self.busy.clear()
        return [process_file(task, self.settings, self.lookup, self.model) for task in tasks]

    def close(self) -> None:
        self.lookup.conn.close()


def _shadowed_here() -> bool:
    """Whether the current folder holds another `organizer` (a checkout, another version). The fork
    server runs `python -c`, so the current folder comes first on its sys.path, and before CPython
    3.12.8 / 3.13.1 it ignores the sys.path it is sent (gh-117378): preloading organizer.workers
    there would import that package, and every worker forked from it would inherit it. Workers
    then import organizer themselves, after multiprocessing has set the indexer's sys.path."""
    try:
        spec = importlib.machinery.PathFinder.find_spec("organizer", [os.getcwd()])
    except OSError:  # the current folder was removed: nothing there to import
        return False
    return spec is not None and spec.origin != sys.modules["organizer"].__file__


class WorkerPool:
    """N worker processes, one file each at a time, with a per-file time bound."""

    def __init__(self, size: int, settings: WorkerSettings, timeout_s: float) -> None:
        self.settings = settings
        self.timeout_s = timeout_s
        self.workers = [self._spawn() for _ in range(size)]
        for slot in range(size):
            self._await_ready(slot)
        self.busy: dict[int, tuple[Task, float]] = {}  # worker slot -> (task, started)

    def _context(self) -> multiprocessing.context.BaseContext:
        if os.name != "posix":
            return multiprocessing.get_context("spawn")
        # Workers inherit onnxruntime loaded (no session: those are per worker), not each paying
        # the import (about 60 ms of CPU).
        preload = ["organizer.workers"] + (["onnxruntime"] if self.settings.vectors else [])
        if threading.active_count() == 1 and not raw.openmp_started():
            # A plain fork is safe with no other threads, and workers inherit a warm interpreter.
            # Not after LibRaw demosaiced a RAW in this process: OpenMP's pool threads stay, and
            # a forked child that demosaics waits for them for ever (a DNG timed out after 60 s).
            extract.warm_up()
            for module in preload:
                importlib.import_module(module)
            return multiprocessing.get_context("fork")
        # the daemon has threads (watchers, scheduler): fork from a clean server process instead
        ctx = multiprocessing.get_context("forkserver")
        if _shadowed_here():
            preload = [module for module in preload if not module.startswith("organizer")]
        ctx.set_forkserver_preload(preload)
        return ctx

    def _spawn(self) -> tuple[Any, multiprocessing.connection.Connection]:
        ctx = self._context()
        parent, child = ctx.Pipe()
        forked_from = os.getpid() if ctx.get_start_method() == "fork" else None
        proc = ctx.Process(target=_worker_main, args=(child, self.settings, forked_from), daemon=True)
        proc.start()
        child.close()
        return proc, parent

    def _await_ready(self, slot: int) -> None:
        """Workers warm up before their first file, so that its time bound is its own. A model
        that cannot load or run raises its ModelError here."""
        proc, conn = self.workers[slot]
        why = f"no word from it in {READY_S:g} s"
        try:
            message = conn.recv() if conn.poll(READY_S) else None
        except (EOFError, OSError):
            proc.join(5)
            message, why = None, f"it exited with code {proc.exitcode}"
        if isinstance(message, vectors.ModelError):
            self.close()
            raise message
        if message != "ready":
            self.close()
            raise OrganizerError(f"an extraction worker did not start ({why})")

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
                out.append(Outcome(task.path, "error", message=f"decoder crashed (exit code {code})",
                                   photo_id=task.photo_id))  # a refresh task's failure is its photo's
                self._replace(slot)
        now = time.monotonic()
        for slot, (task, started) in list(self.busy.items()):
            if now - started > self.timeout_s:
                del self.busy[slot]
                out.append(Outcome(task.path, "error", message=f"timed out after {self.timeout_s:g} s",
                                   photo_id=task.photo_id))
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
