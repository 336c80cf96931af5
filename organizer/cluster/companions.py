"""Which files of one folder belong together: sidecars of a media file (XMP, Google Takeout JSON)
and items made of several media files (RAW+JPEG, Live Photo still+MOV, a video's .thm). Pure: names
and facts in, groups out; the caller lists the folder and has the facts."""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from organizer.extract.source import RAW_EXTENSIONS, VIDEO_EXTENSIONS

SIDECAR_SUFFIXES = (".xmp", ".json")  # lower-case
LIVE_PHOTO_SECONDS = 3.0  # a still and a MOV of one stem taken this close are one Live Photo
_STILL = {".jpg", ".jpeg", ".heic", ".heif", ".hif", ".png", ".tif", ".tiff", ".webp", ".avif", ".jxl"}
# Takeout cuts a sidecar's whole name at 46 characters before '.json', and puts a copy's number
# after the extension: 'IMG_1(1).jpg' has 'IMG_1.jpg(1).json'.
_TAKEOUT_LIMIT = 46
_COPY = re.compile(r"^(?P<base>.*?)(?P<n>\(\d+\))(?P<ext>\.[^.]*)?$")
_SUPPLEMENTAL = ".supplemental-metadata"
# Takeout names a photo edited in Google Photos '<name>-edited.<ext>' (in the account's language)
# and gives it no JSON: it shares its original's. The list is google-photos-takeout-helper's.
_EDITED = ("-edited", "-edytowane", "-bearbeitet", "-bewerkt", "-編集済み", "-modificato", "-modifié",
           "-ha editado", "-editado", "-editat")


def _split(name: str) -> tuple[str, str]:
    stem, ext = os.path.splitext(name)
    return stem, ext.lower()


def _takeout_keys(media: str) -> list[str]:
    """The sidecar names (lower-case, without '.json') Takeout may have given `media`."""
    names = [media]
    m = _COPY.match(media)
    if m and m["ext"]:  # 'IMG_1(1).jpg' -> 'IMG_1.jpg(1)'
        names.append(f"{m['base']}{m['ext']}{m['n']}")
    keys = []
    for name in names:
        for suffix in ("", _SUPPLEMENTAL):
            full = name + suffix
            keys.append(full.lower())
            keys.append(full[:_TAKEOUT_LIMIT].lower())
            if m and name == names[-1] and len(names) > 1:  # the number kept after a cut name
                keys.append((full[: _TAKEOUT_LIMIT - len(m["n"])] + m["n"]).lower())
    # a cut inside '.supplemental-metadata' leaves any prefix of it
    for cut in range(1, len(_SUPPLEMENTAL)):
        keys.append((media + _SUPPLEMENTAL[:cut]).lower())
    return keys


def sidecars(names: Iterable[str]) -> dict[str, list[str]]:
    """media file name -> its sidecar names, among the names of one folder. XMP: `IMG_1.jpg.xmp`
    (darktable, digiKam) before `IMG_1.xmp` (Lightroom; shared by every file of that stem, the
    RAW first). Takeout: `IMG_1.jpg.json`, `.supplemental-metadata.json`, cut names, `(1)` copies;
    an edit `IMG_1-edited.jpg` with no JSON of its own shares its original's."""
    all_names = list(names)
    media = [n for n in all_names if not _is_sidecar(n)]
    lower = {n.lower(): n for n in all_names}
    jsons = {n[:-5].lower(): n for n in all_names if n.lower().endswith(".json")}
    out: dict[str, list[str]] = {}
    by_stem: dict[str, list[str]] = {}
    for name in media:
        by_stem.setdefault(_split(name)[0].lower(), []).append(name)
    for name in media:
        found = []
        exact = lower.get(name.lower() + ".xmp")
        if exact:
            found.append(exact)
        stem_xmp = lower.get(_split(name)[0].lower() + ".xmp")
        if stem_xmp:
            found.append(stem_xmp)
        original = _unedited(name)
        for key in [*_takeout_keys(name), *(_takeout_keys(original) if original != name else [])]:
            if key in jsons and jsons[key] not in found:
                found.append(jsons[key])
                break
        if found:
            out[name] = found
    return out


def _unedited(name: str) -> str:
    """'IMG_1.jpg' of Takeout's 'IMG_1-edited.jpg' (the name itself when it is no edit)."""
    stem, ext = os.path.splitext(name)
    cut = next((s for s in _EDITED if stem.lower().endswith(s)), "")
    return stem[: len(stem) - len(cut)] + ext


