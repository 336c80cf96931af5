"""The service loop: reconcile at start, then watch, index, join, recluster and publish on
schedule until asked to stop. One thread writes the catalog: this one. The watchers only enqueue,
and the scheduler only marks work as due."""

from __future__ import annotations

import logging
import os
import queue
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from apscheduler.schedulers.background import BackgroundScheduler

from organizer import publish as publisher
from organizer import regroup
from organizer.catalog import Catalog
from organizer.config import Config, trigger
from organizer.daemon.systemd import Notifier
from organizer.daemon.watch import Change, OverflowAlarm, Settler, Watchers
from organizer.errors import OrganizerError, OutputError
from organizer.index import Indexer
from organizer.publish.albums import AlbumTree
from organizer.scan import root_offline

log = logging.getLogger(__name__)

TICK_S = 0.2
HEALTH_EVERY_S = 5.0
# While files are still arriving, the albums are updated at most every QUICK_EVERY_S, and for at
# most QUICK_SHARE of the time: each update reads the whole catalog (1.3 s at 100,000 photos).
QUICK_EVERY_S = 5.0
QUICK_SHARE = 0.2


@dataclass
class RunStats:
    batches: int = 0
    indexed: int = 0
    moved: int = 0
    missing: int = 0
    joined: int = 0
    reclusters: int = 0
    rescans: int = 0
    offline: dict[str, str] = field(default_factory=dict)
    albums_error: str | None = None  # why the albums could not be written, until they are again

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


