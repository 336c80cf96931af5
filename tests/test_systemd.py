"""The systemd units: valid to systemd, and the daemon working inside the system unit's sandbox.
systemd is not PID 1 here, so tests/sandbox_exec.py sets up the unit's file-system protection and
seccomp filters as systemd would (in a mount namespace of its own, which needs root)."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from organizer.catalog import Catalog
from organizer.cli import reports

from conftest import ROOT, gps_ifd, make_jpeg, wait_for

UNIT = ROOT / "systemd" / "organizer.service"
USER_UNIT = ROOT / "systemd" / "organizer-user.service"
LAUNCHER = Path(__file__).parent / "sandbox_exec.py"

pytestmark = pytest.mark.skipif(shutil.which("systemd-analyze") is None,
                                reason="systemd-analyze is not installed (Debian: apt install systemd)")
needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="a mount namespace of its own needs root")


def in_sandbox(unit: Path, writable: tuple[Path, ...] = (), read_only: tuple[Path, ...] = ()) -> tuple[str, ...]:
    """The command prefix that runs a command in `unit`'s sandbox."""
    return ("unshare", "-m", "--propagation", "private", sys.executable, str(LAUNCHER), str(unit),
            *(f"--writable={p}" for p in writable), *(f"--read-only={p}" for p in read_only), "--")


def sandboxed(unit: Path, code: str, writable: tuple[Path, ...] = ()) -> subprocess.CompletedProcess:
    return subprocess.run([*in_sandbox(unit, writable), sys.executable, "-c", code],
                          capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize("unit", [UNIT, USER_UNIT], ids=["system", "user"])
def test_the_units_are_valid_to_systemd(tmp_path: Path, unit: Path) -> None:
    text = unit.read_text()
    line = next(x for x in text.splitlines() if x.startswith("ExecStart="))
    program = line.split("=", 1)[1].split()[0]
    copy = tmp_path / unit.name  # its program is not installed here: the interpreter stands in
    copy.write_text(text.replace(program, sys.executable, 1))
    runtime = tmp_path / "runtime"
    runtime.mkdir(mode=0o700)
    user = ["--user"] if unit == USER_UNIT else []
    result = subprocess.run(["systemd-analyze", "verify", *user, str(copy)], capture_output=True, text=True,
                            env={**os.environ, "XDG_RUNTIME_DIR": str(runtime)}, timeout=60)
    assert (result.returncode, result.stderr) == (0, "")


@needs_root
def test_the_reproduced_sandbox_forbids_what_the_unit_forbids(tmp_path: Path) -> None:
    assert sandboxed(UNIT, "print('allowed')").stdout == "allowed\n"
    (tmp_path / "state").mkdir()
    write = "import sys; open(sys.argv[1], 'w').write('x')"
    assert sandboxed(UNIT, f"{write.replace('sys.argv[1]', repr(str(tmp_path / 'state' / 'ok')))}",
                     (tmp_path / "state",)).returncode == 0
    elsewhere = sandboxed(UNIT, f"{write.replace('sys.argv[1]', repr(str(tmp_path / 'not-ok')))}",
                          (tmp_path / "state",))
    assert "Read-only file system" in elsewhere.stderr  # ProtectSystem=strict
    assert (tmp_path / "state" / "ok").read_text() == "x" and not (tmp_path / "not-ok").exists()
    assert sandboxed(UNIT, "import os; os.nice(1)").returncode == -signal.SIGSYS  # @resources
    inet = sandboxed(UNIT, "import socket; socket.socket(socket.AF_INET)")
    assert "Address family not supported" in inet.stderr  # RestrictAddressFamilies=AF_UNIX
    wx = sandboxed(UNIT, "import mmap; mmap.mmap(-1, 4096, prot=mmap.PROT_WRITE | mmap.PROT_EXEC)")
    assert "PermissionError" in wx.stderr  # MemoryDenyWriteExecute=yes
    # numpy's OpenBLAS calls mbind as it loads, and onnxruntime pins its threads: without the
    # unit's exceptions for them, no organizer
    line = "SystemCallFilter=mbind sched_setaffinity\n"
    assert line in UNIT.read_text()
    without = tmp_path / "organizer.service"
    without.write_text(UNIT.read_text().replace(line, ""))
    assert sandboxed(without, "import numpy").returncode == -signal.SIGSYS
    without.write_text(UNIT.read_text().replace(line, "SystemCallFilter=mbind\n"))
    assert sandboxed(without, "import onnxruntime").returncode == -signal.SIGSYS
    assert sandboxed(UNIT, "import numpy, onnxruntime; print('loaded')").stdout == "loaded\n"


@needs_root
def test_the_daemon_runs_in_the_system_units_sandbox(tmp_path: Path, daemon) -> None:
    root = tmp_path / "Pictures"
    for i in range(3):
        make_jpeg(root / "trip" / f"A{i}.jpg", original=f"2008:10:22 16:{10 + i * 5}:00",
                  gps=gps_ifd(43.4674 + i * 1e-4, 11.8851), seed=i, size=(96, 64))
    (tmp_path / "tmp").mkdir()  # PrivateTmp=: a /tmp of its own
    # the photos read-only, the catalog, cache and albums writable; CNN vectors on: onnxruntime in
    # fork-server workers
    d = daemon(root, {"ORGANIZER_VECTORS_ENABLED": "true", "TMPDIR": str(tmp_path / "tmp")},
               prefix=in_sandbox(UNIT, writable=(tmp_path,), read_only=(root,)))
    status = Path(f"/proc/{d.proc.pid}/status").read_text()
    assert "Seccomp:\t2" in status and "Seccomp_filters:\t3" in status  # the three filters are in force
    assert os.readlink(f"/proc/{d.proc.pid}/ns/mnt") != os.readlink("/proc/self/ns/mnt")
    assert (d.out / "Events" / "2008-10-22 Arezzo").is_dir()
    make_jpeg(root / "trip" / "A3.jpg", original="2008:10:22 16:30:00", gps=gps_ifd(43.4674, 11.8851), seed=3,
              size=(96, 64))
    wait_for(lambda: (d.out / "Events" / "2008-10-22 Arezzo" / "A3.jpg").is_symlink(), 60, "the new link")
    with Catalog(d.catalog, readonly=True) as cat:
        info = reports.explain(cat, str(root / "trip" / "A3.jpg"))
        assert info["vector_model"] and info["errors"] == [] and reports.errors(cat) == []
    assert d.stop() < 10  # exit 0, not killed by the filter
