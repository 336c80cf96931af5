"""`organizer people`: the persons found in the photos' faces, and naming them."""

from __future__ import annotations

import click

from organizer import persons
from organizer.catalog import Catalog, shown
from organizer.cli import Globals, cli, file_argument, json_option, print_json, say
from organizer.cluster.originals import original_key
from organizer.errors import OrganizerError


@cli.group(invoke_without_command=True)
@json_option
@click.pass_context
def people(ctx: click.Context, as_json: bool) -> None:
    """The persons: id, photos, a sample file, name (a user's, else the one the photos' XMP face
    regions give, marked "(XMP)"; see docs/faces.md)."""
    if ctx.invoked_subcommand is not None:
        return
    g: Globals = ctx.obj
    with g.reader() as (cfg, catalog):
        names, labels = catalog.groups.person_names(), catalog.groups.person_labels()
        rows = sorted(catalog.groups.rows("person"), key=lambda r: (-len(r.members), r.key))
        files = catalog.files.present({m for r in rows for m in r.members})
        data = []
        for r in rows:
            paths = sorted((f for m in r.sorted_members() for f in files.get(m, [])),
                           key=lambda f: original_key(f.path, f.mtime_ns))
            data.append({"id": r.key, "photos": len(r.members), "sample": shown(paths[0].path) if paths else None,
                         "name": names.get(r.key, labels.get(r.key)),
                         "named_by": "user" if r.key in names else "xmp" if r.key in labels else None})
    if as_json:
        print_json(data)
        return
    for p in data:
        name = f"{p['name']} (XMP)" if p["named_by"] == "xmp" else p["name"] or "-"
        say(f"{p['id']}  {p['photos']:>5} photos  {name}  {p['sample'] or '-'}")
    reason = persons.off_reason(cfg)
    if reason:
        say(reason if not data else f"(These persons were found before.) {reason}")


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


@people.command()
@click.argument("person")
@click.argument("others", nargs=-1, required=True)
@click.pass_obj
def merge(g: Globals, person: str, others: tuple[str, ...]) -> None:
    """PERSON and OTHERS become one person, PERSON (with its name, else the first named one's)."""
    cfg = g.config()
    with Catalog(cfg.catalog.path) as catalog:
        name = persons.merge(catalog, cfg, [person, *others])
    say(f"{', '.join(others)} merged into {person}" + (f" ({name})" if name else ""))


@people.command()
@click.argument("person")
@click.argument("files", nargs=-1, required=True, type=click.Path())
@click.option("--name", help="Name the new person.")
@click.pass_obj
def split(g: Globals, person: str, files: tuple[str, ...], name: str | None) -> None:
    """The faces of PERSON in FILES (photos, or their links in People/) become a new person."""
    cfg = g.config()
    with Catalog(cfg.catalog.path) as catalog:
        photos = {}
        for text in files:
            known = catalog.files.get(file_argument(catalog, text))
            if known is None or known.photo_id is None:
                raise OrganizerError(f"{text}: not a photo in the catalog")
            photos[known.photo_id] = text
        new = persons.split(catalog, cfg, person, photos, name.strip() if name else None)
    say(f"{new}: {len(photos)} photos split from {person}" + (f" ({name.strip()})" if name else ""))


@people.command()
@click.argument("person", required=False)
@click.option("--undo", is_flag=True, help="PERSON, forgotten, is a person again.")
@click.option("--list", "listing", is_flag=True, help="The forgotten persons.")
@click.pass_obj
def forget(g: Globals, person: str | None, undo: bool, listing: bool) -> None:
    """PERSON is no person: no album, not listed, and its faces make no person again."""
    cfg = g.config()
    with Catalog(cfg.catalog.path) as catalog:
        if listing:
            names = catalog.groups.person_names()
            for key, count in catalog.groups.forgotten_persons().items():
                say(f"{key}  {count:>5} faces  {names.get(key) or '-'}")
            return
        if person is None:
            raise click.UsageError("PERSON is needed (or --list)")
        (persons.unforget if undo else persons.forget)(catalog, cfg, person)
    say(f"{person}: {'a person again' if undo else 'forgotten'}")
