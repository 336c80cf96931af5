"""The user's decisions on persons (`organizer people merge / split / forget`): each pins the
faces concerned in the catalog (table person_faces), which every later recluster honours
(cluster.people), then reclusters the persons so that the listing shows the result at once."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from organizer import regroup
from organizer.catalog import Catalog, FacePin
from organizer.cluster import people
from organizer.cluster.registry import Found
from organizer.config import Config
from organizer.errors import OrganizerError
from organizer.extract import features


def off_reason(config: Config) -> str | None:
    """Why no persons are found under this configuration (a sentence), or None when faces are on."""
    try:
        if "faces" in features.wanted(config):
            return None
    except features.MissingExtra as exc:
        return f"Faces are on but cannot be found: {exc}."
    turn_on = ("Turn them on with faces.enabled = \"on\" in the [faces] section of the config (it needs the "
               "faces extra: pip install 'organizer[faces]'), then run `organizer scan`.")
    if config.faces.enabled == "auto":
        return f"Faces are off: faces.enabled is \"auto\" and the faces extra is not installed. {turn_on}"
    return f"Faces are off (faces.enabled = \"off\"). {turn_on}"


def _current(catalog: Catalog, config: Config, keys: Iterable[str]) -> tuple[people.LibraryFaces, dict[str, people.Person]]:
    """The library's faces and its persons by key as a recluster would find them now, after
    checking that each of `keys` is a person."""
    reason = off_reason(config)
    if reason:
        raise OrganizerError(reason)
    stored = catalog.groups.members("person")
    for key in keys:
        if key not in stored:
            raise OrganizerError(f"no person {key!r} (see `organizer people`)")
    lib = regroup.load(catalog, config, {"faces"})
    faces: people.LibraryFaces = lib.inputs["faces"]
    found = people.find_people(faces.photo_of, faces.descriptors, config.faces.max_distance,
                               config.faces.min_faces, faces.pins)
    rows = regroup.keyed("person", [Found(p.photos, key=p.key) for p in found], stored,
                         dict(zip(lib.ids.tolist(), lib.digests)))
    now = {row.key: person for row, person in zip(rows, found)}
    for key in keys:
        if key not in now:
            raise OrganizerError(f"person {key!r} is not found in the faces as they are now; run "
                                 f"`organizer cluster` and see `organizer people`")
    return faces, now


def _pins(faces: people.LibraryFaces, rows: Iterable[int], person: str, forgotten: bool = False) -> list[FacePin]:
    return [FacePin(int(faces.photo_of[f]), int(faces.number[f]), faces.descriptors[f].astype("<f4").tobytes(),
                    person, forgotten) for f in rows]


def merge(catalog: Catalog, config: Config, keys: Sequence[str]) -> str | None:
    """The persons `keys` become one, the first key kept, with its name (else the first named
    one's); returns that name."""
    if len(set(keys)) < 2:
        raise OrganizerError("merge needs two persons or more")
    faces, now = _current(catalog, config, keys)
    names = catalog.groups.person_names()
    name = next((names[k] for k in keys if k in names), None)
    with catalog.transaction():
        catalog.groups.pin_faces([p for k in keys for p in _pins(faces, now[k].faces, keys[0])])
        catalog.groups.unname_persons(keys[1:])
        if name is not None:
            catalog.groups.name_person(keys[0], name)
    regroup.regroup(catalog, config, kinds=("person",))
    return name


def split(catalog: Catalog, config: Config, key: str, photo_ids: dict[int, str], name: str | None = None) -> str:
    """The faces of person `key` in the photos `photo_ids` (photo -> the file named) become a new
    person (named `name`, when given); returns its key."""
    faces, now = _current(catalog, config, [key])
    person = now[key]
    for pid, file in photo_ids.items():
        if pid not in person.photos:
            raise OrganizerError(f"{file}: no face of person {key!r} in it")
    moving = [f for f in person.faces if int(faces.photo_of[f]) in photo_ids]
    staying = [f for f in person.faces if int(faces.photo_of[f]) not in photo_ids]
    if not staying:
        raise OrganizerError(f"those are all the faces of person {key!r}; nothing would be left of it")
    taken = set(catalog.groups.members("person")) | set(now) | {p.person for p in catalog.groups.face_pins()}
    digest_of = {r.id: r.digest for r in catalog.photos.facts(photo_ids)}
    new = regroup.new_key("person", photo_ids, digest_of, taken)
    with catalog.transaction():
        catalog.groups.pin_faces(_pins(faces, moving, new) + _pins(faces, staying, key))
        if name:
            catalog.groups.name_person(new, name)
    regroup.regroup(catalog, config, kinds=("person",))
    return new


def forget(catalog: Catalog, config: Config, key: str) -> None:
    """Person `key` is no person: no album, not listed, and its faces make no person again."""
    faces, now = _current(catalog, config, [key])
    with catalog.transaction():
        catalog.groups.pin_faces(_pins(faces, now[key].faces, key, forgotten=True))
    regroup.regroup(catalog, config, kinds=("person",))


def unforget(catalog: Catalog, config: Config, key: str) -> None:
    """Undo `forget`: the faces forgotten as `key` are that person again (with its name)."""
    reason = off_reason(config)
    if reason:
        raise OrganizerError(reason)
    with catalog.transaction():
        if not catalog.groups.unforget_person(key):
            raise OrganizerError(f"no forgotten person {key!r} (see `organizer people forget --list`)")
    regroup.regroup(catalog, config, kinds=("person",))
