"""The command line: parse, call one library function, print text or JSON. Only this package
prints. Commands live in `library` (scan, cluster, publish, organize, run) and `query` (status,
explain, dupes, similar, errors, config); `reports` shapes what they print."""

from __future__ import annotations

import json
import logging
import os
import sqlite3
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import click

from organizer import __version__, config as config_mod, config_load
from organizer.catalog import Catalog
from organizer.catalog.paths import printable, unshown
from organizer.errors import OrganizerError

EXIT_USER_ERROR = 1

# Global options, also accepted after the command name (`organizer status --catalog x.db`).
_GLOBAL_VALUED = ("--config", "--catalog")
_GLOBAL_FLAGS = ("-v", "-vv", "-vvv", "--verbose", "-q", "--quiet")


@dataclass
class Globals:
    config_path: str | None
    catalog: str | None
    verbosity: int

    def config(self, **overrides: tuple[Any, str]) -> config_mod.Config:
        flags = dict(overrides)
        if self.catalog:
            flags["catalog.path"] = (self.catalog, "flag --catalog")
        return config_mod.load(self.config_path, overrides=flags)

    @contextmanager
    def reader(self) -> Iterator[tuple[config_mod.Config, Catalog]]:
        """The effective configuration and a read-only connection to its catalog."""
        cfg = self.config()
        with Catalog(cfg.catalog.path, readonly=True) as catalog:
            yield cfg, catalog


def hoist_globals(args: list[str]) -> list[str]:
    """Move global options given after the command name in front of it."""
    command = 0
    while command < len(args) and args[command].startswith("-"):
        command += 2 if args[command] in _GLOBAL_VALUED else 1
    if command >= len(args):
        return args
    moved: list[str] = []
    rest: list[str] = []
    i = command + 1
    while i < len(args):
        arg = args[i]
        if arg == "--":
            rest += args[i:]
            break
        if arg in _GLOBAL_VALUED and i + 1 < len(args):
            moved += args[i:i + 2]
            i += 2
            continue
        (moved if arg in _GLOBAL_FLAGS or arg.split("=", 1)[0] in _GLOBAL_VALUED else rest).append(arg)
        i += 1
    return [*args[:command], *moved, args[command], *rest]


class Group(click.Group):
    """Turns OrganizerError (and SQLite's own failures) into a one-line message and exit code 1,
    with no traceback; takes global options after the command name too."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        return super().parse_args(ctx, hoist_globals(list(args)))

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except OrganizerError as exc:
            say(f"organizer: error: {exc}", err=True)
            ctx.exit(EXIT_USER_ERROR)
        except sqlite3.DatabaseError as exc:
            say(f"organizer: error: the catalog: {exc}", err=True)
            ctx.exit(EXIT_USER_ERROR)
        except KeyboardInterrupt:
            click.echo("organizer: interrupted; every committed batch is kept", err=True)
            ctx.exit(130)


def say(line: str, err: bool = False) -> None:
    """Print one line of text: a file name's control characters are escaped, never sent raw."""
    click.echo(printable(line), err=err)


class _OneLine(logging.Formatter):
    """Log messages with their control characters escaped: a file named 'a.jpg\\nERROR: ...'
    cannot forge a line of the journal."""

    def formatMessage(self, record: logging.LogRecord) -> str:
        record.message = printable(record.message)
        return super().formatMessage(record)


def setup_logging(verbosity: int, default: int = logging.WARNING) -> None:
    level = {-1: logging.ERROR, 0: default, 1: min(default, logging.INFO)}.get(verbosity, logging.DEBUG)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_OneLine("%(levelname)s: %(message)s"))
    logging.basicConfig(level=level, handlers=[handler], force=True)
    for noisy in ("apscheduler", "watchdog"):
        logging.getLogger(noisy).setLevel(max(level, logging.WARNING))


@click.group(cls=Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="organizer")
@click.option("--config", "config_path", type=click.Path(dir_okay=False), envvar="ORGANIZER_CONFIG",
              help="Config file (default: $ORGANIZER_CONFIG, else the user config file).")
@click.option("--catalog", type=click.Path(dir_okay=False), help="The SQLite catalog file.")
@click.option("-v", "--verbose", count=True, help="More log output (-vv for debug).")
@click.option("-q", "--quiet", is_flag=True, help="Only errors.")
@click.pass_context
def cli(ctx: click.Context, config_path: str | None, catalog: str | None, verbose: int, quiet: bool) -> None:
    """Sort a photo library into events, places, duplicates and similar shots, continuously.

    Global options may also follow the command name."""
    verbosity = -1 if quiet else verbose
    setup_logging(verbosity)
    ctx.obj = Globals(config_path, catalog, verbosity)


json_option = click.option("--json", "as_json", is_flag=True, help="One JSON document on stdout.")
roots_argument = click.argument("roots", nargs=-1, type=click.Path(file_okay=False))
output_option = click.option("--output", type=click.Path(file_okay=False),
                             help="The album folder (default: output.path).")


def print_json(data: Any) -> None:
    click.echo(json.dumps(data, indent=2, sort_keys=True, default=str))


def roots_override(roots: tuple[str, ...]) -> dict[str, tuple[Any, str]]:
    return {"scan.roots": (list(roots), "command line")} if roots else {}


def output_override(output: str | None) -> dict[str, tuple[Any, str]]:
    return {"output.path": (output, "flag --output")} if output else {}


def file_argument(catalog: Catalog, text: str) -> str:
    """The catalogued path a command-line FILE names: the path itself, a link from the album tree
    (followed to the photo it points to), or a path as organizer shows it (`caf\\xe9.jpg`)."""
    path = config_load.normal_path(text)
    seen = {path}
    while catalog.files.get(path) is None and os.path.islink(path):
        path = os.path.normpath(os.path.join(os.path.dirname(path), os.readlink(path)))
        if path in seen:
            break
        seen.add(path)
    if catalog.files.get(path) is None and "\\x" in text:
        escaped = config_load.normal_path(unshown(text))
        if catalog.files.get(escaped) is not None:
            return escaped
    return path


from organizer.cli import explore, library, people, query  # noqa: E402,F401  (registers the commands)


def main() -> None:
    cli(prog_name="organizer")
