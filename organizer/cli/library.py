"""The commands that change the catalog or the albums: scan, cluster, publish, organize, run."""

from __future__ import annotations

import logging
import signal
from typing import Any

import click

from organizer.catalog import Catalog, shown
from organizer.cli import (Globals, cli, json_option, output_option, output_override, print_json, roots_argument,
                           roots_override, say, setup_logging)
from organizer.cli.progress import progress


def _sigterm_as_interrupt() -> None:
    def handler(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, handler)


def _scan_summary(report: Any) -> str:  # an index.Report
    parts = [f"{report.indexed} indexed", f"{report.known} copies of known photos", f"{report.unchanged} unchanged",
             f"{report.moved} moved"]
    parts += [f"{n} {what}" for n, what in ((report.restat, "remounted"), (report.errors, "errors"),
                                            (report.unsupported, "unsupported"), (report.ignored, "not photos"),
                                            (report.skipped, "skipped")) if n]
    text = f"{report.seen} files seen: {', '.join(parts)}"
    if report.missing:
        text += f"; {report.missing} newly missing"
    text += f" ({report.seconds:.1f} s)"
    if report.still_failing:
        text += f"\n{report.still_failing} files still fail to read (unchanged since): `organizer errors` lists them"
    if report.kept:
        text += (f"\n{report.kept} files in folders that could not be read, or on a disk that is not there, "
                 f"are kept as they were")
    for root, why in report.offline.items():
        text += f"\noffline: {shown(root)} ({why}); left as it was"
    return text


@cli.command()
@roots_argument
@click.option("--retry-errors", is_flag=True, help="Try again files that failed, even if unchanged.")
@json_option
@click.pass_obj
def scan(g: Globals, roots: tuple[str, ...], retry_errors: bool, as_json: bool) -> None:
    """Index new and changed photos under ROOTS (default: scan.roots)."""
    from organizer import index, workflow  # the heavy libraries load only for the commands that need them
    cfg = g.config(**roots_override(roots))
    workflow.preflight(cfg, output=False)
    _sigterm_as_interrupt()
    with Catalog(cfg.catalog.path) as catalog, progress(g.verbosity, not as_json) as show:
        report = index.index(catalog, cfg, progress=show, retry_errors=retry_errors)
    if as_json:
        print_json(report.as_dict())
    else:
        say(_scan_summary(report))


@cli.command()
@json_option
@click.pass_obj
def cluster(g: Globals, as_json: bool) -> None:
    """Regroup the whole catalog into events, places, duplicates and similar groups."""
    from organizer import regroup
    cfg = g.config()
    with Catalog(cfg.catalog.path) as catalog:
        report = regroup.regroup(catalog, cfg)
    if as_json:
        print_json(report.as_dict())
        return
    say(f"{report.photos} photos")
    for kind, count in report.groups.items():
        c = report.changes[kind]
        say(f"{kind}: {count} groups ({c['kept']} kept, {c['changed']} changed, {c['added']} new, "
                   f"{c['dropped']} gone)")


def _echo_publish(report: Any) -> None:  # a publish.PublishReport
    kinds = ", ".join(f"{n} {k}" for k, n in sorted(report.albums.items()))
    say(f"published {kinds} albums in {shown(report.output)}: {report.written} written, "
               f"{report.unchanged} unchanged, {report.removed} removed, {report.renamed} renamed")
    for rel in report.kept_foreign:
        say(f"kept files not made by organizer in {rel}")
    for rel in report.unsafe:
        say(f"not written (a symlink or a file where its folder should be): {rel}")
    if report.map:
        say(f"map: {shown(report.map)} ({report.map_photos} photos)")


@cli.command()
@output_option
@json_option
@click.pass_obj
def publish(g: Globals, output: str | None, as_json: bool) -> None:
    """Mirror the catalog's groups as folders of symlinks, and write map.html."""
    from organizer import publish as publish_mod
    cfg = g.config(**output_override(output))
    with Catalog(cfg.catalog.path) as catalog:
        report = publish_mod.publish(catalog, cfg)
    if as_json:
        print_json(report.as_dict())
    else:
        _echo_publish(report)


@cli.command()
@roots_argument
@output_option
@json_option
@click.pass_obj
def organize(g: Globals, roots: tuple[str, ...], output: str | None, as_json: bool) -> None:
    """Scan ROOTS, regroup and publish, once."""
    from organizer import workflow
    cfg = g.config(**roots_override(roots), **output_override(output))
    workflow.preflight(cfg, output=True)
    _sigterm_as_interrupt()
    with Catalog(cfg.catalog.path) as catalog, progress(g.verbosity, not as_json) as show:
        done = workflow.organize(catalog, cfg, progress=show)
    if as_json:
        print_json(done.as_dict())
        return
    say(_scan_summary(done.scan))
    groups = done.cluster.groups
    say(f"{groups.get('event', 0)} events, {groups.get('place', 0)} places, "
               f"{groups.get('duplicate', 0)} duplicate groups, {groups.get('similar', 0)} similar groups")
    _echo_publish(done.publish)


@cli.command()
@roots_argument
@output_option
@click.pass_obj
def run(g: Globals, roots: tuple[str, ...], output: str | None) -> None:
    """The daemon: watch ROOTS, index, recluster and publish on schedule, until SIGTERM."""
    from organizer.daemon.service import Service

    setup_logging(g.verbosity, default=logging.INFO)  # the journal says what the daemon does
    cfg = g.config(**roots_override(roots), **output_override(output))
    service = Service(cfg)
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: service.request_stop())
    stats = service.run()
    say(f"stopped: {stats.batches} batches, {stats.indexed} photos indexed, {stats.reclusters} reclusters",
               err=True)
