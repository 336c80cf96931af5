"""Progress while indexing: a bar on a terminal (tqdm, whose log handler keeps log lines and the
bar apart), a line every few seconds in a log otherwise."""

from __future__ import annotations

import logging
import shutil
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import click

Progress = Callable[[int, int, str], None]


@contextmanager
def progress(verbosity: int, enabled: bool = True) -> Iterator[Progress | None]:
    """A progress callback (done, total, path) for the duration of the block, or None."""
    if verbosity < 0 or not enabled:
        yield None
        return
    if sys.stderr.isatty():
        from tqdm import tqdm
        from tqdm.contrib.logging import logging_redirect_tqdm

        bar = None

        def show(done: int, total: int, path: str) -> None:
            nonlocal bar
            if bar is None:
                # a terminal that reports no size (a bare pty) gets 80x24, not a hidden bar
                size = shutil.get_terminal_size()
                bar = tqdm(total=total, unit="file", file=sys.stderr, ncols=size.columns, nrows=size.lines,
                           leave=True)
            bar.total = total
            bar.update(done - bar.n)

        with logging_redirect_tqdm(loggers=[logging.getLogger()]):
            try:
                yield show
            finally:
                if bar is not None:
                    bar.close()
        return
    # the first line after 5 s too: a rate measured over the workers' start-up says nothing
    started = time.monotonic()
    last = [started]

    def log_line(done: int, total: int, path: str) -> None:
        now = time.monotonic()
        if now - last[0] < 5.0 and done != total:  # a line every 5 s, and the last one
            return
        last[0] = now
        rate = done / max(now - started, 1e-6)
        eta = time.strftime("%H:%M:%S", time.gmtime((total - done) / rate if rate > 0 else 0))
        click.echo(f"progress: {done}/{total} files, {rate:.1f} files/s, ETA {eta}", err=True)

    yield log_line
