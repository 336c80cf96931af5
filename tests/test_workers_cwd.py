"""Worker processes start whatever the current folder holds: the real `organizer` command (the
installed script, as a user runs it) started from a folder with another `organizer` package in it."""

from __future__ import annotations

import json
import signal
import subprocess
import sysconfig
from pathlib import Path

import pytest

from conftest import jpeg_bytes, wait_for

ORGANIZER = Path(sysconfig.get_path("scripts")) / "organizer"


def _another_organizer(where: Path, kind: str) -> Path:
    """A folder holding an `organizer` that is not this one: an older version's package (no
    __version__, no workers) or a checkout named organizer (a folder with the package inside)."""
    if kind == "package":
        (where / "organizer").mkdir(parents=True)
        (where / "organizer" / "__init__.py").write_text('"""another organizer"""\nVERSION = "0.0.1"\n')
    else:
        (where / "organizer" / "organizer").mkdir(parents=True)
        (where / "organizer" / "pyproject.toml").write_text('[project]\nname = "organizer"\n')
        (where / "organizer" / "organizer" / "__init__.py").write_text('"""another checkout"""\n')
    return where


@pytest.fixture
def photos(tmp_path: Path) -> Path:
    root = tmp_path / "photos"
    root.mkdir()
    for i in range(3):
        (root / f"p{i}.jpg").write_bytes(jpeg_bytes((64, 48), seed=i))
    return root


@pytest.mark.parametrize("kind", ["package", "checkout"])
def test_scan_from_a_folder_holding_another_organizer(tmp_path: Path, photos: Path, kind: str) -> None:
    cwd = _another_organizer(tmp_path / "elsewhere", kind)
    done = subprocess.run([str(ORGANIZER), "--catalog", str(tmp_path / "c.db"), "scan", "--json", str(photos)],
                          cwd=cwd, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert (report["indexed"], report["errors"]) == (3, 0)


@pytest.mark.parametrize("kind", ["package", "checkout"])
def test_daemon_workers_from_a_folder_holding_another_organizer(tmp_path: Path, photos: Path, kind: str) -> None:
    """The daemon has threads, so its workers come from a fork server: before the fix it imported the
    current folder's organizer and every worker failed ("cannot import name '__version__'")."""
    cwd = _another_organizer(tmp_path / "elsewhere", kind)
    catalog = tmp_path / "c.db"
    log = tmp_path / "daemon.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen([str(ORGANIZER), "--catalog", str(catalog), "run", str(photos),
                                 "--output", str(tmp_path / "albums")], cwd=cwd, stdout=out, stderr=subprocess.STDOUT)

    def indexed() -> bool:
        assert proc.poll() is None, log.read_text()
        status = subprocess.run([str(ORGANIZER), "--catalog", str(catalog), "status", "--json"],
                                capture_output=True, text=True, timeout=60)
        return status.returncode == 0 and json.loads(status.stdout)["photos"] == 3

    try:
        wait_for(indexed, 90, "3 photos indexed by the daemon")
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(30)
    assert proc.returncode == 0, log.read_text()
    assert "cannot import" not in log.read_text()
