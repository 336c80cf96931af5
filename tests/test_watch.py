"""Watcher pieces on real files: the mount table, the stability gate, schedules, sd_notify."""

from __future__ import annotations

import os
import socket
import time
from pathlib import Path

import pytest

from organizer.config import trigger
from organizer.daemon.systemd import Notifier
from organizer.daemon.watch import Settler, mount_type, needs_polling

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
