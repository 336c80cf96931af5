"""The commands for a first look: `demo` (a sample library) and `explore` (the report)."""

from __future__ import annotations

from typing import Any

import click

from organizer.catalog import Catalog, shown
from organizer.cli import Globals, cli, json_option, print_json, say
from organizer.errors import ConfigError


@cli.command()
@click.argument("folder", type=click.Path(file_okay=False))
@json_option
@click.pass_obj
def demo(g: Globals, folder: str, as_json: bool) -> None:
    """Make a small sample library in FOLDER (new or empty): trips, bursts, duplicates."""
    from organizer import demo as demo_mod
    report = demo_mod.make(folder)
    if as_json:
        print_json(report.as_dict())
        return
    say(f"{report.photos} photos in {shown(report.folder)}: {report.trips} trips, {report.bursts} bursts, "
               f"{report.duplicates} duplicates, {report.undated} undated")
    say(f"next: organizer organize {shown(report.folder)} --output ALBUMS")


def compare_overrides(text: str) -> dict[str, tuple[Any, str]]:
    """`--compare "method=chain,sim=0.9,features=hog+cnn"`: [similar] keys for the second setup."""
    out: dict[str, tuple[Any, str]] = {}
    for part in filter(None, (p.strip() for p in text.replace(" ", ",").split(","))):
        key, sep, value = part.partition("=")
        if not sep or not value:
            raise ConfigError(f"--compare: expected key=value pairs of [similar] keys, got {part!r}")
        if key.strip() in ("features", "rescore"):
            value = "[" + ", ".join(f'"{v}"' for v in value.split("+") if v) + "]"
        out[f"similar.{key.strip()}"] = (value.strip(), "flag --compare")
    return out


def _similar_flags(features: str | None, method: str | None) -> dict[str, tuple[Any, str]]:
    flags: dict[str, tuple[Any, str]] = {}
    if features:
        flags.update({k: (v, "flag --features") for k, (v, _) in compare_overrides(f"features={features}").items()})
    if method:
        flags["similar.method"] = (method, "flag --method")
    return flags


@cli.command()
@click.option("--features", help="similar.features for this report, joined by + (e.g. hog+cnn).")
@click.option("--method", help="similar.method for this report.")
@click.option("--output", default="explore.html", show_default=True, type=click.Path(dir_okay=False),
              help="The HTML report to write.")
@click.option("--sample", type=click.IntRange(0), default=1000, show_default=True,
              help="Photos in the report, chosen at random (0: all).")
@click.option("--compare", help="A second setup side by side: [similar] keys as key=value, comma-separated "
                                "(e.g. \"method=chain,sim=0.9\").")
@json_option
@click.pass_obj
def explore(g: Globals, features: str | None, method: str | None, output: str, sample: int, compare: str | None,
            as_json: bool) -> None:
    """One offline HTML report of how similar groups come out: curves, plots and contact sheets."""
    from organizer import explore as explore_mod
    flags = _similar_flags(features, method)
    cfg = g.config(**flags)
    second = g.config(**{**flags, **compare_overrides(compare)}) if compare else None
    with Catalog(cfg.catalog.path, readonly=True) as catalog:
        report = explore_mod.explore(catalog, cfg, output, sample, second)
    if as_json:
        print_json(report.as_dict())
        return
    text = f"{shown(report.output)}: {report.photos} of {report.library} photos, {report.groups} groups"
    if report.compare_groups is not None:
        text += f"; compared: {report.compare_groups} groups, adjusted Rand index {report.agreement}"
    say(text + f" ({report.seconds} s)")
