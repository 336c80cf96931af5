"""The daemon's decisions with a fake clock: the agenda alone, then the service on a real
catalog and real folders, in this process (issue 13)."""

from __future__ import annotations

import socket
import threading
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

from organizer import config as config_mod
from organizer.catalog import Catalog
from organizer.config_load import trigger
from organizer.daemon.agenda import QUICK_EVERY_S, Agenda
from organizer.daemon.service import Service
from organizer.daemon.systemd import Notifier

from conftest import make_jpeg, wait_for

T0 = datetime(2026, 1, 1, 12, 0, tzinfo=timezone.utc)


def agenda(recluster: str = "10m", rescan: str = "24h") -> Agenda:
    return Jobs(trigger(recluster, T0), trigger(rescan, T0), retry_s=60, now=T0)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


class Jobs(Agenda):
    """An agenda whose health checks (every 5 s) and idle refreshes the tests leave out of what
    they compare."""

    def due(self, now: datetime, settling: bool) -> list[str]:
        return [job for job in super().due(now, settling) if job not in ("health", "refresh")]


def test_health_checks_come_every_five_seconds() -> None:
    a = Agenda(trigger("10m", T0), trigger("24h", T0), retry_s=60, now=T0, refresh_pending=False)
    assert a.due(at(4.9), settling=False) == [] and a.due(at(5), settling=False) == ["health"]
    a.ran("health", at(5), ok=True)
    assert a.due(at(9.9), settling=False) == [] and a.due(at(10), settling=False) == ["health"]


def test_idle_refreshes_come_only_when_there_is_nothing_else_to_do() -> None:
    a = Agenda(trigger("10m", T0), trigger("24h", T0), retry_s=60, now=T0)
    assert a.due(at(1), settling=False) == ["refresh"]
    assert a.due(at(1), settling=True) == []  # files arriving: they come first
    a.changed()
    assert a.due(at(1), settling=False) == ["quick"]  # links first
    a.ran("quick", at(1), ok=True)
    assert a.due(at(5), settling=False) == ["health"]
    a.refresh_pending = False  # all up to date
    assert a.due(at(2), settling=False) == []


def test_a_batch_makes_a_quick_update_due_and_updates_coalesce_while_files_arrive() -> None:
    a = agenda()
    assert a.due(at(1), settling=False) == []
    a.changed()
    assert a.due(at(1), settling=False) == ["quick"]
    a.ran("quick", at(1), ok=True, took=0.5)
    a.changed()
    assert a.due(at(2), settling=True) == []  # files still arriving: not again so soon
    assert a.due(at(1 + QUICK_EVERY_S), settling=True) == ["quick"]
    a.ran("quick", at(6), ok=True, took=4.0)  # a slow one: at most a fifth of the time
    a.changed()
    assert a.due(at(6 + 19), settling=True) == [] and a.due(at(6 + 20), settling=True) == ["quick"]
    assert a.due(at(6.1), settling=False) == ["quick"]  # nothing settling: right away


def test_the_recluster_fires_on_its_schedule_only_when_the_catalog_changed() -> None:
    a = agenda("10m")
    assert "recluster" not in a.due(at(601), settling=False)  # nothing changed
    a.skip_recluster(at(601))
    assert a.next_recluster == at(1200)
    a.changed()
    a.ran("quick", at(700), ok=True)
    assert "recluster" not in a.due(at(1199), settling=False)
    assert "recluster" in a.due(at(1200), settling=False)
    a.ran("recluster", at(1200), ok=True)
    assert not a.dirty and a.next_recluster == at(1800)


def test_a_failed_job_is_retried_after_retry_s_and_a_failed_publish_by_the_quick_path() -> None:
    a = agenda("10m")
    a.changed()
    a.ran("quick", at(1), ok=False)
    assert a.due(at(30), settling=False) == []
    assert a.due(at(61), settling=False) == ["quick"]
    a.ran("recluster", at(601), ok=True)
    a.published_failed(at(601))
    assert a.albums_due and a.due(at(602), settling=False) == []
    assert a.due(at(662), settling=False) == ["quick"]


def test_rescans_on_request_cover_their_roots_and_on_schedule_every_root() -> None:
    a = agenda(rescan="1h")
    a.rescan_roots.add("/srv/photos")
    assert a.due(at(1), settling=False) == ["rescan"]
    assert a.rescan_scope(at(1), ["/srv/photos", "/srv/more"]) == ["/srv/photos"]
    a.ran("rescan", at(1), ok=True)
    assert a.due(at(2), settling=False) == []
    assert a.due(at(3600), settling=False) == ["rescan"]
    assert a.rescan_scope(at(3600), ["/srv/photos", "/srv/more"]) == ["/srv/photos", "/srv/more"]
    a.ran("rescan", at(3600), ok=True)
    assert a.next_rescan == at(7200)


def test_the_service_reclusters_when_its_clock_says_so(tmp_path: Path) -> None:
    """A real catalog and folders, in this process, with inline extraction; only the clock is
    the test's: no recluster before the schedule, one after it, and a new photo meanwhile."""
    root, out = tmp_path / "Pictures", tmp_path / "Albums"
    for i in range(3):
        make_jpeg(root / f"A{i}.jpg", original=f"2008:10:22 16:{10 + i}:00", seed=i, size=(96, 64))
    cfg = config_mod.load(env={}, overrides={
        "catalog.path": (str(tmp_path / "c.db"), "test"), "catalog.cache_dir": (str(tmp_path / "cache"), "test"),
        "scan.roots": ([str(root)], "test"), "output.path": (str(out), "test"), "scan.inline": (True, "test"),
        "vectors.enabled": (False, "test"), "watch.settle_s": (0.2, "test")})
    now = [T0]
    sock_path = str(tmp_path / "notify")
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    listener.bind(sock_path)
    listener.settimeout(0.1)
    service = Service(cfg, Notifier({"NOTIFY_SOCKET": sock_path}), clock=lambda: now[0])
    thread = threading.Thread(target=service.run, daemon=True)
    thread.start()
    messages: list[str] = []

    def heard(text: str) -> bool:
        try:
            messages.extend(listener.recv(4096).decode().split("\n"))
        except (TimeoutError, OSError):
            pass
        return any(m.startswith(text) for m in messages)

    try:
        wait_for(lambda: heard("READY=1"), 60, "the service ready")
        assert service.stats.reclusters == 0  # the start-up reconcile is not a scheduled recluster
        make_jpeg(root / "A3.jpg", original="2008:10:22 16:20:00", seed=3, size=(96, 64))
        wait_for(lambda: (out / "Timeline" / "2008" / "10" / "A3.jpg").is_symlink(), 30, "the quick update's link")
        time.sleep(1)
        assert service.stats.reclusters == 0  # the schedule has not fired on the test's clock
        now[0] = T0 + timedelta(minutes=10, seconds=1)
        wait_for(lambda: service.stats.reclusters == 1, 30, "the scheduled recluster")
        with Catalog(cfg.catalog.path, readonly=True) as cat:
            assert cat.runs.last()["cluster"].finished is not None
            assert cat.groups.counts(["event"])["event"] == 1
    finally:
        service.request_stop()
        thread.join(30)
        listener.close()
    assert not thread.is_alive()
