"""Configuration: frozen dataclasses filled from defaults < file < environment < flags.

Every value remembers where it came from (`Config.sources`), so `organizer config` can say it.
Environment variables are named ``ORGANIZER_<SECTION>_<KEY>``, e.g. ``ORGANIZER_SCAN_WORKERS=4``.
"""

from __future__ import annotations

import dataclasses
import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, get_type_hints

from organizer.errors import ConfigError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

ENV_PREFIX = "ORGANIZER_"


def _opt(default: Any, help: str, minimum: float | None = None, choices: tuple = ()) -> Any:
    return field(default=default, metadata={"help": help, "min": minimum, "choices": choices})


@dataclass(frozen=True)
class CatalogConfig:
    path: str = _opt("", "The SQLite catalog; empty: the platform's user state folder.")
    cache_dir: str = _opt("", "Thumbnails and model files; empty: the platform's user cache folder.")


@dataclass(frozen=True)
class ScanConfig:
    roots: tuple[str, ...] = _opt((), "Photo folders to index.")
    exclude: tuple[str, ...] = _opt(
        (), "Extra glob patterns to skip, matched against names and paths relative to a root."
    )
    follow_symlinks: bool = _opt(False, "Follow symlinked files and folders (loops are detected).")
    workers: int = _opt(0, "Extraction processes; 0: one per core this process may use, at most 8 (each "
                        "holds the CNN and a decoded photo; a NAS's disks are busy well before).", minimum=0)
    inline: bool = _opt(False, "Extract in this process, with no worker processes and no time limit per file "
                               "(for tests, pdb and coverage; never for a library that may hold a hostile file).")
    file_timeout_s: float = _opt(60.0, "A file taking longer than this is an error.", minimum=0.1)
    max_file_mb: int = _opt(1024, "Larger images are reported as errors, never read (videos and RAW files "
                                  "are streamed, whatever their size).", minimum=1)
    max_megapixels: float = _opt(250.0, "Images with more pixels are errors, never decoded (a 200 MP phone "
                                        "HEIC passes; each worker needs about 3 bytes a pixel for a PNG or "
                                        "TIFF this large).", minimum=1)
    batch_size: int = _opt(200, "Catalog rows written per transaction.", minimum=1)


@dataclass(frozen=True)
class OutputConfig:
    path: str = _opt("", "The album folder that organizer manages.")
    retry_s: float = _opt(60.0, "The daemon, when the album folder could not be written (unmounted, "
                                "read-only, full): seconds before it tries again.", minimum=1)


@dataclass(frozen=True)
class PublishConfig:
    companions: bool = _opt(True, "Albums link an item's companions beside it (a RAW's JPEG, a Live Photo's MOV, "
                                  "a video's .thm).")
    favorites_rating: int = _opt(4, "Photos rated at least this (XMP or Windows rating, 1-5) are in Favorites/.",
                                 minimum=1)


@dataclass(frozen=True)
class EventsConfig:
    gap_hours: float = _opt(4.0, "A new event starts after a gap longer than this.", minimum=0.01)
    min_photos: int = _opt(3, "Smaller runs are not events.", minimum=1)
    use_mtime: bool = _opt(False, "Also place photos dated only by file mtime into events.")


@dataclass(frozen=True)
class PlacesConfig:
    radius_m: float = _opt(1000.0, "DBSCAN radius: photos this close to a dense spot join it.", minimum=1)
    min_photos: int = _opt(3, "Photos needed around a spot to make it a place.", minimum=1)


@dataclass(frozen=True)
class DuplicatesConfig:
    phash_distance: int = _opt(8, "Candidates: pHash within this Hamming distance (of the whole image, or of the "
                                  "photo found inside a frame).", minimum=0)
    dhash_distance: int = _opt(12, "Candidates: and dHash within this (candidates are then verified by their "
                                   "pixels and EXIF).", minimum=0)
    cosine: float = _opt(0.75, "Candidates: CNN nearest neighbours at least this alike (0-1).", minimum=0)
    neighbours: int = _opt(10, "Candidates: CNN nearest neighbours looked at per photo.", minimum=1)
    agreement: float = _opt(0.88, "Verification: share of textured cells whose pixels agree after alignment for "
                                  "two photos to be one capture (0-1).", minimum=0)
    max_component: int = _opt(64, "Linked sets up to this many photos are verified pair by pair; larger ones only "
                                  "along their candidate pairs.", minimum=2)


