"""Watcher pieces on real files: the mount table, the stability gate, schedules, sd_notify."""

from __future__ import annotations

import logging
import os
import queue
import socket
import time
from pathlib import Path

import pytest

from organizer.config_load import trigger
from organizer.daemon.systemd import Notifier
from organizer.daemon.watch import Change, OverflowAlarm, Settler, Watchers, mount_type, needs_polling

MOUNTS = """\
/dev/sda1 / ext4 rw,relatime 0 0
nas:/volume1/photos /mnt/photos nfs4 rw,relatime 0 0
//nas/share /mnt/smb\\040share cifs rw 0 0
sshfs#me@host: /mnt/remote fuse.sshfs rw 0 0
/dev/sdb1 /mnt/photos/local ext4 rw 0 0
"""


def test_remote_file_systems_are_polled(tmp_path: Path) -> None:
    mounts = tmp_path / "mounts"
    mounts.write_text(MOUNTS)
    assert mount_type("/mnt/photos/2020", str(mounts)) == "nfs4"
    assert mount_type("/mnt/photos/local/x", str(mounts)) == "ext4"  # the longest mount point wins
    assert mount_type("/mnt/smb share/a", str(mounts)) == "cifs"
    assert needs_polling("/mnt/photos/2020", str(mounts)) and needs_polling("/mnt/remote/x", str(mounts))
    assert not needs_polling("/home/me/Pictures", str(mounts))
    assert not needs_polling("/mnt/photos/local", str(mounts))


def test_a_file_is_ready_only_after_it_stood_still(tmp_path: Path) -> None:
    path = tmp_path / "copying.jpg"
    path.write_bytes(b"x" * 10)
    settler = Settler(settle_s=1.0)
    t = time.monotonic()
    settler.touch(str(path), t)
    assert settler.ready(t) == []
    with open(path, "ab") as fh:
        fh.write(b"more")
    assert settler.ready(t + 0.9) == []  # it grew: the clock starts again
    assert settler.ready(t + 1.5) == []
    assert settler.ready(t + 2.0) == [str(path)]
    settler.touch(str(tmp_path / "gone.jpg"), t)
    assert settler.ready(t + 5) == []  # vanished before settling: dropped


@pytest.mark.parametrize("text", ["90s", "10m", "1.5h", "1d", "*/10 * * * *", "0 3 * * *"])
def test_schedules(text: str) -> None:
    assert trigger(text) is not None


@pytest.mark.parametrize("text", ["often", "10x", "0m", "* * *"])
def test_bad_schedules(text: str) -> None:
    with pytest.raises(ValueError):
        trigger(text)


def test_notifier_speaks_the_sd_notify_protocol(tmp_path: Path) -> None:
    address = str(tmp_path / "notify")
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind(address)
        sock.settimeout(2)
        notifier = Notifier({"NOTIFY_SOCKET": address, "WATCHDOG_USEC": "200000", "WATCHDOG_PID": str(os.getpid())})
        notifier.ready("3 photos")
        assert sock.recv(1024).decode().split("\n")[:2] == ["READY=1", "STATUS=3 photos"]
        notifier.ping()
        assert sock.recv(1024) == b"WATCHDOG=1"
        notifier.ping()  # too soon: nothing
        time.sleep(0.15)
        notifier.ping()
        assert sock.recv(1024) == b"WATCHDOG=1"
        notifier.stopping()
        assert sock.recv(1024).decode().startswith("STOPPING=1")
    assert Notifier({}).watchdog_interval is None
    Notifier({}).ready("nobody listens")  # no socket: silently nothing


def _changes(q: "queue.Queue", want: int, timeout: float = 10.0) -> list:
    got = []
    deadline = time.monotonic() + timeout
    while len(got) < want and time.monotonic() < deadline:
        try:
            got.append(q.get(timeout=max(0.01, deadline - time.monotonic())))
        except queue.Empty:
            break
    return got


@pytest.mark.parametrize("polling", [False, True], ids=["inotify", "polling"])
def test_a_real_observer_on_a_folder_enqueues_small_changes(tmp_path: Path, polling: bool) -> None:
    root = tmp_path / "Pictures"
    root.mkdir()
    q: queue.Queue[Change] = queue.Queue()
    watchers = Watchers.start([str(root)], q, polling, 0.2)
    try:
        (root / "a.jpg").write_bytes(b"x")
        assert any(c.kind == "changed" and c.path == str(root / "a.jpg") for c in _changes(q, 1))
        while not q.empty():
            q.get_nowait()
        (root / "a.jpg").rename(root / "b.jpg")
        moved = [c for c in _changes(q, 3, 5) if c.kind == "moved"]
        assert moved and (moved[0].path, moved[0].dest) == (str(root / "a.jpg"), str(root / "b.jpg"))
        (root / "b.jpg").unlink()
        assert any(c.kind == "gone" and c.path == str(root / "b.jpg") for c in _changes(q, 3, 5))
        assert watchers.dead() == []
    finally:
        watchers.stop()


def test_a_watcher_whose_reader_died_or_whose_root_was_replaced_is_reported(tmp_path: Path) -> None:
    root = tmp_path / "Pictures"
    root.mkdir()
    q: queue.Queue[Change] = queue.Queue()
    watchers = Watchers.start([str(root)], q, False, 1.0)
    try:
        assert watchers.dead() == []
        for emitter in list(watchers.observers[str(root)].emitters):  # as watchdog's reader dies on KeyError
            emitter.stop()
            emitter.join(5)
        assert watchers.dead() == [str(root)] and "reader thread ended" in watchers.why(str(root))
        watchers.restart(str(root), q, False, 1.0)
        assert watchers.dead() == []
        root.rename(tmp_path / "old")
        root.mkdir()
        assert "replaced" in watchers.why(str(root))
    finally:
        watchers.stop()


def test_the_overflow_alarm_catches_watchdogs_log_line() -> None:
    alarm = OverflowAlarm()
    logger = logging.getLogger("watchdog.observers.inotify_c")  # where watchdog 7 says it
    logger.addHandler(alarm)
    try:
        logger.warning("Inotify queue overflowed; filesystem events were lost")  # watchdog 7, word for word
        assert alarm.raised
        alarm.raised = False
        logger.warning("something else")
        assert not alarm.raised
    finally:
        logger.removeHandler(alarm)
