"""The report's sections, from the groupings (`Setup`) and the library's dates: plots drawn by
explore.plots, data for the page's script, assembled by explore.page."""

from __future__ import annotations

import html
from collections.abc import Sequence
from typing import Any

import numpy as np

from organizer.cluster import methods
from organizer.explore import analysis, page, plots

KMEANS_ROWS = 1000
DENDROGRAM_ROWS = 2000


def _threshold(setup: Any, data: dict[str, Any]) -> tuple[str, str]:
    s = setup.config.similar
    e = analysis.edges(setup.x, s.neighbours)
    lo = float(np.floor(max(0.0, np.percentile(e.scores, 1) if len(e.scores) else 0.5) * 100) / 100)
    lo = min(lo, round(s.sim, 2))
    keep = e.scores >= lo
    data["edges"] = [[int(a), int(b), round(float(c), 4)] for a, b, c in
                     zip(e.rows[keep], e.cols[keep], e.scores[keep])]
    data["minPhotos"] = s.min_photos
    curve = analysis.threshold_curve(e, len(setup.x), np.round(np.arange(lo, 1.0001, 0.01), 2))
    content = (page.svg_image(plots.threshold_curve(curve, s.sim, len(setup.x)), "threshold curve")
               + f'<p class="note">Each photo\'s {s.neighbours} nearest neighbours are its candidate pairs '
               f"({int(keep.sum())} embedded in this page). Move the slider: the groups below are those the pairs "
               "at or above it link (chains, as icas makes them); the configured method may split long chains.</p>"
               f'<p>threshold <input type="range" id="slider" min="{lo:.2f}" max="1" step="0.01" '
               f'value="{s.sim:.2f}"> <b id="slider-value"></b>: <span id="slider-count"></span></p>'
               '<div>To keep it, set in the config file:<br><pre id="config-line"></pre></div>'
               '<div class="sheet" id="slider-groups"></div>')
    return "Threshold curve (icas)", content


def _kmeans(setup: Any) -> tuple[str, str]:
    s = setup.config.similar
    rows = setup.x[np.random.default_rng(0).permutation(len(setup.x))[:KMEANS_ROWS]]
    curve = methods.kmeans_curve(rows, s.k_max)
    knee = methods.choose_k(curve, "knee") if len(curve["k"]) > 2 else None
    best = {how: methods.choose_k(curve, how) for how in ("silhouette", "davies-bouldin")}
    note = (f'<p class="note">k-means over k = 1..{int(curve["k"][-1])} on {len(rows)} photos: the knee of the '
            f"distortion is at k = {knee}; the best silhouette at k = {best['silhouette']}, the best "
            f"Davies-Bouldin at k = {best['davies-bouldin']} (similar.k_choice picks one).</p>")
    return "k-means: the knee, silhouette and Davies-Bouldin over k", page.svg_image(plots.kmeans(curve, knee),
                                                                                    "k-means curves") + note


def _dendrogram(setup: Any) -> tuple[str, str]:
    s = setup.config.similar
    rows = setup.x[:DENDROGRAM_ROWS]
    content = page.svg_image(plots.dendrogram(analysis.linkage(rows), s.sim, len(rows)), "dendrogram")
    return "Dendrogram, cut at the similarity index (imagecluster)", content + (
        f'<p class="note">Average linkage of {len(rows)} photos on cosine distance; branches joined below the '
        f"dashed line (1 - sim) are one group.</p>")


def _map(setup: Any, data: dict[str, Any], key: str) -> str:
    coords, how = analysis.embedding(setup.x)
    group_of = np.full(len(setup.x), -1)
    for g, members in enumerate(setup.groups):
        group_of[members] = g
    image, spots = plots.scatter(coords, group_of.tolist(), how)
    data["maps"][key] = [[round(a, 4), round(b, 4), i, int(group_of[i])] for i, (a, b) in enumerate(spots)]
    return f'<div class="map" data-map="{key}">{page.svg_image(image, "2-D map of the vectors")}</div>'


def _sheet(setup: Any, data: dict[str, Any], key: str) -> str:
    data["sheets"].append({"target": key, "groups": [[g[0], g] for g in setup.groups]})
    grouped = sum(len(g) for g in setup.groups)
    return (f"<p>{html.escape(setup.label)}: {len(setup.groups)} groups, {grouped} of {len(setup.x)} photos "
            f'grouped; the outlined photo is each group\'s representative.</p><div class="sheet" id="{key}"></div>')


def _months(taken: Sequence[str | None], events: Sequence[str | None]) -> tuple[str, str]:
    labels, _ = analysis.per_month(list(taken) + list(events))
    by_photo = dict(zip(*analysis.per_month(taken)))
    by_event = dict(zip(*analysis.per_month(events)))
    if not labels:
        return "Photos and events per month", "<p>No dated photos.</p>"
    image = plots.months(labels, [by_photo.get(m, 0) for m in labels], [by_event.get(m, 0) for m in labels])
    return "Photos and events per month", page.svg_image(image, "photos and events per month") + (
        f'<p class="note">{sum(by_photo.values())} dated photos, {sum(by_event.values())} events '
        "(from the last `organizer cluster`).</p>")


def page_html(first: Any, second: Any | None, photos: list, thumbs: list[str], taken: Sequence[str | None],
              events: Sequence[str | None], library: int) -> str:
    data: dict[str, Any] = {"photos": photos, "thumbs": thumbs, "sheets": [], "maps": {}}
    sections = [_threshold(first, data), _kmeans(first), _dendrogram(first)]
    sections.append(("2-D map of the vectors (hover a point)", _map(first, data, "first")))
    sections.append(("Groups: representative and members (clustimage's unique)", _sheet(first, data, "sheet-first")))
    sections.append(_months(taken, events))
    if second is not None:
        agree = analysis.agreement(len(first.x), first.groups, second.groups)
        columns = "".join(f"<div><h3>{html.escape(s.label)}</h3>{_map(s, data, key)}{_sheet(s, data, 'sheet-' + key)}"
                          "</div>" for s, key in ((first, "a"), (second, "b")))
        sections.append(("Two configurations side by side", f"<p>Same {len(first.x)} photos; agreement (adjusted "
                                                             f"Rand index) {agree:.3f}.</p><div class=\"side\">"
                                                             f"{columns}</div>"))
    title = f"organizer explore: {len(first.x)} of {library} photos, {first.label}"
    return page.render(title, sections, data)