# What similar groups can be made of and how (docs/explore.md); the registries (extract.visual,
# cluster.methods, cluster.rescore) are checked against these names by the tests.
SIMILAR_FEATURES = ("cnn", "hog", "grey", "pca", "phash", "orb")
SIMILAR_METHODS = ("average", "chain", "agglomerative", "dbscan", "kmeans", "mix")
RESCORERS = ("ssim", "orb-match", "template", "corner-minhash")
LINKAGES = ("average", "complete", "single", "weighted")


@dataclass(frozen=True)
class SimilarConfig:
    sim: float = _opt(0.8, "How alike photos of a similar group are (0-1, higher is stricter).", minimum=0)
    neighbours: int = _opt(10, "Nearest neighbours looked at per photo.", minimum=1)
    min_photos: int = _opt(2, "Smallest similar group.", minimum=2)
    features: tuple[str, ...] = _opt(("cnn",), "What photos are compared by: " + ", ".join(SIMILAR_FEATURES)
                                     + " (several: the mean of their cosines).")
    method: str = _opt("average", "How groups are made: " + ", ".join(SIMILAR_METHODS) + ".",
                       choices=SIMILAR_METHODS)
    linkage: str = _opt("average", "agglomerative and mix: the linkage of the hierarchical clustering.",
                        choices=LINKAGES)
    k: int = _opt(0, "kmeans: the number of clusters; 0: chosen by k_choice.", minimum=0)
    k_max: int = _opt(20, "kmeans: the largest k tried when choosing.", minimum=2)
    k_choice: str = _opt("knee", "kmeans: knee of the distortion curve, silhouette or davies-bouldin.",
                         choices=("knee", "silhouette", "davies-bouldin"))
    alpha: float = _opt(0.3, "mix: weight of the time distance against the content distance (0-1).", minimum=0)
    mix_hours: float = _opt(24.0, "mix: photos this many hours apart are at time distance 1.", minimum=0.01)
    rescore: tuple[str, ...] = _opt((), "Pixel re-scorers of candidate pairs: " + ", ".join(RESCORERS) + ".")
    rescore_min: float = _opt(0.5, "A candidate pair is kept when every re-scorer gives at least this (0-1).",
                              minimum=0)
    hog_size: int = _opt(128, "hog: the side of the grey image it is computed on.", minimum=16)
    hog_orientations: int = _opt(8, "hog: orientation bins.", minimum=1)
    hog_pixels_per_cell: int = _opt(8, "hog: the side of a cell in pixels.", minimum=2)
    hog_cells_per_block: int = _opt(1, "hog: the side of a normalisation block in cells.", minimum=1)
    grey_size: int = _opt(64, "grey (and pca of grey): the side of the stored grey image.", minimum=8)
    pca_of: str = _opt("grey", "pca: of the grey pixels or of hog.", choices=("grey", "hog"))
    pca_components: float = _opt(0.95, "pca: components (1 or more) or the variance kept (below 1).",
                                 minimum=0.01)
    phash_size: int = _opt(8, "phash: x of the x*x grey image (8-16; x*x bits).", minimum=8)
    orb_keypoints: int = _opt(500, "orb: the most keypoints kept per photo.", minimum=8)


@dataclass(frozen=True)
class GeocodeConfig:
    online: bool = _opt(False, "Ask a Nominatim server for place names (offline GeoNames otherwise).")
    domain: str = _opt("nominatim.openstreetmap.org", "The Nominatim server.")
    scheme: str = _opt("https", "http or https.", choices=("http", "https"))
    user_agent: str = _opt("organizer-photo-library", "Nominatim's usage policy asks for one.")
    timeout_s: float = _opt(10.0, "Give up on one request after this long.", minimum=0.1)
    min_interval_s: float = _opt(1.0, "At most one request per this many seconds.", minimum=0)
    language: str = _opt("en", "Language of the place names.")


