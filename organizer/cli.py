"""The command line: parse, call one library function, print text or JSON. Only this module prints."""

from __future__ import annotations

import json
import logging
import os
import signal
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import click

from organizer import __version__, config as config_mod
from organizer.catalog import Catalog
from organizer.errors import OrganizerError

EXIT_USER_ERROR = 1


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


class Group(click.Group):
    """Turns OrganizerError into a one-line message and exit code 1, with no traceback."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except OrganizerError as exc:
            click.echo(f"organizer: error: {exc}", err=True)
            ctx.exit(EXIT_USER_ERROR)
        except KeyboardInterrupt:
            click.echo("organizer: interrupted; every committed batch is kept", err=True)
            ctx.exit(130)


def _setup_logging(verbosity: int) -> None:
    level = {-1: logging.ERROR, 0: logging.WARNING, 1: logging.INFO}.get(verbosity, logging.DEBUG)
    logging.basicConfig(level=level, format="%(levelname)s: %(message)s", stream=sys.stderr, force=True)
    logging.getLogger("apscheduler").setLevel(max(level, logging.WARNING))


@click.group(cls=Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="organizer")
@click.option("--config", "config_path", type=click.Path(dir_okay=False), envvar="ORGANIZER_CONFIG",
              help="Config file (default: $ORGANIZER_CONFIG, else the user config file).")
@click.option("--catalog", type=click.Path(dir_okay=False), help="The SQLite catalog file.")
@click.option("-v", "--verbose", count=True, help="More log output (-vv for debug).")
@click.option("-q", "--quiet", is_flag=True, help="Only errors.")
@click.pass_context
def cli(ctx: click.Context, config_path: str | None, catalog: str | None, verbose: int, quiet: bool) -> None:
    """Sort a photo library into events, places, duplicates and similar shots, continuously."""
    verbosity = -1 if quiet else verbose
    _setup_logging(verbosity)
    ctx.obj = Globals(config_path, catalog, verbosity)


json_option = click.option("--json", "as_json", is_flag=True, help="One JSON document on stdout.")


def _print_json(data: Any) -> None:
    click.echo(json.dumps(data, indent=2, sort_keys=True, default=str))


def _progress_printer(verbosity: int) -> Callable[[int, int, str], None] | None:
    """A progress bar on a terminal, a log line every few seconds otherwise."""
    if verbosity < 0:
        return None
    started = time.monotonic()
    last = [0.0]
    tty = sys.stderr.isatty()

    def show(done: int, total: int, path: str) -> None:
        now = time.monotonic()
        if now - last[0] < (0.2 if tty else 5.0) and done != total:
            return
        last[0] = now
        rate = done / max(now - started, 1e-6)
        eta = (total - done) / rate if rate > 0 else 0
        eta_text = time.strftime("%H:%M:%S", time.gmtime(eta))
        if tty:
            width = 30
            filled = int(width * done / max(total, 1))
            bar = "#" * filled + "-" * (width - filled)
            end = "\n" if done == total else ""
            click.echo(f"\r[{bar}] {done}/{total} {rate:.1f} files/s ETA {eta_text}", err=True, nl=False)
            if end:
                click.echo("", err=True)
        else:
            click.echo(f"progress: {done}/{total} files, {rate:.1f} files/s, ETA {eta_text}", err=True)

    return show


def _roots_override(roots: tuple[str, ...]) -> dict[str, tuple[Any, str]]:
    return {"scan.roots": (list(roots), "command line")} if roots else {}


def _sigterm_as_interrupt() -> None:
    def handler(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, handler)


# --- commands ------------------------------------------------------------------------------------


@cli.command()
@click.argument("roots", nargs=-1, type=click.Path(file_okay=False))
@click.option("--retry-errors", is_flag=True, help="Try again files that failed, even if unchanged.")
@json_option
@click.pass_obj
def scan(g: Globals, roots: tuple[str, ...], retry_errors: bool, as_json: bool) -> None:
    """Index new and changed photos under ROOTS (default: scan.roots)."""
    from organizer import index as index_mod  # the heavy libraries load only for the commands that need them
    cfg = g.config(**_roots_override(roots))
    _sigterm_as_interrupt()
    with Catalog(cfg.catalog.path) as catalog:
        report = index_mod.index(
            catalog, cfg, progress=None if as_json else _progress_printer(g.verbosity), retry_errors=retry_errors
        )
    if as_json:
        _print_json(report.as_dict())
        return
    click.echo(
        f"{report.seen} files seen: {report.indexed} indexed, {report.known} already known, "
        f"{report.moved} moved, {report.unchanged} unchanged, {report.ignored} not photos, "
        f"{report.errors} errors, {report.missing} newly missing ({report.seconds:.1f} s)"
    )
    for root, why in report.offline.items():
        click.echo(f"offline: {root} ({why}); left as it was")


@cli.command()
@json_option
@click.pass_obj
def status(g: Globals, as_json: bool) -> None:
    """Counts of files, photos, errors and groups, and the last runs."""
    with g.reader() as (_, catalog):
        data = catalog.status()
        groups = catalog.group_counts()
        data.update(events=groups["event"], places=groups["place"], duplicate_groups=groups["duplicate"],
                    similar_groups=groups["similar"])
        data["catalog"] = str(catalog.path)
        data["last_runs"] = catalog.last_runs()
    if as_json:
        _print_json(data)
        return
    for key, value in data.items():
        if key == "last_runs":
            for kind, run in value.items():
                click.echo(f"last {kind}: {run['finished'] or 'unfinished (started ' + run['started'] + ')'}")
        else:
            click.echo(f"{key}: {value}")


@cli.command()
@json_option
@click.pass_obj
def cluster(g: Globals, as_json: bool) -> None:
    """Regroup the whole catalog into events, places and duplicate groups."""
    from organizer import regroup
    cfg = g.config()
    with Catalog(cfg.catalog.path) as catalog:
        report = regroup.regroup(catalog, cfg)
    if as_json:
        _print_json(report.as_dict())
        return
    click.echo(f"{report.photos} photos")
    for kind, count in report.groups.items():
        c = report.changes[kind]
        click.echo(f"{kind}: {count} groups ({c['kept']} kept, {c['changed']} changed, {c['added']} new, "
                   f"{c['dropped']} gone)")


def _output_override(output: str | None) -> dict[str, tuple[Any, str]]:
    return {"output.path": (os.path.abspath(os.path.expanduser(output)), "flag --output")} if output else {}


def _echo_publish(report: Any) -> None:  # a publish.PublishReport
    kinds = ", ".join(f"{n} {k}" for k, n in sorted(report.albums.items()))
    click.echo(f"published {kinds} albums in {report.output}: {report.written} written, "
               f"{report.unchanged} unchanged, {report.removed} removed")
    for rel in report.kept_foreign:
        click.echo(f"kept files not made by organizer in {rel}")
    click.echo(f"map: {report.map} ({report.map_photos} photos)")


@cli.command()
@click.option("--output", type=click.Path(file_okay=False), help="The album folder (default: output.path).")
@json_option
@click.pass_obj
def publish(g: Globals, output: str | None, as_json: bool) -> None:
    """Mirror the catalog's groups as folders of symlinks, and write map.html."""
    from organizer import publish as publish_mod
    cfg = g.config(**_output_override(output))
    with Catalog(cfg.catalog.path) as catalog:
        report = publish_mod.publish(catalog, cfg)
    if as_json:
        _print_json(report.as_dict())
    else:
        _echo_publish(report)


