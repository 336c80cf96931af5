"""Configuration: precedence, sources, errors that name the key and the file."""

from __future__ import annotations

import dataclasses
import json
import os
import sys
from importlib import resources
from pathlib import Path

import pytest
from click.testing import CliRunner

from organizer import config, config_load
from organizer.cli import cli
from organizer.errors import ConfigError

from conftest import ROOT

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib


def write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def test_precedence_defaults_file_env_flags(tmp_path: Path) -> None:
    cfg_file = write(tmp_path / "c.toml", "[scan]\nworkers = 3\nbatch_size = 50\nroots = ['/a', '/b']\n")
    cfg = config.load(
        cfg_file,
        env={"ORGANIZER_SCAN_BATCH_SIZE": "70", "ORGANIZER_SCAN_FOLLOW_SYMLINKS": "yes"},
        overrides={"scan.roots": (["/c"], "command line")},
    )
    assert cfg.scan.workers == 3 and cfg.sources["scan.workers"] == str(cfg_file)
    assert cfg.scan.batch_size == 70 and cfg.sources["scan.batch_size"] == "env ORGANIZER_SCAN_BATCH_SIZE"
    assert cfg.scan.follow_symlinks is True
    assert cfg.scan.roots == ("/c",) and cfg.sources["scan.roots"] == "command line"
    assert cfg.scan.file_timeout_s == 60.0 and "scan.file_timeout_s" not in cfg.sources
    effective = {k: (v, s) for k, v, s in cfg.effective()}
    assert effective["scan.file_timeout_s"] == (60.0, "default")


def test_env_names_the_config_file(tmp_path: Path) -> None:
    cfg_file = write(tmp_path / "c.toml", "[scan]\nworkers = 5\n")
    assert config.load(env={"ORGANIZER_CONFIG": str(cfg_file)}).scan.workers == 5


def test_user_config_file_is_read(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    user = config_load.user_config_path()
    user.parent.mkdir(parents=True)
    write(user, "[scan]\nworkers = 2\n")
    cfg = config.load(env={})
    assert cfg.scan.workers == 2 and cfg.file == str(user)


@pytest.mark.parametrize(
    "text, message",
    [
        ("[scan]\nrootz = []\n", "unknown key scan.rootz"),
        ("[scna]\nroots = []\n", "unknown section [scna]"),
        ("[scan]\nworkers = 'four'\n", "scan.workers: expected a whole number"),
        ("[scan]\nworkers = -1\n", "scan.workers: must be at least 0"),
        ("[scan]\nroots = '/photos'\n", "scan.roots: expected a list of strings"),
        ("[scan]\nfollow_symlinks = 1\n", "scan.follow_symlinks: expected true or false"),
        ("[scan\nroots = []\n", "invalid TOML"),
        ("[vectors]\nprecision = 'int4'\n", "vectors.precision: must be one of int8, float32"),
        ("[vectors]\ninput_size = 300\n", "vectors.input_size: the crop (300) must fit in vectors.resize (256)"),
    ],
)
def test_bad_file_names_key_and_file(tmp_path: Path, text: str, message: str) -> None:
    cfg_file = write(tmp_path / "bad.toml", text)
    with pytest.raises(ConfigError) as err:
        config.load(cfg_file, env={})
    assert str(cfg_file) in str(err.value) and message in str(err.value)


def test_bad_environment_value_names_the_variable() -> None:
    with pytest.raises(ConfigError, match="ORGANIZER_SCAN_WORKERS: scan.workers: expected a whole number"):
        config.load(env={"ORGANIZER_SCAN_WORKERS": "many"})
    with pytest.raises(ConfigError, match="ORGANIZER_SCAN_NOPE: unknown key scan.nope"):
        config.load(env={"ORGANIZER_SCAN_NOPE": "1"})


def test_missing_explicit_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="config file not found"):
        config.load(tmp_path / "nope.toml", env={})


