"""`organizer explore`: one offline HTML report of how the library would be grouped, with the
older tools' pictures: the threshold curve with a slider (icas), the k-means knee and scores
(Image_Grouping, clustimage), the dendrogram cut at the similarity index (imagecluster), a 2-D
map of the vectors, each group's representative and members (clustimage), the library by month,
and two configurations side by side. Reads the catalog; writes only the report."""

from __future__ import annotations

import base64
import io
import logging
import os
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from organizer import regroup
from organizer.catalog import Catalog, shown
from organizer.cluster import methods, rescore
from organizer.cluster.library import Library
from organizer.config import Config
from organizer.errors import OrganizerError
from organizer.explore import analysis
from organizer.extract import vectors
from organizer.extract.visual import combine

log = logging.getLogger(__name__)

THUMB = 112  # pixels, the long side of a thumbnail in the page


@dataclass(frozen=True)
class Setup:
    """One configuration's grouping of the report's photos."""

    label: str
    config: Config
    x: np.ndarray
    groups: list[list[int]]  # rows, the representative first


@dataclass
class ExploreReport:
    output: str
    library: int  # photos in the catalog
    photos: int  # in the report
    groups: int
    compare_groups: int | None = None
    agreement: float | None = None
    seconds: float = 0.0

    def as_dict(self) -> dict[str, object]:
        return dict(self.__dict__)


def label(config: Config) -> str:
    s = config.similar
    return f"features = {list(s.features)}, method = {s.method!r}, sim = {s.sim:g}"


def _sample(lib: Library, size: int, seed: int) -> np.ndarray:
    candidates = lib.ids[~lib.featureless()]
    if size and len(candidates) > size:
        candidates = np.sort(np.random.default_rng(seed).choice(candidates, size, replace=False))
    return candidates


def _grouped(lib: Library, config: Config, ids: np.ndarray) -> Setup:
    """Group the photos `ids` (all of which have the features) as the configuration says."""
    ids, rows, seconds, thumbs = methods.aligned(lib, tuple(config.similar.features), ids)
    x = combine(rows).astype(np.float32)
    found = methods.find(ids, rows, methods.Params.of(config.similar), seconds=seconds,
                         pixels=rescore.thumbnails(thumbs) if thumbs else None)
    row_of = {int(pid): i for i, pid in enumerate(ids)}
    groups = []
    for g in sorted(found, key=lambda g: (-len(g), g)):
        members = [row_of[m] for m in g]
        rep = analysis.representative(x, members)
        groups.append([rep] + [m for m in members if m != rep])
    return Setup(label(config), config, x, groups)


def _having(lib: Library, config: Config, ids: np.ndarray) -> np.ndarray:
    if "cnn" in config.similar.features and vectors.spec(config.vectors) is None:
        raise OrganizerError("nothing to explore: similar.features names cnn and vectors are turned off")
    return methods.aligned(lib, tuple(config.similar.features), ids)[0]


def _thumb_uri(path: str | None) -> str | None:
    if not path:
        return None
    try:
        with Image.open(path) as img:
            img.thumbnail((THUMB, THUMB))
            out = io.BytesIO()
            img.convert("RGB").save(out, "JPEG", quality=70)
    except (OSError, ValueError) as exc:
        log.warning("%s: cannot read the thumbnail: %s", path, exc)
        return None
    return "data:image/jpeg;base64," + base64.b64encode(out.getvalue()).decode()


def explore(catalog: Catalog, config: Config, output: str, sample: int = 1000, compare: Config | None = None,
            seed: int = 0) -> ExploreReport:
    """Write the report for a sample of `sample` photos (0: all) to `output`."""
    from organizer.explore import report as sections  # matplotlib: the explore extra

    started = time.perf_counter()
    first_lib = regroup.load(catalog, config, {"visual"})
    ids = _sample(first_lib, sample, seed)
    second_lib = regroup.load(catalog, compare, {"visual"}) if compare is not None else None
    common = _having(first_lib, config, ids)
    if second_lib is not None and compare is not None:
        common = np.intersect1d(common, _having(second_lib, compare, ids))
    if len(common) < 2:
        wanted = sorted(set(config.similar.features) | set(compare.similar.features if compare else ()))
        listed = ", ".join(f'"{name}"' for name in wanted)
        raise OrganizerError(f"nothing to explore: {len(common)} photos have the features {listed}; a scan with "
                             f"them in similar.features computes what is missing, e.g. "
                             f"ORGANIZER_SIMILAR_FEATURES='[{listed}]' organizer scan")
    first = _grouped(first_lib, config, common)
    second = _grouped(second_lib, compare, common) if second_lib is not None and compare is not None else None
    facts = {f.id: f for f in catalog.photos.facts(common.tolist())}
    files = catalog.files.present(common.tolist())
    photos, thumbs = [], []
    for pid in common.tolist():
        uri = _thumb_uri(facts[pid].thumb if pid in facts else None)
        name = shown(os.path.basename(files[pid][0].path)) if files.get(pid) else f"photo {pid}"
        photos.append([name, len(thumbs) if uri else None, facts[pid].taken_local if pid in facts else None])
        if uri:
            thumbs.append(uri)
    taken = [f.taken_local for f in catalog.photos.facts()]
    events = [g.start for g in catalog.groups.rows("event")]
    html = sections.page_html(first, second, photos, thumbs, taken, events, len(first_lib.ids))
    target = Path(output)
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + ".part")
    partial.write_text(html, encoding="utf-8")
    os.replace(partial, target)
    report = ExploreReport(str(target), len(first_lib.ids), len(common), len(first.groups),
                           seconds=round(time.perf_counter() - started, 2))
    if second is not None:
        report.compare_groups = len(second.groups)
        report.agreement = round(analysis.agreement(len(common), first.groups, second.groups), 4)
    return report