@cli.command()
@click.argument("roots", nargs=-1, type=click.Path(file_okay=False))
@click.option("--output", type=click.Path(file_okay=False), help="The album folder (default: output.path).")
@json_option
@click.pass_obj
def organize(g: Globals, roots: tuple[str, ...], output: str | None, as_json: bool) -> None:
    """Scan ROOTS, regroup and publish, once."""
    from organizer import index as index_mod, publish as publish_mod, regroup
    cfg = g.config(**_roots_override(roots), **_output_override(output))
    if not cfg.output.path:
        raise OrganizerError("no output folder: give --output or set output.path")
    _sigterm_as_interrupt()
    with Catalog(cfg.catalog.path) as catalog:
        with publish_mod.AlbumTree(cfg.output.path):  # refuse an unmanaged folder before any work
            pass
        scanned = index_mod.index(catalog, cfg, progress=None if as_json else _progress_printer(g.verbosity))
        clustered = regroup.regroup(catalog, cfg)
        published = publish_mod.publish(catalog, cfg)
    if as_json:
        _print_json({"scan": scanned.as_dict(), "cluster": clustered.as_dict(), "publish": published.as_dict()})
        return
    click.echo(f"{scanned.seen} files: {scanned.indexed} indexed, {scanned.errors} errors; "
               f"{clustered.groups.get('event', 0)} events, {clustered.groups.get('place', 0)} places, "
               f"{clustered.groups.get('duplicate', 0)} duplicate groups")
    _echo_publish(published)