def test_example_config_lists_every_key_with_its_default() -> None:
    """The packaged copy (what `organizer config --example` prints; the repository's
    config.example.toml is a link to it) against the dataclasses' keys and defaults."""
    example = Path(str(resources.files("organizer").joinpath("config.example.toml")))
    assert (ROOT / "config.example.toml").resolve() == example.resolve()
    assert config_load.example() == example.read_text()
    data = tomllib.loads(example.read_text())
    listed = {f"{s}.{k}" for s, table in data.items() for k in table}
    assert listed == set(config.all_keys())
    loaded = config.load(example, env={})
    defaults = config.load(env={})
    for section in config.SECTIONS:
        assert dataclasses.asdict(getattr(loaded, section)) == dataclasses.asdict(getattr(defaults, section))
    text = example.read_text()
    for key in config.all_keys():  # each key has a comment above it
        name = key.split(".", 1)[1]
        before = text.split(f"\n{name} = ", 1)[0].rstrip().splitlines()[-1]
        assert before.startswith("#"), key


def test_cli_config_example_prints_the_packaged_defaults(tmp_path: Path) -> None:
    bad = write(tmp_path / "bad.toml", "[scan]\nworkers = 'x'\n")  # --example needs no valid config
    result = CliRunner().invoke(cli, ["--config", str(bad), "config", "--example"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert result.stdout == config_load.example()
    started = write(tmp_path / "started.toml", result.stdout)
    assert config.load(started, env={}).scan == config.load(env={}).scan


def test_cli_config_shows_sources_and_bad_config_exits_1(tmp_path: Path) -> None:
    cfg_file = write(tmp_path / "c.toml", "[scan]\nworkers = 3\n")
    runner = CliRunner()
    result = runner.invoke(cli, ["--config", str(cfg_file), "config", "--json"], env={"ORGANIZER_SCAN_BATCH_SIZE": "9"})
    assert result.exit_code == 0, result.output
    values = {row["key"]: row for row in json.loads(result.stdout)["values"]}
    assert values["scan.workers"] == {"key": "scan.workers", "value": 3, "source": str(cfg_file)}
    assert values["scan.batch_size"]["source"] == "env ORGANIZER_SCAN_BATCH_SIZE"
    text = runner.invoke(cli, ["--config", str(cfg_file), "config"]).stdout
    assert f"scan.workers = 3    # {cfg_file}" in text

    bad = write(tmp_path / "bad.toml", "[scan]\nworkers = 'x'\n")
    result = runner.invoke(cli, ["--config", str(bad), "status"])
    assert result.exit_code == 1
    assert result.stderr.strip() == f"organizer: error: {bad}: scan.workers: expected a whole number, got 'x'"
    assert "Traceback" not in result.output


@pytest.mark.parametrize(
    "text, message",
    [
        ("[similar]\nsim = nan\n", "similar.sim: expected a number, got nan"),  # nan > 1 and nan < 0 are false
        ("[events]\ngap_hours = inf\n", "events.gap_hours: expected a number, got inf"),
        ("[vectors]\nmean = [1.0, nan, 2.0]\n", "vectors.mean: expected a list of numbers"),
        ("a = " + "[" * 50_000 + "]" * 50_000 + "\n", "invalid TOML: nested too deeply"),  # was a RecursionError
        ("[scan]\nroots = ['\xff']\n".encode("latin-1"), "invalid TOML: not UTF-8"),  # was a UnicodeDecodeError
        ("# " + "x" * (2 << 20) + "\n", "not a config file: larger than 1024 KB"),
        ("[schedule]\nrecluster = '99999999999999999999999d'\n", "schedule.recluster: an interval must be at most"),
    ],
    ids=["nan", "inf", "nan-in-list", "deep", "not-utf8", "huge", "long-interval"],
)
def test_hostile_file_is_a_message_naming_key_and_file(tmp_path: Path, text: str | bytes, message: str) -> None:
    cfg_file = tmp_path / "bad.toml"
    cfg_file.write_bytes(text if isinstance(text, bytes) else text.encode())
    with pytest.raises(ConfigError) as err:
        config.load(cfg_file, env={})
    assert str(cfg_file) in str(err.value) and message in str(err.value)


@pytest.mark.parametrize("var, value, message", [
    ("ORGANIZER_SIMILAR_SIM", "nan", "similar.sim: expected a number, got 'nan'"),
    ("ORGANIZER_PLACES_RADIUS_M", "-inf", "places.radius_m: expected a number"),
    ("ORGANIZER_VECTORS_STD", "[1, 2, inf]", "vectors.std: expected a list of numbers"),
    ("ORGANIZER_SCHEDULE_RESCAN", "1" * 30 + "s", "schedule.rescan: an interval must be at most"),
])
def test_non_finite_environment_values_name_the_variable(var: str, value: str, message: str) -> None:
    with pytest.raises(ConfigError) as err:
        config.load(env={var: value})
    assert var in str(err.value) and message in str(err.value)


def test_config_that_is_a_device_or_fifo_is_refused_at_once(tmp_path: Path) -> None:
    """A symlink to /dev/zero, a FIFO or a folder named as the config: one line saying what it is,
    never a read that does not end."""
    (tmp_path / "zero.toml").symlink_to("/dev/zero")
    os.mkfifo(tmp_path / "fifo.toml")
    for name in ("zero.toml", "fifo.toml", "."):
        with pytest.raises(ConfigError, match="not a regular file"):
            config.load(tmp_path / name, env={})
        with pytest.raises(ConfigError, match="not a regular file"):
            config.load(env={"ORGANIZER_CONFIG": str(tmp_path / name)})
    result = CliRunner().invoke(cli, ["--config", str(tmp_path / "zero.toml"), "status"])
    assert result.exit_code == 1 and "not a regular file" in result.output and "Traceback" not in result.output


def _bounded() -> list[tuple[str, float, float]]:
    """Every key with an upper limit: (key, its lower limit, its upper limit)."""
    return [(f"{s}.{f.name}", f.metadata["min"], f.metadata["max"]) for s, cls in config.SECTIONS.items()
            for f in dataclasses.fields(cls) if f.metadata.get("max") is not None]


def test_huge_workers_is_a_one_line_error_naming_the_bound() -> None:
    """A typo (800 for 8) or a huge number must not start that many worker processes."""
    huge = "99999999999999999999999"
    with pytest.raises(ConfigError) as err:
        config.load(env={"ORGANIZER_SCAN_WORKERS": huge})
    assert str(err.value) == (f"environment variable ORGANIZER_SCAN_WORKERS: scan.workers: "
                              f"must be at most 64, got {huge}")
    result = CliRunner().invoke(cli, ["config"], env={"ORGANIZER_SCAN_WORKERS": "800"})
    assert result.exit_code == 1 and "scan.workers: must be at most 64, got 800" in result.output
    assert "Traceback" not in result.output and len(result.output.strip().splitlines()) == 1


@pytest.mark.parametrize(("key", "low", "high"), _bounded())
def test_upper_limits_name_key_bound_and_file(tmp_path: Path, key: str, low: float, high: float) -> None:
    section, name = key.split(".")
    typ = type(getattr(config.SECTIONS[section](), name))
    over = typ(high) + 1
    cfg_file = write(tmp_path / "c.toml", f"[{section}]\n{name} = {over!r}\n")
    with pytest.raises(ConfigError) as err:
        config.load(cfg_file, env={})
    assert str(err.value) == f"{cfg_file}: {key}: must be at most {high}, got {over!r}"
    env = {f"ORGANIZER_{section.upper()}_{name.upper()}": repr(typ(high))}
    needs = {"vectors.input_size": "VECTORS_RESIZE", "similar.hog_pixels_per_cell": "SIMILAR_HOG_SIZE"}
    if key in needs:  # the crop must fit in the resize, a cell in the hog image
        env[f"ORGANIZER_{needs[key]}"] = str(int(high))
    assert config.load(env=env).value(key) == high


def test_configuration_doc_lists_every_upper_limit() -> None:
    doc = (ROOT / "docs" / "configuration.md").read_text()
    rows = {line for line in doc.splitlines() if line.startswith("| `")}
    assert rows == {f"| `{key}` | {low:g} | {high:g} |" for key, low, high in _bounded()}