class Service:
    def __init__(self, config: Config, notifier: Notifier | None = None) -> None:
        self.config = config
        self.notifier = notifier or Notifier()
        self.roots = [os.path.abspath(os.path.expanduser(r)) for r in config.scan.roots]
        if not self.roots:
            raise OrganizerError("no photo folders: name them on the command line or in scan.roots")
        if not config.output.path:
            raise OrganizerError("no output folder: give --output or set output.path")
        self.stop_event = threading.Event()
        self.due: set[str] = set()
        self.stats = RunStats()
        self.devices: dict[str, int] = {}
        self._albums_due = False  # indexed since the albums were last updated
        self._quick_at = 0.0  # when the last quick update ended, and how long it took
        self._quick_took = 0.0
        self._retry_at = 0.0  # no album update before (after one failed)

    def request_stop(self) -> None:
        self.stop_event.set()

    def stopping(self) -> bool:
        return self.stop_event.is_set()

    # --- roots ------------------------------------------------------------------------------

    def _root_of(self, path: str) -> str | None:
        for root in self.roots:
            if (path == root or path.startswith(root + os.sep)) and root not in self.stats.offline:
                return root
        return None

    def _why_offline(self, catalog: Catalog, root: str) -> str | None:
        why = root_offline(root, int(catalog.has_present(root)))
        if why is None and root in self.devices and os.stat(root).st_dev != self.devices[root]:
            why = "on another device"
        return why

    def _check_roots(self, catalog: Catalog, indexer: Indexer, watchers: Watchers, changes: queue.Queue) -> None:
        for root in self.roots:
            why = self._why_offline(catalog, root)
            if why and root not in self.stats.offline:
                log.warning("%s: photo folder is %s; its photos and albums are left as they are", root, why)
                self.stats.offline[root] = why
            elif why is None and root in self.stats.offline:
                log.warning("%s: photo folder is back", root)
                del self.stats.offline[root]
                self.devices[root] = os.stat(root).st_dev
                watchers.restart(root, changes, self.config.watch.polling, self.config.watch.poll_interval_s)
                self._scan(indexer, [root])

    # --- work -------------------------------------------------------------------------------

    def _scan(self, indexer: Indexer, roots: list[str]) -> None:
        report = indexer.scan(roots, should_stop=self.stopping)
        self.stats.indexed += report.indexed
        self.stats.rescans += 1
        self._dirty = self._dirty or bool(report.indexed or report.known or report.moved or report.missing)
        self.stats.offline.update(report.offline)

    def _publish(self, catalog: Catalog, **options: bool) -> bool:
        """Publish; albums that cannot be written (their folder unmounted, read-only or full) are
        a warning and a retry in `output.retry_s`, while indexing goes on."""
        try:
            publisher.publish(catalog, self.config, **options)
        except (OSError, OutputError) as exc:
            if self.stats.albums_error is None:
                log.warning("albums not updated, trying again every %.0f s: %s", self.config.output.retry_s, exc)
            self.stats.albums_error = str(exc)
            self._retry_at = time.monotonic() + self.config.output.retry_s
            return False
        if self.stats.albums_error is not None:
            log.warning("albums updated again")
            self.stats.albums_error = None
        return True

    def _recluster(self, catalog: Catalog) -> None:
        regroup.regroup(catalog, self.config)
        self.stats.reclusters += 1
        done = self._publish(catalog)
        self._dirty = self._albums_due = not done  # not done: the quick path retries, and the next recluster

    def _update_albums(self, catalog: Catalog) -> None:
        """The quick update: only the albums whose links changed, no map (the recluster's job)."""
        started = time.monotonic()
        done = self._publish(catalog, with_map=False, verify=False)
        self._quick_at = time.monotonic()
        self._quick_took = self._quick_at - started
        self._albums_due = not done

    def _status(self, catalog: Catalog) -> str:
        s = catalog.status()
        g = catalog.group_counts()
        offline = f", offline: {', '.join(self.stats.offline)}" if self.stats.offline else ""
        albums = f", albums not updated: {self.stats.albums_error}" if self.stats.albums_error else ""
        return (f"{s['photos']} photos, {s['errors']} errors, {g['event']} events, {g['place']} places, "
                f"{g['duplicate']} duplicate groups{offline}{albums}")

    def run(self) -> RunStats:
        """Serve until `request_stop`; then finish the current batch and return."""
        config = self.config
        catalog = Catalog(config.catalog.path)
        with AlbumTree(config.output.path):  # refuse an unmanaged folder before any work
            pass
        indexer = Indexer(catalog, config, keep_pool=True)
        alarm = OverflowAlarm()
        logging.getLogger("watchdog").addHandler(alarm)
        scheduler = BackgroundScheduler(daemon=True)
        watchers: Watchers | None = None
        self._dirty = False
        try:
            indexer.check_model()
            self.notifier.status("reconciling with the photo folders")
            for root in self.roots:
                if os.path.isdir(root):
                    self.devices[root] = os.stat(root).st_dev
            # Watching starts before the reconciling scan: what arrives during it (minutes, on a
            # large library) waits in the queue instead of waiting for the next rescan.
            changes: queue.Queue[Change] = queue.Queue()
            watchers = Watchers.start(self.roots, changes, config.watch.polling, config.watch.poll_interval_s)
            self._scan(indexer, self.roots)
            if self.stopping():
                return self.stats
            self._recluster(catalog)
            scheduler.add_job(lambda: self.due.add("recluster"), trigger(config.schedule.recluster),
                              coalesce=True, max_instances=1)
            scheduler.add_job(lambda: self.due.add("rescan"), trigger(config.schedule.rescan),
                              coalesce=True, max_instances=1)
            scheduler.start()
            self.notifier.ready(self._status(catalog))
            self._loop(catalog, indexer, watchers, changes, alarm)
            if self._albums_due:
                self._update_albums(catalog)
        finally:
            self.notifier.stopping()
            if scheduler.running:
                scheduler.shutdown(wait=False)
            if watchers is not None:
                watchers.stop()
            logging.getLogger("watchdog").removeHandler(alarm)
            indexer.close()
            catalog.close()
        return self.stats

    def _loop(self, catalog: Catalog, indexer: Indexer, watchers: Watchers, changes: queue.Queue[Change],
              alarm: OverflowAlarm) -> None:
        settler = Settler(self.config.watch.settle_s)
        last_health = time.monotonic()
        last_status: tuple[object, ...] = ()
        while not self.stopping():
            self.notifier.ping()
            moved: list[tuple[str, str]] = []
            gone: list[str] = []
            try:
                change = changes.get(timeout=TICK_S)
                while True:
                    self._take(change, settler, moved, gone)
                    change = changes.get_nowait()
            except queue.Empty:
                pass
            ready = settler.ready(time.monotonic())
            if moved or gone or ready:
                self._apply(catalog, indexer, ready, gone, moved)
            now = time.monotonic()
            quick_due = not settler.pending or now - self._quick_at >= max(QUICK_EVERY_S,
                                                                           self._quick_took / QUICK_SHARE)
            if self._albums_due and now >= self._retry_at and quick_due:
                self._update_albums(catalog)
            if now - last_health >= HEALTH_EVERY_S:
                last_health = now
                self._check_roots(catalog, indexer, watchers, changes)
                status = (self.stats.batches, self.stats.reclusters, self.stats.rescans, len(self.stats.offline),
                          self.stats.albums_error)
                if status != last_status:  # counting 100,000 rows every 5 s would cost more than idling
                    last_status = status
                    self.notifier.status(self._status(catalog))
            if alarm.raised:
                log.warning("the kernel dropped file events: rescanning")
                alarm.raised = False
                self.due.add("rescan")
            if "rescan" in self.due and not self.stopping():
                self.due.discard("rescan")
                self._scan(indexer, [r for r in self.roots if r not in self.stats.offline])
            if "recluster" in self.due and not self.stopping():
                self.due.discard("recluster")
                if self._dirty:
                    self._recluster(catalog)

    def _take(self, change: Change, settler: Settler, moved: list[tuple[str, str]], gone: list[str]) -> None:
        now = time.monotonic()
        if change.kind == "changed":
            if change.is_dir:  # a folder copied in: its files may come with no events of their own
                for dirpath, _, files in os.walk(change.path):
                    for name in files:
                        settler.touch(os.path.join(dirpath, name), now)
            else:
                settler.touch(change.path, now)
        elif change.kind == "gone":
            settler.forget(change.path)
            gone.append(change.path)
        elif change.kind == "moved" and change.dest:
            settler.forget(change.path)
            moved.append((change.path, change.dest))

    def _apply(self, catalog: Catalog, indexer: Indexer, ready: list[str], gone: list[str],
               moved: list[tuple[str, str]]) -> None:
        # a root that just went away is not a deletion of its photos
        for root in self.roots:
            why = None if root in self.stats.offline else self._why_offline(catalog, root)
            if why:
                log.warning("%s: photo folder is %s; its photos and albums are left as they are", root, why)
                self.stats.offline[root] = why
        report = indexer.update(self._root_of, ready, gone, moved, should_stop=self.stopping)
        self.stats.batches += 1
        self.stats.indexed += report.indexed
        self.stats.moved += report.moved
        self.stats.missing += report.missing
        if report.indexed or report.known or report.moved or report.missing:
            self._dirty = True
            self.stats.joined += regroup.join_groups(catalog, self.config, report.touched)
            self._albums_due = True