@dataclass(frozen=True)
class VectorsConfig:
    enabled: bool = _opt(True, "Compute a CNN vector for every photo (similar groups, `organizer similar`).")
    model: str = _opt("efficientnet-lite0", "The built-in model, or the path of an ONNX image model.")
    input_size: int = _opt(224, "Your own model's input: a square of this many pixels.", minimum=16)
    resize: int = _opt(256, "Your own model: the short side is resized to this before the centre crop.", minimum=16)
    mean: tuple[float, ...] = _opt((127.0, 127.0, 127.0), "Your own model: per-channel mean (RGB, 0-255) subtracted.")
    std: tuple[float, ...] = _opt((128.0, 128.0, 128.0), "Your own model: per-channel divisor (RGB, 0-255).")
    output: str = _opt("features", "Your own model: the output that is the image's vector.")
    precision: str = _opt("int8", "The built-in model's arithmetic: int8 (about 1.8x faster) or float32.",
                          choices=("int8", "float32"))


@dataclass(frozen=True)
class WatchConfig:
    polling: bool = _opt(False, "Poll every folder instead of inotify (remote file systems always poll).")
    poll_interval_s: float = _opt(10.0, "Seconds between two polls of a polled folder.", minimum=0.1)
    settle_s: float = _opt(2.0, "A file is indexed once its size and mtime were still this long.", minimum=0)


@dataclass(frozen=True)
class ScheduleConfig:
    recluster: str = _opt("10m", "Recluster + publish when the catalog changed: an interval or a cron line.")
    rescan: str = _opt("24h", "Full rescan of every root: an interval (30m, 6h, 1d) or a cron line.")


SECTIONS: dict[str, type] = {
    "catalog": CatalogConfig,
    "scan": ScanConfig,
    "output": OutputConfig,
    "publish": PublishConfig,
    "events": EventsConfig,
    "places": PlacesConfig,
    "duplicates": DuplicatesConfig,
    "similar": SimilarConfig,
    "geocode": GeocodeConfig,
    "vectors": VectorsConfig,
    "watch": WatchConfig,
    "schedule": ScheduleConfig,
}


@dataclass(frozen=True)
class Config:
    catalog: CatalogConfig = field(default_factory=CatalogConfig)
    scan: ScanConfig = field(default_factory=ScanConfig)
    output: OutputConfig = field(default_factory=OutputConfig)
    publish: PublishConfig = field(default_factory=PublishConfig)
    events: EventsConfig = field(default_factory=EventsConfig)
    places: PlacesConfig = field(default_factory=PlacesConfig)
    duplicates: DuplicatesConfig = field(default_factory=DuplicatesConfig)
    similar: SimilarConfig = field(default_factory=SimilarConfig)
    geocode: GeocodeConfig = field(default_factory=GeocodeConfig)
    vectors: VectorsConfig = field(default_factory=VectorsConfig)
    watch: WatchConfig = field(default_factory=WatchConfig)
    schedule: ScheduleConfig = field(default_factory=ScheduleConfig)
    file: str | None = None
    sources: Mapping[str, str] = field(default_factory=dict)

    def value(self, key: str) -> Any:
        section, name = key.split(".", 1)
        return getattr(getattr(self, section), name)

    def effective(self) -> list[tuple[str, Any, str]]:
        """Every key with its value and where it came from."""
        return [(key, self.value(key), self.sources.get(key, "default")) for key in all_keys()]


MAX_AUTO_WORKERS = 8


