"""Worker processes start safely whatever the indexing process ran before: after it used OpenMP
itself (LibRaw demosaicing a RAW in-process, as `scan.inline` or a library caller does), a worker
forked from it would hang at its first RAW; such a process starts its workers from a fork server."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from conftest import ROOT

SCRIPT = """
import sys, time
from datetime import datetime
from pathlib import Path
sys.path.insert(0, sys.argv[3])
from test_generated_formats import make_dng
from organizer import config, index
from organizer.catalog import Catalog
from organizer.extract import extract_file

root, catalog = Path(sys.argv[1]), sys.argv[2]
(root / "later").mkdir(parents=True)
make_dng(root / "first.dng", seed=1)
make_dng(root / "later" / "second.dng", seed=2)
extract_file(str(root / "first.dng"), 0.0, datetime.now())  # LibRaw's OpenMP pool, in this process
cfg = config.load(env={}, overrides={"catalog.path": (catalog, "test"), "scan.workers": (2, "test"),
                                     "scan.file_timeout_s": (30, "test"), "vectors.enabled": (False, "test"),
                                     "faces.enabled": ("off", "test")})
with Catalog(cfg.catalog.path) as cat:
    started = time.monotonic()
    report = index.index(cat, cfg, [str(root / "later")])
    print(report.indexed, report.errors, round(time.monotonic() - started, 1))
"""


def test_workers_start_safely_after_this_process_used_openmp(tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, "-c", SCRIPT, str(tmp_path / "photos"), str(tmp_path / "c.db"),
                           str(ROOT / "tests")], capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    indexed, errors, seconds = done.stdout.split()
    assert (indexed, errors) == ("1", "0"), (done.stdout, done.stderr)  # not 'timed out after 30 s'
