"""Reports shaped for the commands that print them: `status`, `explain`, `dupes`, `errors`.

Paths are shown as text (`catalog.shown`: bytes that are not UTF-8 as `\\xe9` escapes), so every
report prints on any terminal and is valid JSON.
"""

from __future__ import annotations

import os
from typing import Any

from organizer.catalog import Catalog, shown
from organizer.cluster import keeper
from organizer.errors import CatalogError

# status's name for the count of each kind of group (a kind not named here is counted under its own)
COUNT_KEYS = {"event": "events", "place": "places", "duplicate": "duplicate_groups", "similar": "similar_groups"}


def status(catalog: Catalog) -> dict[str, Any]:
    files = catalog.files.counts()
    groups = catalog.groups.counts([*COUNT_KEYS, *(k for k in catalog.groups.kinds() if k not in COUNT_KEYS)])
    data: dict[str, Any] = {
        "files": files["ok"],
        "photos": catalog.files.photos_present(),
        "errors": catalog.errors.count(),
        "missing": files["missing"],
        "ignored": files["ignored"],
        "unsupported": files["unsupported"],
        "unsupported_by_type": catalog.files.formats("unsupported"),
    }
    data.update({COUNT_KEYS.get(kind, kind): n for kind, n in groups.items()})
    data["catalog"] = str(catalog.path)
    data["last_runs"] = {kind: {"started": r.started, "finished": r.finished, "stats": r.stats}
                         for kind, r in catalog.runs.last().items()}
    return data


def explain(catalog: Catalog, path: str) -> dict[str, Any]:
    """All that the catalog knows of one file (see docs/cli.md for each field)."""
    file = catalog.files.row(path)
    if file is None:
        raise CatalogError(f"{shown(path)}: not in the catalog")
    pid = file["photo_id"]
    photo = (catalog.photos.row(pid) if pid is not None else None) or {}
    camera = " ".join(p for p in (photo.get("make"), photo.get("model")) if p) or None
    return {
        "path": shown(path),
        "state": file["state"],
        "size": file["size"],
        "format": photo.get("format") or file.get("format"),
        "digest": photo.get("digest"),
        "taken_at": photo.get("taken_local"),
        "taken_at_utc": photo.get("taken_utc"),
        "utc_offset": photo.get("utc_offset"),
        "taken_at_source": photo.get("taken_source"),
        "utc_offset_source": photo.get("offset_source"),
        "lat": photo.get("lat"),
        "lon": photo.get("lon"),
        "alt": photo.get("alt"),
        "camera": camera,
        "kind": photo.get("kind"),
        "duration": photo.get("duration"),
        "rating": photo.get("rating"),
        "title": photo.get("title"),
        "description": photo.get("description"),
        "keywords": catalog.photos.keywords(pid).get(pid, []) if pid is not None else [],
        "width": photo.get("width"),
        "height": photo.get("height"),
        "orientation": photo.get("orientation"),
        "phash": photo.get("phash"),
        "dhash": photo.get("dhash"),
        "thumbnail": shown(photo["thumb"]) if photo.get("thumb") else None,
        "vector_model": catalog.photos.vector_model(pid) if pid is not None else None,
        "same_content": [shown(p) for p in catalog.files.others(pid, path)] if pid is not None else [],
        "companions": _companions(catalog, pid) if pid is not None else [],
        "sidecars": [shown(p) for p in catalog.files.sidecars_of(pid)] if pid is not None else [],
        "errors": [{"stage": e.stage, "message": e.message, "at": e.at}
                   for p in [path, *(catalog.files.sidecars_of(pid) if pid is not None else [])]
                   for e in catalog.errors.of(p)],
        "groups": [{"kind": g.kind, "key": g.key, "size": g.size, "start": g.start, "end": g.end}
                   for g in catalog.groups.of_photo(pid)] if pid is not None else [],
        "albums": [shown(a) for a in catalog.albums.of_photo(pid)] if pid is not None else [],
        "first_seen": file["first_seen"],
        "last_seen": file["last_seen"],
        "missing_since": file["missing_since"],
    }


def _companions(catalog: Catalog, photo_id: int) -> list[str]:
    """The item a file belongs to: its companions (or, for a companion, its primary), as
    'relation: path' lines."""
    primary = catalog.photos.primary_of(photo_id)
    if primary is not None:
        files = catalog.files.present([primary[0]]).get(primary[0], [])
        return [f"{primary[1]}: companion of {shown(files[0].path)}"] if files else []
    pairs = catalog.photos.companions().get(photo_id, [])
    files = catalog.files.present([c for c, _ in pairs])
    return [f"{relation}: {shown(files[c][0].path)}" for c, relation in pairs if c in files]


def duplicates(catalog: Catalog) -> list[dict[str, Any]]:
    """Every duplicate group with every copy, the one to keep first, and where each copy lives."""
    out = []
    notes = catalog.groups.notes("duplicate")
    for group in catalog.groups.rows("duplicate"):
        files = catalog.files.present(group.members)
        facts = {p.id: p for p in catalog.photos.facts(group.members)}
        mine = notes.get(group.key, {})
        copies = keeper.order([keeper.File(f.path, pid, facts[pid].format, facts[pid].width or 0,
                                           facts[pid].height or 0, f.size, f.mtime_ns,
                                           bool(facts[pid].make) and facts[pid].taken_source == "exif", mine.get(pid))
                               for pid, rows in files.items() if pid in facts for f in rows])
        if len(copies) < 2:
            continue
        out.append({"group": group.key, "files": [
            {"path": shown(c.path), "folder": shown(os.path.dirname(c.path)), "photo": c.photo,
             "keep": i == 0, "raw": c.raw, "taken_at": facts[c.photo].taken_local, "width": c.width,
             "height": c.height, "size": c.size,
             "differs": None if i == 0 or c.note in (None, keeper.KEEPER) else c.note} for i, c in enumerate(copies)]})
    return out


def errors(catalog: Catalog) -> list[dict[str, Any]]:
    return [{"path": shown(e.path), "stage": e.stage, "message": e.message, "at": e.at} for e in catalog.errors.all()]