def cores() -> int:
    """The CPUs this process may run on (its affinity mask: a container's cpuset, `taskset`)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):  # not Linux
        return os.cpu_count() or 1


def all_keys() -> list[str]:
    return [f"{s}.{f.name}" for s, cls in SECTIONS.items() for f in dataclasses.fields(cls)]


def _fields(section: str) -> dict[str, dataclasses.Field]:
    return {f.name: f for f in dataclasses.fields(SECTIONS[section])}


def _types(section: str) -> dict[str, Any]:
    return get_type_hints(SECTIONS[section])


def user_config_path() -> Path:
    if sys.platform == "darwin":
        return Path.home() / "Library/Application Support/organizer/config.toml"
    if os.name == "nt":
        return Path(os.environ.get("APPDATA", Path.home())) / "organizer/config.toml"
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "organizer/config.toml"


def _state_dir() -> Path:
    if sys.platform == "darwin":
        return Path.home() / "Library/Application Support/organizer"
    if os.name == "nt":
        return Path(os.environ.get("LOCALAPPDATA", Path.home())) / "organizer"
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local/state")
    return Path(base) / "organizer"


def _cache_dir() -> Path:
    if sys.platform == "darwin":
        return Path.home() / "Library/Caches/organizer"
    if os.name == "nt":
        return Path(os.environ.get("LOCALAPPDATA", Path.home())) / "organizer/cache"
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "organizer"


_TRUE = ("1", "true", "yes", "on")
_FALSE = ("0", "false", "no", "off")


def _is_number(raw: Any) -> bool:
    return isinstance(raw, (int, float)) and not isinstance(raw, bool)


def _to_bool(raw: Any, from_text: bool) -> bool:
    if isinstance(raw, bool):
        return raw
    low = raw.strip().lower() if from_text and isinstance(raw, str) else None
    if low in _TRUE or low in _FALSE:
        return low in _TRUE
    raise ValueError


def _to_int(raw: Any, from_text: bool) -> int:
    if isinstance(raw, int) and not isinstance(raw, bool):
        return raw
    if from_text and isinstance(raw, str):
        return int(raw.strip())
    raise ValueError


def _to_float(raw: Any, from_text: bool) -> float:
    if _is_number(raw):
        return float(raw)
    if from_text and isinstance(raw, str):
        return float(raw.strip())
    raise ValueError


def _to_str(raw: Any, from_text: bool) -> str:
    if isinstance(raw, str):
        return raw
    raise ValueError


def _to_floats(raw: Any, from_text: bool) -> tuple[float, ...]:
    if from_text and isinstance(raw, str):
        raw = [float(part) for part in raw.strip().strip("[]").split(",") if part.strip()]
    if isinstance(raw, (list, tuple)) and all(_is_number(x) for x in raw):
        return tuple(float(x) for x in raw)
    raise ValueError


def _to_strs(raw: Any, from_text: bool) -> tuple[str, ...]:
    """A TOML list, or from text either a TOML list or paths joined by os.pathsep."""
    if from_text and isinstance(raw, str):
        text = raw.strip()
        try:
            raw = tomllib.loads(f"v = {text}")["v"] if text.startswith("[") else [
                part for part in text.split(os.pathsep) if part]
        except tomllib.TOMLDecodeError:
            raise ValueError from None
    if isinstance(raw, (list, tuple)) and all(isinstance(x, str) for x in raw):
        return tuple(raw)
    raise ValueError


# Each field type: its converter and what the error message says was expected.
_COERCERS: dict[Any, tuple[Any, str]] = {
    bool: (_to_bool, "true or false"),
    int: (_to_int, "a whole number"),
    float: (_to_float, "a number"),
    str: (_to_str, "a string"),
    tuple[float, ...]: (_to_floats, "a list of numbers"),
    tuple[str, ...]: (_to_strs, "a list of strings"),
}


def _coerce(key: str, raw: Any, typ: Any, where: str, from_text: bool) -> Any:
    """Check and convert one value; `from_text` values come from the environment or a flag."""
    convert, expected = _COERCERS[typ]
    try:
        return convert(raw, from_text)
    except ValueError:
        raise ConfigError(f"{where}: {key}: expected {expected}, got {raw!r}") from None


def _check(key: str, value: Any, meta: Mapping[str, Any], where: str) -> None:
    minimum = meta.get("min")
    if minimum is not None and value < minimum:
        raise ConfigError(f"{where}: {key}: must be at least {minimum}, got {value!r}")
    choices = meta.get("choices") or ()
    if choices and value not in choices:
        raise ConfigError(f"{where}: {key}: must be one of {', '.join(map(str, choices))}, got {value!r}")


def _read_file(path: Path) -> dict[str, Any]:
    try:
        with open(path, "rb") as fh:
            return tomllib.load(fh)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: invalid TOML: {exc}") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the config file: {exc.strerror}") from None


def load(
    config_path: str | os.PathLike | None = None,
    env: Mapping[str, str] | None = None,
    overrides: Mapping[str, tuple[Any, str]] | None = None,
) -> Config:
    """Build the effective configuration.

    `config_path`: an explicit file (must exist); else ``$ORGANIZER_CONFIG``; else the user config
    file if it exists. `overrides` maps ``section.key`` to ``(value, source)``, e.g. from flags.
    """
    env = os.environ if env is None else env
    layers = _Layers()
    path = _file_path(config_path, env)
    if path is not None:
        layers.add_file(path)
    layers.add_env(env)
    for key, (raw, source) in (overrides or {}).items():
        layers.put(key, raw, source, source, from_text=isinstance(raw, str))
    return _finish(layers.values, layers.sources, path)


def _file_path(config_path: str | os.PathLike | None, env: Mapping[str, str]) -> Path | None:
    """The config file to read: the one named, else $ORGANIZER_CONFIG, else the user's if it exists."""
    if config_path is not None:
        path = Path(config_path).expanduser()
    elif env.get("ORGANIZER_CONFIG"):
        path = Path(env["ORGANIZER_CONFIG"]).expanduser()
    elif user_config_path().is_file():
        return user_config_path()
    else:
        return None
    if not path.is_file():
        raise ConfigError(f"{path}: config file not found")
    return path