@cli.command()
@click.argument("roots", nargs=-1, type=click.Path(file_okay=False))
@click.option("--output", type=click.Path(file_okay=False), help="The album folder (default: output.path).")
@click.pass_obj
def run(g: Globals, roots: tuple[str, ...], output: str | None) -> None:
    """The daemon: watch ROOTS, index, recluster and publish on schedule, until SIGTERM."""
    from organizer.daemon.service import Service

    cfg = g.config(**_roots_override(roots), **_output_override(output))
    service = Service(cfg)
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: service.request_stop())
    stats = service.run()
    click.echo(f"stopped: {stats.batches} batches, {stats.indexed} photos indexed, {stats.reclusters} reclusters",
               err=True)


@cli.command()
@json_option
@click.pass_obj
def dupes(g: Globals, as_json: bool) -> None:
    """Duplicate groups and their files, the largest original first."""
    with g.reader() as (_, catalog):
        groups = catalog.duplicate_listing()
    if as_json:
        _print_json(groups)
        return
    for group in groups:
        click.echo(f"group {group['group']} ({len(group['files'])} files)")
        for f in group["files"]:
            click.echo(f"  {f['path']}  {f['width']}x{f['height']}  {f['size']} bytes")
    click.echo(f"{len(groups)} duplicate groups")


@cli.command()
@click.argument("file", type=click.Path())
@click.option("-k", "count", type=click.IntRange(1, 1000), default=10, show_default=True,
              help="How many photos.")
@json_option
@click.pass_obj
def similar(g: Globals, file: str, count: int, as_json: bool) -> None:
    """The photos most similar to FILE (CNN cosine), best first."""
    from organizer import regroup
    with g.reader() as (cfg, catalog):
        rows = regroup.similar_to(catalog, cfg, os.path.abspath(os.path.expanduser(file)), count)
    if as_json:
        _print_json(rows)
        return
    for row in rows:
        click.echo(f"{row['cosine']:.3f}  {row['path']}")


@cli.command()
@click.argument("file", type=click.Path())
@json_option
@click.pass_obj
def explain(g: Globals, file: str, as_json: bool) -> None:
    """All that the catalog knows of FILE."""
    with g.reader() as (_, catalog):
        data = catalog.explain(os.path.abspath(os.path.expanduser(file)))
    if as_json:
        _print_json(data)
        return
    for key, value in data.items():
        if isinstance(value, list):
            value = ", ".join(map(str, value)) if value else "-"
        click.echo(f"{key}: {'-' if value is None else value}")


@cli.command()
@json_option
@click.pass_obj
def errors(g: Globals, as_json: bool) -> None:
    """Files that could not be read or decoded, with the reason."""
    with g.reader() as (_, catalog):
        rows = catalog.errors()
    if as_json:
        _print_json(rows)
        return
    for row in rows:
        click.echo(f"{row['path']}: [{row['stage']}] {row['message']}")
    click.echo(f"{len(rows)} errors")


@cli.command(name="config")
@json_option
@click.pass_obj
def show_config(g: Globals, as_json: bool) -> None:
    """The effective configuration, each value with where it came from."""
    cfg = g.config()
    rows = [{"key": k, "value": v, "source": s} for k, v, s in cfg.effective()]
    if as_json:
        _print_json({"file": cfg.file, "values": rows})
        return
    click.echo(f"# config file: {cfg.file or 'none'}")
    for row in rows:
        value = row["value"]
        shown = json.dumps(list(value) if isinstance(value, tuple) else value)
        click.echo(f"{row['key']} = {shown}    # {row['source']}")


def main() -> None:
    cli(prog_name="organizer")