def _is_sidecar(name: str) -> bool:
    return name.lower().endswith(SIDECAR_SUFFIXES)


@dataclass(frozen=True)
class Member:
    """What grouping needs of one media file (from its Facts)."""

    name: str
    kind: str  # photo | video | raw
    taken_utc_s: float | None = None  # seconds since the epoch, when known
    content_id: str | None = None
    motion_video: int | None = None
    pixels: bool = True  # its pixels were decoded (it has a thumbnail)


@dataclass(frozen=True)
class Item:
    primary: str
    companions: tuple[str, ...] = ()
    relation: str = "single"  # single | raw+jpeg | live-photo | motion-photo | video+thm
    notes: tuple[str, ...] = field(default_factory=tuple)


def group(members: Sequence[Member]) -> list[Item]:
    """Items of one folder. RAW+JPEG: the RAW is the primary (the original; the JPEG is the
    camera's rendering), the JPEG its companion; but when the RAW's pixels cannot be decoded (a
    camera newer than LibRaw) and the JPEG's can, the JPEG is the primary, so that the item has a
    picture, hashes, a vector and the JPEG's place. Live Photo: the still is the primary, its MOV
    the companion (same Apple content identifier; without one, same stem within
    LIVE_PHOTO_SECONDS). A `.thm` beside a video is the video's companion. A Motion Photo is one
    file: an item of its own, relation motion-photo."""
    by_name = {m.name: m for m in members}
    taken: set[str] = set()
    items: list[Item] = []
    stems: dict[str, list[Member]] = {}
    for m in members:
        stems.setdefault(_split(m.name)[0].lower(), []).append(m)
    by_content: dict[str, list[Member]] = {}
    for m in members:
        if m.content_id:
            by_content.setdefault(m.content_id, []).append(m)
    for m in sorted(members, key=lambda m: m.name):
        if m.name in taken or m.kind != "video":
            continue
        still = _live_still(m, by_content, stems)
        if still is not None and still.name not in taken:
            items.append(Item(still.name, (m.name,), "live-photo"))
            taken |= {m.name, still.name}
    for stem, group_members in sorted(stems.items()):
        raws = [m for m in group_members if m.kind == "raw" and m.name not in taken]
        stills = [m for m in group_members if m.kind == "photo" and m.name not in taken
                  and _split(m.name)[1] in _STILL]
        if raws:
            raws.sort(key=lambda m: m.name)
            shown = [m for m in raws if m.pixels] or [m for m in sorted(stills, key=lambda m: m.name) if m.pixels]
            primary = (shown or raws)[0]
            others = [m.name for m in [*raws, *stills] if m is not primary]
            items.append(Item(primary.name, tuple(sorted(others)), "raw+jpeg" if stills else "single"))
            taken |= {primary.name, *others}
    items.extend(_thm_items(by_name, stems, taken))
    for m in sorted(members, key=lambda m: m.name):
        if m.name not in taken:
            items.append(Item(m.name, (), "motion-photo" if m.motion_video else "single"))
    return sorted(items, key=lambda i: i.primary)


def _live_still(video: Member, by_content: Mapping[str, list[Member]],
                stems: Mapping[str, list[Member]]) -> Member | None:
    if video.content_id:
        for other in by_content.get(video.content_id, []):
            if other.kind == "photo":
                return other
        return None
    for other in stems.get(_split(video.name)[0].lower(), []):
        if other.kind != "photo" or other.content_id:
            continue
        if video.taken_utc_s is None or other.taken_utc_s is None:
            continue
        if abs(video.taken_utc_s - other.taken_utc_s) <= LIVE_PHOTO_SECONDS:
            return other
    return None


def _thm_items(by_name: Mapping[str, Member], stems: Mapping[str, list[Member]], taken: set[str]) -> list[Item]:
    items = []
    for name, m in sorted(by_name.items()):
        if _split(name)[1] != ".thm" or name in taken:
            continue
        videos = [v for v in stems.get(_split(name)[0].lower(), []) if v.kind == "video" and v.name not in taken]
        if videos:
            items.append(Item(videos[0].name, (name,), "video+thm"))
            taken |= {name, videos[0].name}
    return items


def is_media_name(name: str) -> bool:
    """Names the grouping considers (a .thm is a JPEG under another extension)."""
    ext = _split(name)[1]
    return ext in _STILL or ext in RAW_EXTENSIONS or ext in VIDEO_EXTENSIONS or ext == ".thm"
