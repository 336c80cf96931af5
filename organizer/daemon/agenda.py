"""What the daemon does next, and when: the daemon's work as one small table, decided from the
time and what happened, with no thread and no I/O (so it is tested with a fake clock).

    what happened                     -> what becomes due
    a batch of files indexed          -> join the groups, then a quick album update
    a rescan found changes            -> join the groups, then a quick album update
    the recluster schedule fires      -> recluster + full publish (when the catalog changed)
    the rescan schedule fires         -> rescan every online root
    events lost (inotify overflow),
    a root back online or remounted,
    a watcher restarted               -> rescan that root
    an album update failed            -> retry it after output.retry_s
    a job failed (a full catalog disk) -> retry it after output.retry_s
    nothing else to do                -> refresh: bring a few photos that older readers made,
                                         or that lack a feature (faces...), up to date

Quick updates coalesce while files are still arriving: at most every QUICK_EVERY_S, and for at
most QUICK_SHARE of the time.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

QUICK_EVERY_S = 5.0
QUICK_SHARE = 0.2
HEALTH_EVERY_S = 5.0


@dataclass
class Agenda:
    recluster: Any  # apscheduler triggers
    rescan: Any
    retry_s: float
    now: datetime
    next_recluster: datetime | None = None
    next_rescan: datetime | None = None
    next_health: datetime | None = None
    dirty: bool = False  # the catalog changed since the last recluster
    albums_due: bool = False  # changes not yet in the album folders
    retry_at: dict[str, datetime] = field(default_factory=dict)  # job -> not before
    rescan_roots: set[str] = field(default_factory=set)  # asked for, outside the schedule
    last_quick: datetime | None = None
    quick_took: float = 0.0
    refresh_pending: bool = True  # photos may need newer readers' facts or new features

    def __post_init__(self) -> None:
        self.next_recluster = self.recluster.get_next_fire_time(None, self.now)
        self.next_rescan = self.rescan.get_next_fire_time(None, self.now)
        self.next_health = self.now + timedelta(seconds=HEALTH_EVERY_S)

    def due(self, now: datetime, settling: bool) -> list[str]:
        """The jobs to run now, in order: health, rescan, recluster, quick; refresh when there is
        nothing else."""
        jobs = []
        if self.next_health is not None and now >= self.next_health:
            jobs.append("health")
        if (self.rescan_roots or self._fired(self.next_rescan, now)) and self._free("rescan", now):
            jobs.append("rescan")
        if self._fired(self.next_recluster, now) and self.dirty and self._free("recluster", now):
            jobs.append("recluster")
        if self.albums_due and self._free("quick", now) and (not settling or self._quiet(now)):
            jobs.append("quick")
        if not jobs and not settling and not self.albums_due and self.refresh_pending and self._free("refresh", now):
            jobs.append("refresh")
        return jobs

    def rescan_scope(self, now: datetime, roots: list[str]) -> list[str]:
        """Which roots a due rescan covers: all of them when the schedule fired."""
        return list(roots) if self._fired(self.next_rescan, now) else sorted(self.rescan_roots)

    # --- what happened ---------------------------------------------------------------------------

    def changed(self) -> None:
        """Files were indexed, moved or marked missing."""
        self.dirty = self.albums_due = True

    def ran(self, job: str, now: datetime, ok: bool, took: float = 0.0) -> None:
        """`job` ran at `now` (`ok`: it did what it had to; else it is retried in retry_s)."""
        if not ok:
            self.retry_at[job] = now + timedelta(seconds=self.retry_s)
            if job == "recluster":
                self.albums_due = True  # the quick path retries the albums meanwhile
            return
        self.retry_at.pop(job, None)
        if job == "health":
            self.next_health = now + timedelta(seconds=HEALTH_EVERY_S)
        elif job == "rescan":
            if self._fired(self.next_rescan, now):
                self.next_rescan = self.rescan.get_next_fire_time(self.next_rescan, now)
            self.rescan_roots.clear()
        elif job == "recluster":
            self.next_recluster = self.recluster.get_next_fire_time(self.next_recluster, now)
            self.dirty = self.albums_due = False
        elif job == "quick":
            self.albums_due = False
            self.last_quick, self.quick_took = now, took

    def published_failed(self, now: datetime) -> None:
        """The albums could not be written: the quick path tries again after retry_s."""
        self.albums_due = True
        self.retry_at["quick"] = now + timedelta(seconds=self.retry_s)

    def skip_recluster(self, now: datetime) -> None:
        """The schedule fired with nothing changed."""
        if self._fired(self.next_recluster, now) and not self.dirty:
            self.next_recluster = self.recluster.get_next_fire_time(self.next_recluster, now)

    # --- helpers ---------------------------------------------------------------------------------

    @staticmethod
    def _fired(at: datetime | None, now: datetime) -> bool:
        return at is not None and now >= at

    def _free(self, job: str, now: datetime) -> bool:
        return now >= self.retry_at.get(job, now)

    def _quiet(self, now: datetime) -> bool:
        if self.last_quick is None:
            return True
        wait = max(QUICK_EVERY_S, self.quick_took / QUICK_SHARE)
        return (now - self.last_quick).total_seconds() >= wait
