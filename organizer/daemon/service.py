"""The service loop: reconcile at start, then watch, index, join, recluster and publish, as the
agenda says, until asked to stop. One thread writes the catalog: this one. The watchers only
enqueue; no job's failure ends the daemon (it is logged, and retried where that helps)."""

from __future__ import annotations

import logging
import os
import queue
import threading
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from organizer import publish as publisher
from organizer import regroup, workflow
from organizer.catalog import Catalog
from organizer.config import Config
from organizer.config_load import trigger
from organizer.daemon.agenda import Agenda
from organizer.daemon.locks import hold
from organizer.daemon.systemd import Notifier
from organizer.daemon.watch import Change, OverflowAlarm, Settler, Watchers
from organizer.errors import CatalogError, OrganizerError, OutputError
from organizer.index import Indexer, Report
from organizer.publish.albums import DAEMON_LOCK
from organizer.scan import root_offline

log = logging.getLogger(__name__)

TICK_S = 0.2
REFRESH_CHUNK = 20  # photos refreshed between two looks at the watchers' queue
DEAF_AFTER = 3  # watcher restarts in a row that fail before systemd's watchdog is left to act


@dataclass
class RunStats:
    batches: int = 0
    indexed: int = 0
    moved: int = 0
    missing: int = 0
    joined: int = 0
    reclusters: int = 0
    rescans: int = 0
    failures: int = 0
    offline: dict[str, str] = field(default_factory=dict)
    albums_error: str | None = None  # why the albums could not be written, until they are again
    catalog_error: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


