"""`organizer people`: the persons found in the photos' faces, and naming them."""

from __future__ import annotations

import click

from organizer.catalog import Catalog, shown
from organizer.cli import Globals, cli, json_option, print_json, say
from organizer.cluster.originals import original_key
from organizer.errors import OrganizerError


@cli.group(invoke_without_command=True)
@json_option
@click.pass_context
def people(ctx: click.Context, as_json: bool) -> None:
    """The persons: id, photos, a sample file, name (see docs/faces.md)."""
    if ctx.invoked_subcommand is not None:
        return
    g: Globals = ctx.obj
    with g.reader() as (_, catalog):
        names = catalog.groups.person_names()
        rows = sorted(catalog.groups.rows("person"), key=lambda r: (-len(r.members), r.key))
        files = catalog.files.present({m for r in rows for m in r.members})
        data = []
        for r in rows:
            paths = sorted((f for m in r.sorted_members() for f in files.get(m, [])),
                           key=lambda f: original_key(f.path, f.mtime_ns))
            data.append({"id": r.key, "photos": len(r.members), "sample": shown(paths[0].path) if paths else None,
                         "name": names.get(r.key)})
    if as_json:
        print_json(data)
        return
    for p in data:
        say(f"{p['id']}  {p['photos']:>5} photos  {p['name'] or '-'}  {p['sample'] or '-'}")


@people.command("name")
@click.argument("person")
@click.argument("name")
@click.pass_obj
def name_(g: Globals, person: str, name: str) -> None:
    """Name PERSON (an id from `organizer people`) NAME; its album becomes People/NAME at the next publish."""
    cfg = g.config()
    with Catalog(cfg.catalog.path) as catalog:
        if person not in catalog.groups.members("person"):
            raise OrganizerError(f"no person {person!r} (see `organizer people`)")
        catalog.groups.name_person(person, name.strip())
    say(f"{person}: {name.strip()}")
