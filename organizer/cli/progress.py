"""Progress while indexing: a bar on a terminal (tqdm, whose log handler keeps log lines and the
bar apart), a line every few seconds in a log otherwise."""

from __future__ import annotations

import logging
import shutil
import sys
import time
from collections.abc import Iterator
from typing import Any
from contextlib import contextmanager

import click

from organizer.index import Progress

@contextmanager
def progress(verbosity: int, enabled: bool = True) -> Iterator[Progress | None]:
    """A progress callback (done, total, path, phase) for the duration of the block, or None.
    Each phase (the index pass's "files", then the background pass's) has its own bar or lines."""
    if verbosity < 0 or not enabled:
        yield None
        return
    if sys.stderr.isatty():
        from tqdm import tqdm
        from tqdm.contrib.logging import logging_redirect_tqdm

        bars: dict[str, Any] = {}

        def show(done: int, total: int, path: str, phase: str) -> None:
            bar = bars.get(phase)
            if bar is None:
                for other in bars.values():
                    other.close()  # the phase before is over
                # a terminal that reports no size (a bare pty) gets 80x24, not a hidden bar
                size = shutil.get_terminal_size()
                bar = bars[phase] = tqdm(total=total, unit="file" if phase == "files" else "photo",
                                         desc=None if phase == "files" else phase, file=sys.stderr,
                                         ncols=size.columns, nrows=size.lines, leave=True)
            bar.total = total
            bar.update(done - bar.n)

        with logging_redirect_tqdm(loggers=[logging.getLogger()]):
            try:
                yield show
            finally:
                for bar in bars.values():
                    bar.close()
        return
    # the first line of a phase after 5 s too: a rate measured over the workers' start-up says nothing
    started: dict[str, float] = {}
    last: dict[str, float] = {}

    def log_line(done: int, total: int, path: str, phase: str) -> None:
        now = time.monotonic()
        began = started.setdefault(phase, now)
        if now - last.get(phase, began) < 5.0 and done != total:  # a line every 5 s, and the last one
            return
        last[phase] = now
        rate = done / max(now - began, 1e-6)
        eta = time.strftime("%H:%M:%S", time.gmtime((total - done) / rate if rate > 0 else 0))
        if phase == "files":
            click.echo(f"progress: {done}/{total} files, {rate:.1f} files/s, ETA {eta}", err=True)
        else:
            click.echo(f"progress: {phase}: {done}/{total} photos, {rate:.1f} photos/s, ETA {eta}", err=True)

    yield log_line