class _Layers:
    """The values given so far, by section, and where each came from; a later layer wins."""

    def __init__(self) -> None:
        self.values: dict[str, dict[str, Any]] = {s: {} for s in SECTIONS}
        self.sources: dict[str, str] = {}

    def put(self, key: str, raw: Any, where: str, source: str, from_text: bool) -> None:
        """Convert and check one value (`where` names its origin in errors), then record it."""
        section, name = key.split(".", 1)
        value = _coerce(key, raw, _types(section)[name], where, from_text=from_text)
        _check(key, value, _fields(section)[name].metadata, where)
        self.values[section][name] = value
        self.sources[key] = source

    def add_file(self, path: Path) -> None:
        for section, table in _read_file(path).items():
            if section not in SECTIONS:
                raise ConfigError(f"{path}: unknown section [{section}]")
            if not isinstance(table, dict):
                raise ConfigError(f"{path}: {section}: expected a table [{section}]")
            fields = _fields(section)
            for name, raw in table.items():
                if name not in fields:
                    raise ConfigError(f"{path}: unknown key {section}.{name}")
                self.put(f"{section}.{name}", raw, str(path), str(path), from_text=False)

    def add_env(self, env: Mapping[str, str]) -> None:
        """``ORGANIZER_<SECTION>_<KEY>`` variables (``ORGANIZER_CONFIG`` names the file)."""
        for var, raw in env.items():
            if not var.startswith(ENV_PREFIX) or var == "ORGANIZER_CONFIG":
                continue
            section, _, name = var[len(ENV_PREFIX):].lower().partition("_")
            if section not in SECTIONS or name not in _fields(section):
                raise ConfigError(f"environment variable {var}: unknown key {section}.{name}")
            self.put(f"{section}.{name}", raw, f"environment variable {var}", f"env {var}", from_text=True)


def _default(section: str, name: str) -> Any:
    return _fields(section)[name].default


