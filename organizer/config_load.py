"""Loading the configuration: the file, the environment and flags layered over the defaults of
`config`'s dataclasses; each value converted to its field's type and checked against its limits,
checks across keys, paths made absolute, and where each value came from (`Config.sources`)."""

from __future__ import annotations

import dataclasses
import math
import os
import sys
from collections.abc import Mapping
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, get_type_hints

from organizer.config import MAX_AUTO_WORKERS, RESCORERS, SECTIONS, SIMILAR_FEATURES, Config, cores
from organizer.errors import ConfigError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

ENV_PREFIX = "ORGANIZER_"


def _fields(section: str) -> dict[str, dataclasses.Field]:
    return {f.name: f for f in dataclasses.fields(SECTIONS[section])}


def _types(section: str) -> dict[str, Any]:
    return get_type_hints(SECTIONS[section])


def _user_dir(mac: str, windows: tuple[str, str], xdg: tuple[str, str]) -> Path:
    """organizer's folder of one kind on this platform: under ~/Library on macOS, under
    %windows[0]%/windows[1] on Windows, else under $xdg[0] (default ~/xdg[1])."""
    if sys.platform == "darwin":
        return Path.home() / "Library" / mac / "organizer"
    if os.name == "nt":
        return Path(os.environ.get(windows[0], Path.home())) / "organizer" / windows[1]
    return Path(os.environ.get(xdg[0]) or str(Path.home() / xdg[1])) / "organizer"


def user_config_path() -> Path:
    return _user_dir("Application Support", ("APPDATA", ""), ("XDG_CONFIG_HOME", ".config")) / "config.toml"


def _state_dir() -> Path:
    return _user_dir("Application Support", ("LOCALAPPDATA", ""), ("XDG_STATE_HOME", ".local/state"))


def _cache_dir() -> Path:
    return _user_dir("Caches", ("LOCALAPPDATA", "cache"), ("XDG_CACHE_HOME", ".cache"))


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
    """A finite number: TOML's nan and inf, and "nan" from the environment, compare false with
    every limit, so they would pass every check."""
    value = float(raw) if _is_number(raw) else float(raw.strip()) if from_text and isinstance(raw, str) else math.nan
    if not math.isfinite(value):
        raise ValueError
    return value


def _to_str(raw: Any, from_text: bool) -> str:
    if isinstance(raw, str):
        return raw
    raise ValueError


def _to_floats(raw: Any, from_text: bool) -> tuple[float, ...]:
    if from_text and isinstance(raw, str):
        raw = [float(part) for part in raw.strip().strip("[]").split(",") if part.strip()]
    if isinstance(raw, (list, tuple)) and all(_is_number(x) and math.isfinite(x) for x in raw):
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
    maximum = meta.get("max")
    if maximum is not None and value > maximum:
        raise ConfigError(f"{where}: {key}: must be at most {maximum}, got {value!r}")
    choices = meta.get("choices") or ()
    if choices and value not in choices:
        raise ConfigError(f"{where}: {key}: must be one of {', '.join(map(str, choices))}, got {value!r}")


MAX_FILE_BYTES = 1 << 20  # a config file is a few kilobytes; more is a mistake (or /dev/zero)


def _read_file(path: Path) -> dict[str, Any]:
    try:
        with open(path, "rb") as fh:
            data = fh.read(MAX_FILE_BYTES + 1)
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the config file: {exc.strerror}") from None
    if len(data) > MAX_FILE_BYTES:
        raise ConfigError(f"{path}: not a config file: larger than {MAX_FILE_BYTES // 1024} KB")
    try:
        return tomllib.loads(data.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: invalid TOML: not UTF-8 ({exc.reason} at byte {exc.start})") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: invalid TOML: {exc}") from None
    except RecursionError:  # tomllib parses nested arrays and tables recursively
        raise ConfigError(f"{path}: invalid TOML: nested too deeply") from None


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
        raise ConfigError(f"{path}: " + ("not a regular file (a device, a FIFO or a folder)" if path.exists()
                                         else "config file not found"))
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
    for key, known in (("features", SIMILAR_FEATURES), ("rescore", RESCORERS)):
        unknown = [name for name in get("similar", key) if name not in known]
        if unknown:
            raise ConfigError(f"{where('similar.' + key)}: similar.{key}: unknown {', '.join(unknown)} "
                              f"(known: {', '.join(known)})")
    if not get("similar", "features"):
        raise ConfigError(f"{where('similar.features')}: similar.features: name at least one feature")
    if get("similar", "hog_size") < get("similar", "hog_pixels_per_cell") * get("similar", "hog_cells_per_block"):
        raise ConfigError(f"{where('similar.hog_size')}: similar.hog_size: must hold one block "
                          "(hog_pixels_per_cell x hog_cells_per_block)")


def normal_path(text: str) -> str:
    """`~` expanded, absolute, without `..` or doubled separators (symlinks are kept as given)."""
    return os.path.abspath(os.path.expanduser(text))


_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
MAX_INTERVAL_S = 3650 * 86400  # ten years; a longer one overflowed the scheduler's dates


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
        if seconds > MAX_INTERVAL_S:
            raise ValueError(f"an interval must be at most {MAX_INTERVAL_S // 86400} days, got {text!r}")
        return IntervalTrigger(seconds=seconds, start_date=(start or datetime.now(timezone.utc)) + timedelta(
            seconds=seconds))
    if len(value.split()) == 5:
        return CronTrigger.from_crontab(value)
    raise ValueError(f"expected an interval like 10m or 6h, or a cron line, got {text!r}")


def example() -> str:
    """The commented default configuration shipped with organizer (`organizer config --example`)."""
    from importlib import resources

    return resources.files("organizer").joinpath("config.example.toml").read_text(encoding="utf-8")
