"""The commands that only read: status, explain, dupes, similar, errors, config."""

from __future__ import annotations

import json

import click

from organizer import config_load
from organizer.catalog import shown
from organizer.cli import Globals, cli, file_argument, json_option, print_json, reports, say


@cli.command()
@json_option
@click.pass_obj
def status(g: Globals, as_json: bool) -> None:
    """Counts of files, photos, errors and groups, and the last runs."""
    with g.reader() as (_, catalog):
        data = reports.status(catalog)
    if as_json:
        print_json(data)
        return
    for key, value in data.items():
        if key == "last_runs":
            for kind, run in value.items():
                say(f"last {kind}: {run['finished'] or 'unfinished (started ' + run['started'] + ')'}")
        elif key == "unsupported_by_type":
            for fmt, n in value.items():
                say(f"  unsupported {fmt}: {n}")
        else:
            say(f"{key}: {value}")


# How `explain` labels its fields in text (docs/cli.md says what each one means).
_LABELS = {
    "path": "path", "state": "state", "size": "size (bytes)", "format": "format", "digest": "content digest",
    "taken_at": "taken at (local time)", "taken_at_utc": "taken at (UTC)", "utc_offset": "UTC offset (minutes)",
    "taken_at_source": "date from", "utc_offset_source": "offset from", "lat": "latitude", "lon": "longitude",
    "alt": "altitude (m)", "camera": "camera",
    "kind": "kind", "duration": "duration (s)", "rating": "rating", "title": "title", "description": "description",
    "keywords": "keywords", "width": "width", "height": "height", "orientation": "orientation",
    "phash": "pHash", "dhash": "dHash", "thumbnail": "thumbnail", "vector_model": "vector model",
    "same_content": "same content at", "companions": "companions", "sidecars": "sidecars", "errors": "errors", "groups": "groups", "albums": "albums",
    "first_seen": "first seen", "last_seen": "last seen", "missing_since": "missing since",
}


def _text(key: str, value: object) -> list[str]:
    if value is None or value == []:
        return ["-"]
    if key == "errors":
        return [f"[{e['stage']}] {e['message']} ({e['at']})" for e in value]  # type: ignore[union-attr]
    if key == "groups":
        return [f"{g['kind']} {g['key']}: {g['size']} photos"
                + (f", {g['start']} to {g['end']}" if g['start'] else "") for g in value]  # type: ignore[union-attr]
    if isinstance(value, list):
        return [str(v) for v in value]
    return [str(value)]


@cli.command()
@click.argument("file", type=click.Path())
@json_option
@click.pass_obj
def explain(g: Globals, file: str, as_json: bool) -> None:
    """All that the catalog knows of FILE (a photo, or a link in the album tree)."""
    with g.reader() as (_, catalog):
        data = reports.explain(catalog, file_argument(catalog, file))
    if as_json:
        print_json(data)
        return
    width = max(len(label) for label in _LABELS.values())
    for key, value in data.items():
        lines = _text(key, value)
        say(f"{_LABELS.get(key, key):<{width}}  {lines[0]}")
        for more in lines[1:]:
            say(f"{'':<{width}}  {more}")


@cli.command()
@json_option
@click.pass_obj
def dupes(g: Globals, as_json: bool) -> None:
    """Duplicate groups and every copy, the one to keep first, with where each copy lives."""
    with g.reader() as (_, catalog):
        groups = reports.duplicates(catalog)
    if as_json:
        print_json(groups)
        return
    for group in groups:
        say(f"group {group['group']} ({len(group['files'])} copies)")
        for f in group["files"]:
            mark = "keep" if f["keep"] else "    "
            kind = " RAW" if f["raw"] else ""
            how = f"  ({f['differs']})" if f["differs"] else ""
            say(f"  {mark}  {f['path']}  {f['width']}x{f['height']}  {f['size']} bytes{kind}{how}")
    say(f"{len(groups)} duplicate groups")


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
        rows = regroup.similar_to(catalog, cfg, file_argument(catalog, file), count)
    rows = [{**row, "path": shown(row["path"]) if row["path"] else None} for row in rows]
    if as_json:
        print_json(rows)
        return
    for row in rows:
        say(f"{row['cosine']:.3f}  {row['path']}")


@cli.command()
@json_option
@click.pass_obj
def errors(g: Globals, as_json: bool) -> None:
    """Files that could not be read or decoded, with the reason."""
    with g.reader() as (_, catalog):
        rows = reports.errors(catalog)
    if as_json:
        print_json(rows)
        return
    for row in rows:
        say(f"{row['path']}: [{row['stage']}] {row['message']}")
    say(f"{len(rows)} errors")


@cli.command(name="config")
@json_option
@click.option("--example", is_flag=True, help="Print the commented default configuration (every key, its "
              "default and what it does), to start a config file from.")
@click.pass_obj
def show_config(g: Globals, as_json: bool, example: bool) -> None:
    """The effective configuration, each value with where it came from."""
    if example:
        click.echo(config_load.example(), nl=False)
        return
    cfg = g.config()
    rows = [{"key": k, "value": v, "source": s} for k, v, s in cfg.effective()]
    if as_json:
        print_json({"file": cfg.file, "values": rows})
        return
    say(f"# config file: {cfg.file or 'none'}")
    for row in rows:
        value = row["value"]
        shown_value = json.dumps(list(value) if isinstance(value, tuple) else value)
        say(f"{row['key']} = {shown_value}    # {row['source']}")