def _finish(values: dict[str, dict[str, Any]], sources: dict[str, str], path: Path | None) -> Config:
    """Checks across keys, paths made absolute, and values that depend on the machine: the one
    place where configuration is validated and normalised."""
    def get(section: str, name: str) -> Any:
        return values[section].get(name, _default(section, name))

    def where(key: str) -> str:
        return sources.get(key, "default")

    for key in ("recluster", "rescan"):
        try:
            trigger(get("schedule", key))
        except ValueError as exc:
            raise ConfigError(f"{where('schedule.' + key)}: schedule.{key}: {exc}") from None
    _check_similar(get, where)
    for key in ("mean", "std"):
        if len(get("vectors", key)) != 3:
            raise ConfigError(f"{where('vectors.' + key)}: vectors.{key}: expected three numbers (R, G, B)")
    if get("vectors", "input_size") > get("vectors", "resize"):
        raise ConfigError(f"{where('vectors.input_size')}: vectors.input_size: the crop "
                          f"({get('vectors', 'input_size')}) must fit in vectors.resize ({get('vectors', 'resize')})")
    model = get("vectors", "model")
    if model != "efficientnet-lite0":
        model = values["vectors"]["model"] = normal_path(model)
        if get("vectors", "enabled") and not os.path.isfile(model):
            raise ConfigError(f"{where('vectors.model')}: vectors.model: {model}: no such ONNX model file")
    values["scan"]["roots"] = tuple(normal_path(r) for r in get("scan", "roots"))
    if get("output", "path"):
        values["output"]["path"] = normal_path(get("output", "path"))
    values["catalog"]["path"] = normal_path(get("catalog", "path") or str(_state_dir() / "catalog.db"))
    values["catalog"]["cache_dir"] = normal_path(get("catalog", "cache_dir") or str(_cache_dir()))
    if not get("scan", "workers"):
        values["scan"]["workers"] = min(cores(), MAX_AUTO_WORKERS)
    sections = {s: cls(**values[s]) for s, cls in SECTIONS.items()}
    return Config(**sections, file=str(path) if path else None, sources=sources)


def _check_similar(get: Any, where: Any) -> None:
    for key in ("sim", "alpha", "rescore_min"):
        if get("similar", key) > 1:
            raise ConfigError(f"{where('similar.' + key)}: similar.{key}: must be at most 1")
    for key, known in (("features", SIMILAR_FEATURES), ("rescore", RESCORERS)):
        unknown = [name for name in get("similar", key) if name not in known]
        if unknown:
            raise ConfigError(f"{where('similar.' + key)}: similar.{key}: unknown {', '.join(unknown)} "
                              f"(known: {', '.join(known)})")
    if not get("similar", "features"):
        raise ConfigError(f"{where('similar.features')}: similar.features: name at least one feature")
    if get("similar", "phash_size") > 16:
        raise ConfigError(f"{where('similar.phash_size')}: similar.phash_size: must be at most 16")
    if get("similar", "hog_size") < get("similar", "hog_pixels_per_cell") * get("similar", "hog_cells_per_block"):
        raise ConfigError(f"{where('similar.hog_size')}: similar.hog_size: must hold one block "
                          "(hog_pixels_per_cell x hog_cells_per_block)")


def normal_path(text: str) -> str:
    """`~` expanded, absolute, without `..` or doubled separators (symlinks are kept as given)."""
    return os.path.abspath(os.path.expanduser(text))


_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def trigger(text: str, start: datetime | None = None):  # noqa: ANN201  (an apscheduler trigger)
    """An interval ('90s', '10m', '6h', '1d'), counted from `start` (default: now), or a
    five-field cron line ('*/10 * * * *') in the machine's time zone."""
    from apscheduler.triggers.cron import CronTrigger
    from apscheduler.triggers.interval import IntervalTrigger

    value = text.strip()
    if value and value[-1] in _UNITS and value[:-1].replace(".", "", 1).isdigit():
        seconds = float(value[:-1]) * _UNITS[value[-1]]
        if seconds <= 0:
            raise ValueError("an interval must be positive")
        return IntervalTrigger(seconds=seconds, start_date=(start or datetime.now(timezone.utc)) + timedelta(
            seconds=seconds))
    if len(value.split()) == 5:
        return CronTrigger.from_crontab(value)
    raise ValueError(f"expected an interval like 10m or 6h, or a cron line, got {text!r}")
