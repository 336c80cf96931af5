"""The indexing pipeline: plan (walk and diff) -> extract (worker processes, or inline) -> write
(`writer`, in batches). The catalog is written only by this process; a file whose extraction
failed, hung or crashed its worker becomes an error row."""

from __future__ import annotations

import glob
import logging
import os
import time
from collections import deque
from datetime import datetime, timezone
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from organizer import extract
from organizer.catalog import Catalog, KnownFile, now_iso
from organizer.config import Config
from organizer.errors import ConfigError, OrganizerError
from organizer.extract import features, vectors
from organizer.extract.source import RAW_EXTENSIONS
from organizer.cluster import companions
from organizer.cluster.companions import SIDECAR_SUFFIXES
from organizer.scan import Diff, Entry, Walk, Walker, compare, diff, regular, root_offline, sidecars_among
from organizer.workers import InlinePool, Outcome, Task, WorkerPool, WorkerSettings, face_crop_paths
from organizer.writer import Report, Writer

__all__ = ["Indexer", "Report", "index"]

log = logging.getLogger(__name__)

# (done, total, path, phase): phase "files" for the index pass, "background (faces, ...)" for the
# pass that computes, at idle priority, what the index pass leaves (see Indexer.scan)
Progress = Callable[[int, int, str, str], None]


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


@dataclass
class _Plan:
    root: str
    walk: Walk
    diff: Diff
    known: dict[str, KnownFile]