class Service:
    def __init__(self, config: Config, notifier: Notifier | None = None,
                 clock: Callable[[], datetime] = lambda: datetime.now(timezone.utc)) -> None:
        self.config = config
        self.notifier = notifier or Notifier()
        self.clock = clock
        self.roots = list(config.scan.roots)
        if not self.roots:
            raise OrganizerError("no photo folders: name them on the command line or in scan.roots")
        if not config.output.path:
            raise OrganizerError("no output folder: give --output or set output.path")
        self.stop_event = threading.Event()
        self.stats = RunStats()
        self.devices: dict[str, int] = {}
        self.restarts = 0  # failed watcher restarts in a row
        # photos whose albums the next quick update writes (None: every album, after a recluster
        # whose publish failed)
        self.touched: set[int] | None = set()
        self.agenda = Agenda(trigger(config.schedule.recluster, clock()), trigger(config.schedule.rescan, clock()),
                             config.output.retry_s, clock())

    def request_stop(self) -> None:
        self.stop_event.set()

    def stopping(self) -> bool:
        return self.stop_event.is_set()

    # --- running ------------------------------------------------------------------------------

    def run(self) -> RunStats:
        """Serve until `request_stop`; then finish the current batch and return."""
        config = self.config
        workflow.preflight(config, output=True)
        os.makedirs(os.path.dirname(config.catalog.path), exist_ok=True)
        held = hold(f"{config.catalog.path}.daemon.lock", "catalog")
        self._output_lock: int | None = None
        try:
            with Catalog(config.catalog.path) as catalog:
                self.catalog = catalog
                self._hold_output()
                self._serve(catalog)
        finally:
            for fd in (held, self._output_lock):
                if fd is not None:
                    os.close(fd)
        return self.stats

    def _hold_output(self) -> None:
        """Hold the album folder for this daemon once it can be (an offline one is waited for)."""
        if self._output_lock is not None:
            return
        root = Path(os.path.realpath(self.config.output.path))
        if publisher.offline(root, self.catalog.albums.device(str(root))):
            return
        try:
            root.mkdir(parents=True, exist_ok=True)
            self._output_lock = hold(str(root / DAEMON_LOCK), "album folder")
        except OSError as exc:
            log.warning("%s: cannot hold the album folder (%s); going on", root, exc.strerror)

    def _serve(self, catalog: Catalog) -> None:
        config = self.config
        assert catalog is self.catalog
        # watchdog warns at length (the whole watch table) when a folder is recreated quickly
        warnings.filterwarnings("ignore", category=RuntimeWarning, module=r"watchdog\.")
        self.indexer = Indexer(catalog, config, keep_pool=True, background=True)
        alarm = OverflowAlarm()
        logging.getLogger("watchdog").addHandler(alarm)
        self.watchers: Watchers | None = None
        try:
            self.indexer.check_model()
            self.notifier.status("reconciling with the photo folders")
            for root in self.roots:
                if os.path.isdir(root):
                    self.devices[root] = os.stat(root).st_dev
            # Watching starts before the reconciling scan: what arrives during it (minutes, on a
            # large library) waits in the queue instead of waiting for the next rescan.
            self.changes: queue.Queue[Change] = queue.Queue()
            self.watchers = Watchers.start(self.roots, self.changes, config.watch.polling,
                                           config.watch.poll_interval_s)
            if not self._guard("reconcile", self._reconcile):  # a rescan and a recluster will, later
                self.agenda.rescan_roots.update(self.roots)
                self.agenda.dirty = True
            if self.stopping():
                return
            self.notifier.ready(self._status())
            self._loop(alarm)
            if self.agenda.albums_due:
                self._guard("quick", self._quick)
        finally:
            self.notifier.stopping()
            if self.watchers is not None:
                self.watchers.stop()
            logging.getLogger("watchdog").removeHandler(alarm)
            self.indexer.close()

    def _loop(self, alarm: OverflowAlarm) -> None:
        settler = Settler(self.config.watch.settle_s)
        last_status: tuple[object, ...] = ()
        while not self.stopping():
            if self.restarts < DEAF_AFTER:  # a daemon that cannot watch lets systemd restart it
                self.notifier.ping()
            moved: list[tuple[str, str]] = []
            gone: list[str] = []
            try:
                change = self.changes.get(timeout=TICK_S)
                while True:
                    self._take(change, settler, moved, gone)
                    change = self.changes.get_nowait()
            except queue.Empty:
                pass
            ready = settler.ready(time.monotonic())
            if (moved or gone or ready) and not self._guard("batch", lambda: self._apply(ready, gone, moved)):
                self.agenda.rescan_roots.update(self.roots)  # what the failed batch held is found again
            if alarm.raised:
                log.warning("the kernel dropped file events: rescanning")
                alarm.raised = False
                self.agenda.rescan_roots.update(self.roots)
            now = self.clock()
            for job in self.agenda.due(now, settling=bool(settler.pending)):
                if self.stopping():
                    break
                self._guard(job, getattr(self, f"_{job}"))
            self.agenda.skip_recluster(self.clock())
            status = (self.stats.batches, self.stats.reclusters, self.stats.rescans, tuple(self.stats.offline),
                      self.stats.albums_error, self.stats.catalog_error)
            if status != last_status:  # counting 100,000 rows every tick would cost more than idling
                last_status = status
                self.notifier.status(self._status())

    def _guard(self, job: str, work: Callable[[], bool | None]) -> bool:
        """Run one job: a full or damaged catalog is a warning, a status line and a retry; any
        other failure is logged with its traceback, and the daemon goes on. True when it did."""
        started = time.monotonic()
        try:
            ok = work() is not False
        except CatalogError as exc:
            if self.stats.catalog_error != str(exc):
                log.warning("%s: %s; trying again every %.0f s", job, exc, self.config.output.retry_s)
            self.stats.catalog_error = str(exc)
            ok = False
        except Exception:
            log.exception("%s failed; the daemon goes on", job)
            self.stats.failures += 1
            ok = False
        else:
            if ok and self.stats.catalog_error is not None and job != "health":
                log.warning("the catalog can be written again")
                self.stats.catalog_error = None
        if job in ("rescan", "recluster", "quick", "health", "refresh"):
            self.agenda.ran(job, self.clock(), ok, time.monotonic() - started)
        return ok

    # --- jobs -----------------------------------------------------------------------------------

    def _reconcile(self) -> bool:
        try:
            done = workflow.organize(self.catalog, self.config, self.indexer, should_stop=self.stopping)
        except (OSError, OutputError) as exc:  # the scan and regroup are kept; the albums wait
            self._albums_failed(exc)
            self.touched = None
            self.agenda.changed()
            self.agenda.published_failed(self.clock())
            return True
        self._albums_ok()
        self._note_scan(done.scan)
        log.info("reconciled: %s", self._status())
        return True

    def _rescan(self) -> bool:
        roots = [r for r in self.agenda.rescan_scope(self.clock(), self.roots) if r not in self.stats.offline]
        if not roots:
            return True
        report = self.indexer.scan(roots, should_stop=self.stopping)
        self.stats.rescans += 1
        self._note_scan(report)
        if report.indexed or report.known or report.moved or report.missing or report.restat:
            log.info("rescanned %s: %d indexed, %d copies, %d moved, %d newly missing", ", ".join(roots),
                     report.indexed, report.known, report.moved, report.missing)
            self.agenda.changed()
            self.stats.joined += regroup.join_groups(self.catalog, self.config, report.touched)
            self._touch(report.touched)
        return True

    def _recluster(self) -> bool:
        result = regroup.regroup(self.catalog, self.config)
        self.stats.reclusters += 1
        log.info("reclustered %d photos: %s", result.photos,
                 ", ".join(f"{n} {kind}" for kind, n in sorted(result.groups.items())))
        if self._publish():
            self.touched = set()
        else:
            self.touched = None  # the quick path writes every changed album meanwhile
            self.agenda.published_failed(self.clock())
        return True

    def _refresh(self) -> bool:
        """Idle work, a few photos at a time, by workers at idle priority, given up as soon as a
        watcher reports a change (what was in flight is kept for the next round), so that new
        files never wait for it: what older readers made, or what lacks a feature (faces)."""
        roots = [r for r in self.roots if r not in self.stats.offline]
        report = self.indexer.refresh(roots, REFRESH_CHUNK,
                                      should_stop=lambda: self.stopping() or not self.changes.empty())
        done = report.refreshed + report.vectors + report.features
        self.agenda.refresh_pending = report.seen >= REFRESH_CHUNK or report.interrupted
        if done:
            log.info("brought %d photos up to date (newer readers, vectors, features)", done)
        return True

    def _quick(self) -> bool:
        """The quick update: only the albums the photos indexed, moved or gone since the last one
        are or were in, no map (the recluster's job)."""
        if self._publish(with_map=False, verify=False, touched=self.touched):
            self.touched = set()
            return True
        return False

    def _health(self) -> bool:
        assert self.watchers is not None
        for root in self.roots:
            why = self._why_offline(root)
            if why and root not in self.stats.offline:
                log.warning("%s: photo folder is %s; its photos and albums are left as they are", root, why)
                self.stats.offline[root] = why
            elif why is None and root in self.stats.offline:
                log.warning("%s: photo folder is back", root)
                del self.stats.offline[root]
                self._rewatch(root)
            elif why is None and os.stat(root).st_dev != self.devices.get(root):
                log.warning("%s: photo folder was mounted again (a new device); rescanning it", root)
                self._rewatch(root)
        for root in self.watchers.dead():
            log.warning("%s: the watcher stopped (%s); restarting it and rescanning", root,
                        self.watchers.why(root))
            self._rewatch(root)
        return True

    def _rewatch(self, root: str) -> None:
        assert self.watchers is not None
        try:
            self.watchers.restart(root, self.changes, self.config.watch.polling, self.config.watch.poll_interval_s)
            self.restarts = 0
        except Exception as exc:
            self.restarts += 1
            log.warning("%s: cannot watch it (%s)", root, exc)
        self.devices[root] = os.stat(root).st_dev
        self.agenda.rescan_roots.add(root)

    # --- helpers --------------------------------------------------------------------------------

    def _root_of(self, path: str) -> str | None:
        for root in self.roots:
            if (path == root or path.startswith(root + os.sep)) and root not in self.stats.offline:
                return root
        return None

    def _why_offline(self, root: str) -> str | None:
        return root_offline(root, int(self.catalog.files.has_present(root)))

    def _note_scan(self, report: Report) -> None:
        self.stats.indexed += report.indexed
        self.stats.offline.update(report.offline)
        self._indexed(report)

    def _indexed(self, report: Report) -> None:
        """New photos lack what only the background pass computes (faces): idle work is due."""
        if report.indexed and self.indexer.background_features:
            self.agenda.refresh_pending = True

    def _touch(self, photos: list[int]) -> None:
        if self.touched is not None:
            self.touched.update(photos)

    def _publish(self, **options: Any) -> bool:
        """Publish; albums that cannot be written (their folder unmounted, read-only or full) are
        a warning and a retry in `output.retry_s`, while indexing goes on."""
        try:
            report = publisher.publish(self.catalog, self.config, **options)
        except (OSError, OutputError) as exc:
            self._albums_failed(exc)
            return False
        self._albums_ok()
        self._hold_output()
        if report.written or report.removed or report.renamed:
            log.info("albums: %d written, %d removed, %d renamed", report.written, report.removed, report.renamed)
        return True

    def _albums_failed(self, exc: Exception) -> None:
        if self.stats.albums_error is None:
            log.warning("albums not updated, trying again every %.0f s: %s", self.config.output.retry_s, exc)
        self.stats.albums_error = str(exc)

    def _albums_ok(self) -> None:
        if self.stats.albums_error is not None:
            log.warning("albums updated again")
            self.stats.albums_error = None

    def _status(self) -> str:
        groups = self.catalog.groups.counts(("event", "place", "duplicate"))
        offline = f", offline: {', '.join(self.stats.offline)}" if self.stats.offline else ""
        albums = f", albums not updated: {self.stats.albums_error}" if self.stats.albums_error else ""
        catalog = f", catalog not written: {self.stats.catalog_error}" if self.stats.catalog_error else ""
        deaf = ", NOT WATCHING (restarts failed)" if self.restarts >= DEAF_AFTER else ""
        return (f"{self.catalog.files.photos_present()} photos, {self.catalog.errors.count()} errors, "
                f"{groups['event']} events, {groups['place']} places, {groups['duplicate']} duplicate groups"
                f"{offline}{albums}{catalog}{deaf}")

    def _take(self, change: Change, settler: Settler, moved: list[tuple[str, str]], gone: list[str]) -> None:
        now = time.monotonic()
        if change.kind == "changed":
            root = self._root_of(change.path)
            if root is None:
                return
            walker = self.indexer.walker
            if change.is_dir:  # a folder copied in: its files may come with no events of their own
                for dirpath, dirnames, files in os.walk(change.path):
                    dirnames[:] = [d for d in dirnames if not walker.excluded(d, d)]
                    for name in files:
                        path = os.path.join(dirpath, name)
                        if not walker.skips(path, root):
                            settler.touch(path, now)
            elif not walker.skips(change.path, root):  # Synology thumbnails, the recycle bin...
                settler.touch(change.path, now)
        elif change.kind == "gone":
            settler.forget(change.path)
            gone.append(change.path)
        elif change.kind == "moved" and change.dest:
            settler.forget(change.path)
            moved.append((change.path, change.dest))

    def _apply(self, ready: list[str], gone: list[str], moved: list[tuple[str, str]]) -> None:
        # a root that just went away is not a deletion of its photos
        for root in self.roots:
            why = None if root in self.stats.offline else self._why_offline(root)
            if why:
                log.warning("%s: photo folder is %s; its photos and albums are left as they are", root, why)
                self.stats.offline[root] = why
        report = self.indexer.update(self._root_of, ready, gone, moved, should_stop=self.stopping)
        self.stats.batches += 1
        self.stats.indexed += report.indexed
        self._indexed(report)
        self.stats.moved += report.moved
        self.stats.missing += report.missing
        if report.indexed or report.known or report.moved or report.missing or report.restat:
            joined = regroup.join_groups(self.catalog, self.config, report.touched)
            self.stats.joined += joined
            self._touch(report.touched)
            self.agenda.changed()
            log.info("indexed %d new, %d copies, %d moved, %d gone; %d joined their events and places",
                     report.indexed, report.known, report.moved, report.missing, joined)