class Indexer:
    """Keeps the catalog up to date, by whole roots (`scan`) or by given paths (`update`, for the
    daemon). With `keep_pool` the worker processes outlive a call, so a new photo is not charged
    for starting them; with `background`, photos catalogued by older readers (or lacking a
    feature) are brought up to date only by `refresh`, a few at a time, when the daemon is idle."""

    def __init__(self, catalog: Catalog, config: Config, keep_pool: bool = False, background: bool = False) -> None:
        self.catalog = catalog
        self.config = config
        self.keep_pool = keep_pool
        self.background = background  # bringing old photos up to date is left to `refresh`
        self.spec = vectors.spec(config.vectors)
        self.model_id = vectors.model_id(self.spec) if self.spec else None
        self.features = features.wanted(config)
        self.versions = {name: features.version(name, params) for name, params in self.features.items()}
        self.background_features = features.background(self.features)
        self.pool: WorkerPool | InlinePool | None = None
        self.idle_pool: WorkerPool | InlinePool | None = None  # the background pass's, at idle priority
        output = config.output.path
        self.walker = Walker(exclude=config.scan.exclude, follow_symlinks=config.scan.follow_symlinks,
                             skip_dirs=[output] if output else [])

    def check_model(self) -> None:
        """Start one worker on the configured model and stop it: a user's model that cannot run is
        a ConfigError now (the daemon's start), not at the first photo, however late that comes."""
        if self.spec is not None and self.spec.model != vectors.BUILTIN and self.pool is None:
            self._new_pool(1).close()

    def close(self) -> None:
        self._close_pool()
        if self.idle_pool is not None:
            self.idle_pool.close()
            self.idle_pool = None

    def _close_pool(self) -> None:
        if self.pool is not None:
            self.pool.close()
            self.pool = None

    def _pool_for(self, tasks: int, idle: bool = False) -> WorkerPool | InlinePool:
        count = self.config.scan.workers
        size = count if self.keep_pool else min(count, tasks)
        if idle:
            if self.idle_pool is None:
                self.idle_pool = self._new_pool(size, idle=True)
            return self.idle_pool
        if self.pool is None:
            self.pool = self._new_pool(size)
        return self.pool

    def _new_pool(self, size: int, idle: bool = False) -> WorkerPool | InlinePool:
        cache_dir = self.config.catalog.cache_dir
        settings = WorkerSettings(
            catalog_path=str(self.catalog.path), thumbs_dir=os.path.join(cache_dir, "thumbs"),
            max_bytes=self.config.scan.max_file_mb * 1024 * 1024, cache_dir=cache_dir, vectors=self.spec,
            max_megapixels=self.config.scan.max_megapixels, features=self.features,
            background=self.background_features, idle=idle)
        try:
            if self.spec is not None:
                vectors.graph_path(self.spec, cache_dir)  # built once here, not by every worker at once
            if self.config.scan.inline:
                return InlinePool(settings)
            return WorkerPool(size, settings, self.config.scan.file_timeout_s)
        except vectors.ModelError as exc:  # a model that cannot load or run: before any photo
            raise ConfigError(f"{self.config.sources.get('vectors.model', 'default')}: vectors.model: {exc}") from None

    # --- whole roots ------------------------------------------------------------------------------

    def scan(self, roots: Sequence[str] | None = None, progress: Progress | None = None,
             should_stop: Callable[[], bool] = lambda: False, retry_errors: bool = False) -> Report:
        catalog = self.catalog
        started = time.monotonic()
        root_list = list(roots or self.config.scan.roots)
        if not root_list:
            raise OrganizerError("no photo folders: name them on the command line or in scan.roots")
        report = Report(roots=root_list)
        run_id = catalog.start_run("scan")
        plans = [plan for root in root_list if (plan := self._plan(root, report, retry_errors)) is not None]
        seen = now_iso()
        with catalog.transaction():
            for plan in plans:
                for old, entry in plan.diff.moved:
                    moved = catalog.move_file(old, entry.path, plan.root, seen)
                    if moved is not None:
                        report.touched.append(moved)
                for entry in plan.diff.restat:
                    catalog.files.restat(entry.path, entry.stat, seen)
        attached: dict[str, list[str]] = {}
        for plan in plans:
            attached.update(plan.walk.sidecars)
        todo = [(plan.root, entry) for plan in plans for entry in plan.diff.todo]
        online = tuple(plan.root.rstrip(os.sep) + os.sep for plan in plans)
        try:
            self._extract(todo, online, report, progress, should_stop, attached)
        except KeyboardInterrupt:
            report.interrupted = True
            catalog.finish_run(run_id, report.as_dict())
            raise
        if not report.interrupted:
            with catalog.transaction():
                for plan in plans:
                    catalog.mark_missing(plan.diff.gone, seen)
                    report.missing += len(plan.diff.gone)
                    report.touched += [pid for p in plan.diff.gone if (pid := plan.known[p].photo_id) is not None]
                self._drop_orphans()
            self._pair({os.path.dirname(p) for plan in plans
                        for p in [*plan.diff.gone, *(p for old, e in plan.diff.moved for p in (old, e.path))]})
            self._sidecars_gone([(p, plan.known[p].photo_id) for plan in plans for p in plan.diff.gone
                                 if plan.known[p].state == "sidecar"], report, should_stop)
        report.summary_warning()
        report.seconds = round(time.monotonic() - started, 3)
        catalog.finish_run(run_id, report.as_dict())
        return report

    def _plan(self, root: str, report: Report, retry_errors: bool) -> _Plan | None:
        """Walk and diff one root, or None when it is offline (nothing in it is touched)."""
        catalog = self.catalog
        known = catalog.files.known(root)
        catalogued = sum(1 for k in known.values() if k.state != "missing")
        why = root_offline(root, catalogued)
        if why == "absent" and not known:
            raise OrganizerError(f"photo folder not found: {root}")
        if why is not None:
            log.warning("%s: photo folder is %s; skipped, nothing in it is marked missing", root, why)
            report.offline[root] = why
            return None
        walk = Walk(root)
        failed: list[tuple[str, str]] = []
        result = diff(self.walker.walk(root, walk, lambda p, m: failed.append((p, m))), walk, known,
                      extract.EXTRACTOR_VERSION, retry_errors)
        stamp = now_iso()
        with catalog.transaction():
            catalog.errors.clear(p for p in walk.folders)  # folders that read fine now
            for path, message in failed:
                catalog.errors.record(path, "scan", message, stamp)
        for path, message in failed:
            report.warn(path, message)
        report.errors += len(failed)
        report.unchanged += result.unchanged
        report.still_failing += result.still_failing
        report.moved += len(result.moved)
        report.restat += len(result.restat)
        report.kept += len(result.kept)
        if result.kept:
            log.warning("%s: %d files in folders that could not be read, or on a disk that is not there, "
                        "are kept as they were", root, len(result.kept))
        report.seen += result.unchanged + len(result.todo) + len(result.moved) + len(result.restat)
        return _Plan(root, walk, result, known)

    # --- what a watcher saw -----------------------------------------------------------------------

    def update(self, root_of: Callable[[str], str | None], changed: Sequence[str] = (), gone: Sequence[str] = (),
               moved: Sequence[tuple[str, str]] = (), should_stop: Callable[[], bool] = lambda: False) -> Report:
        """Apply what a watcher saw: moved files and folders keep their rows (no decode), gone
        ones are marked missing, changed or new files are extracted. `root_of` maps a path to its
        root, or None when it is not under an online root (then it is left alone). The walker's
        rules apply: what a scan would skip, an update skips."""
        started = time.monotonic()
        report = Report()
        seen = now_iso()
        lost: list[tuple[str, int | None]] = []  # (path, photo id) of files gone, or moved where skipped
        with self.catalog.transaction():
            arrived = self._moved(root_of, moved, seen, report, lost)
            for path in gone:
                if root_of(path) is not None:
                    lost += self.catalog.mark_missing_under(path, seen)
            self._touch_missing([pid for _, pid in lost], report)
        todo = self._changed(root_of, [*changed, *arrived], seen, report)
        self._extract(todo, (), report, None, should_stop, self._sidecars_near([e.path for _, e in todo]))
        self._sidecars_gone([(p, pid) for p, pid in lost if p.lower().endswith(SIDECAR_SUFFIXES)], report,
                            should_stop)
        if report.missing:
            with self.catalog.transaction():
                self._drop_orphans()
        self._pair({os.path.dirname(p) for p in [*(p for p, _ in lost), *(p for pair in moved for p in pair)]})
        report.summary_warning()
        report.seconds = round(time.monotonic() - started, 3)
        return report

    def _moved(self, root_of: Callable[[str], str | None], moved: Sequence[tuple[str, str]], seen: str,
               report: Report, lost: list[tuple[str, int | None]]) -> list[str]:
        """Move the rows of moved files and folders; returns the files that moved in from outside
        (those moved somewhere skipped, such as a recycle bin, go to `lost`)."""
        catalog, arrived = self.catalog, []
        for src, dst in moved:
            root = root_of(dst)
            if root is None:
                continue
            if os.path.isdir(dst) and not os.path.islink(dst):
                ids = catalog.move_tree(src, dst, root, seen)
                report.moved += len(ids)
            elif catalog.files.get(src) is not None and not self.walker.skips(dst, root):
                ids = [catalog.move_file(src, dst, root, seen)]
                report.moved += 1
            elif catalog.files.get(src) is not None:  # moved somewhere skipped (the recycle bin)
                lost += catalog.mark_missing_under(src, seen)
                ids = []
            else:  # moved in from outside the roots: a new file
                arrived.append(dst)
                ids = []
            report.touched += [i for i in ids if i is not None]
        return arrived

    @staticmethod
    def _touch_missing(ids: list[int | None], report: Report) -> None:
        report.missing += len(ids)
        report.touched += [i for i in ids if i is not None]

    def _changed(self, root_of: Callable[[str], str | None], candidates: list[str], seen: str,
                 report: Report) -> list[tuple[str, Entry]]:
        """Stat each changed path once and compare it with its row: what must be extracted."""
        todo = []
        for path in dict.fromkeys(candidates):
            root = root_of(path)
            if root is None or self.walker.skips(path, root):
                continue
            try:
                st = os.stat(path, follow_symlinks=self.config.scan.follow_symlinks)
            except OSError:
                continue
            if not os.path.isfile(path):
                continue
            entry = Entry.of(path, st)
            row = self.catalog.files.get(path)
            report.seen += 1
            verdict = "read" if row is None else compare(row, entry, extract.EXTRACTOR_VERSION)
            if verdict == "unchanged":
                report.unchanged += 1
            elif verdict == "restat":
                with self.catalog.transaction():
                    self.catalog.files.restat(path, entry.stat, seen)
                report.restat += 1
            else:
                todo.append((root, entry))
        return todo

    def _drop_orphans(self) -> None:
        """Photos no file points to any more go, with their thumbnail and face crops."""
        for thumb in self.catalog.photos.drop_orphans():
            Path(thumb).unlink(missing_ok=True)
            for crop in glob.glob(face_crop_paths(self.config.catalog.cache_dir, Path(thumb).stem)):
                os.unlink(crop)

    def _extract(self, todo: list[tuple[str, Entry]], online: tuple[str, ...], report: Report,
                 progress: Progress | None, should_stop: Callable[[], bool],
                 attached: dict[str, list[str]]) -> None:
        """Extract `todo` in the workers, each media file with its sidecars (`attached`: media
        path -> sidecar paths); a changed sidecar of an unchanged photo reads that photo's metadata
        again, with no decode; then the folders' companions are paired. Unless this indexer works
        in the background (the daemon's, which calls `refresh` when idle), photos under `online`
        are then brought up to date."""
        writer = Writer(self.catalog, report, self.config.scan.batch_size, self.model_id)
        sidecar_of = {sc: media for media, scs in attached.items() for sc in scs}
        media = [(root, e) for root, e in todo if e.path not in sidecar_of]
        sidecars = [(root, e) for root, e in todo if e.path in sidecar_of]
        try:
            if media:
                entries = {entry.path: (root, entry) for root, entry in media}
                tasks = [Task(e.path, e.mtime_ns / 1e9, e.size, sidecars=tuple(attached.get(e.path, ())))
                         for _, e in media]
                _run(self._pool_for(len(tasks)), tasks, lambda o: writer.add(o, *entries[o.path]),
                     progress, should_stop, report)
                writer.flush()
            if sidecars and not report.interrupted:
                self._refresh(self._attach(sidecars, sidecar_of, attached, {e.path for _, e in media}), writer,
                              report, None, should_stop)
            if media and not report.interrupted:
                self._pair({os.path.dirname(e.path) for _, e in media})
            if online and not report.interrupted and not self.background:
                writer.flush()
                if not self.keep_pool:
                    self._close_pool()  # its workers would only wait beside the background pass's
                self._refresh(self.stale(online), writer, report, progress, should_stop, idle=True)
        finally:
            writer.flush()
            if not self.keep_pool:
                self.close()

    def _attach(self, sidecars: list[tuple[str, Entry]], sidecar_of: dict[str, str], attached: dict[str, list[str]],
                extracted: set[str]) -> list[Task]:
        """Record sidecar files as their photo's (never items of their own); a photo whose sidecar
        changed while it did not gets a metadata refresh task."""
        seen = now_iso()
        tasks = {}
        with self.catalog.transaction():
            for root, entry in sidecars:
                media = sidecar_of[entry.path]
                row = self.catalog.files.get(media)
                photo_id = row.photo_id if row is not None and row.state == "ok" else None
                self.catalog.files.upsert(entry.path, root, entry.stat, "sidecar", photo_id, seen,
                                          extract.EXTRACTOR_VERSION, "sidecar")
                if photo_id is not None and media not in extracted:
                    tasks[media] = Task(media, _mtime(media), None, photo_id, ("metadata",),
                                        tuple(attached.get(media, ())))
        return list(tasks.values())

    def _pair(self, folders: set[str]) -> None:
        """Which photos of these folders are one item (RAW+JPEG, Live Photo, a video's .thm), from
        the files present: also after files went or moved (a JPEG whose RAW was deleted is an item
        of its own again)."""
        with self.catalog.transaction():
            for folder in folders:
                rows = self.catalog.files.in_folder(folder)
                facts = self.catalog.photos.pairing([pid for _, pid in rows])
                members, photo_of = [], {}
                for path, pid in rows:
                    kind, utc, content_id, motion, pixels = facts[pid]
                    name = os.path.basename(path)
                    photo_of[name] = pid
                    taken = datetime.fromisoformat(utc).replace(tzinfo=timezone.utc).timestamp() if utc else None
                    members.append(companions.Member(name, kind, taken, content_id, motion, bool(pixels)))
                for item in companions.group(members):
                    self.catalog.photos.set_companions(photo_of[item.primary],
                                                       [photo_of[c] for c in item.companions], item.relation)

    def _sidecars_gone(self, gone: list[tuple[str, int | None]], report: Report,
                       should_stop: Callable[[], bool]) -> None:
        """A photo whose sidecar was deleted reads its metadata again from what is left (the
        sidecar's keywords, rating and title go with it)."""
        tasks: dict[int, Task] = {}
        for path, photo_id in gone:
            if photo_id is None or photo_id in tasks:
                continue
            media = next((p for p, pid in self.catalog.files.in_folder(os.path.dirname(path)) if pid == photo_id), None)
            if media is not None:
                tasks[photo_id] = Task(media, _mtime(media), None, photo_id, ("metadata",),
                                       tuple(self._sidecars_near([media]).get(media, ())))
        if tasks:
            writer = Writer(self.catalog, report, self.config.scan.batch_size, self.model_id)
            try:
                self._refresh(list(tasks.values()), writer, report, None, should_stop)
            finally:
                writer.flush()
                if not self.keep_pool:
                    self.close()

    def _sidecars_near(self, paths: list[str]) -> dict[str, list[str]]:
        """The sidecars of the media files in the folders of `paths` (the daemon's updates)."""
        out: dict[str, list[str]] = {}
        for folder in {os.path.dirname(p) for p in paths}:
            try:
                with os.scandir(folder) as it:
                    names = [e.name for e in it if regular(e, self.config.scan.follow_symlinks)]
            except OSError:
                continue
            out.update(sidecars_among(folder, names))
        return out

    def stale(self, online: tuple[str, ...], limit: int | None = None) -> list[Task]:
        """Refresh tasks for photos under `online` (path prefixes) that older readers or decoders
        made, or that lack their CNN vector or a registered feature at its wanted version."""
        tasks: dict[int, Task] = {}
        for pid, path, scope in self.catalog.photos.outdated(extract.VERSIONS):
            if path.startswith(online):
                tasks[pid] = Task(path, _mtime(path), None, pid, (scope,))
        for pid, path, lacks in self.catalog.photos.lacking(self.versions, self.model_id):
            if path.startswith(online) and pid not in tasks:  # (an outdated one: its lacks next time)
                tasks[pid] = Task(path, 0.0, None, pid, lacks)
        return list(tasks.values())[:limit]

    def refresh(self, roots: Sequence[str], limit: int, should_stop: Callable[[], bool] = lambda: False) -> Report:
        """Bring at most `limit` photos under `roots` up to date (the daemon's idle work); the
        report's `seen` says how many were looked at."""
        report = Report(roots=list(roots))
        writer = Writer(self.catalog, report, self.config.scan.batch_size, self.model_id)
        tasks = self.stale(tuple(r.rstrip(os.sep) + os.sep for r in roots), limit) if roots else []
        report.seen = len(tasks)
        try:
            self._refresh(tasks, writer, report, None, should_stop, idle=True)
        finally:
            writer.flush()
        return report

    def _refresh(self, stale: list[Task], writer: Writer, report: Report, progress: Progress | None,
                 should_stop: Callable[[], bool], idle: bool = False) -> None:
        """Run refresh tasks: in the background pass (`idle`: its own workers at idle priority,
        its own progress phase) or, for what a user just changed (a sidecar), at once."""
        if stale:
            scopes = sorted({"faces" if s in self.background_features else "vectors" if s == "cnn" else
                             "features" if s in self.features else "newer readers" for t in stale for s in t.refresh})
            _run(self._pool_for(len(stale), idle), stale, lambda o: writer.add(o, None, None), progress, should_stop,
                 report, f"background ({', '.join(scopes)})" if idle else "files")
            writer.flush()  # a RAW that a newer LibRaw decodes is its pair's primary again
            self._pair({os.path.dirname(t.path) for t in stale
                        if "all" in t.refresh and os.path.splitext(t.path)[1].lower() in RAW_EXTENSIONS})


def _mtime(path: str) -> float:
    try:
        return os.stat(path).st_mtime
    except OSError:
        return 0.0


def _run(pool: WorkerPool | InlinePool, tasks: list[Task], on_outcome: Callable[[Outcome], None],
         progress: Progress | None, should_stop: Callable[[], bool], report: Report, phase: str = "files") -> None:
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
                progress(done, len(tasks), outcome.path, phase)
