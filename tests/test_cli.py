"""The command line contract: help, documentation, exit codes."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from organizer.cli import cli

from conftest import ROOT


def test_every_command_has_help_and_is_documented() -> None:
    docs = (ROOT / "docs" / "cli.md").read_text()
    runner = CliRunner()
    assert runner.invoke(cli, ["--help"]).exit_code == 0
    for name, command in cli.commands.items():
        result = runner.invoke(cli, [name, "--help"])
        assert result.exit_code == 0, name
        assert f"## organizer {name}" in docs, f"docs/cli.md does not document `organizer {name}`"
        for param in command.params:
            for opt in param.opts:
                if opt.startswith("--") and opt != "--help":
                    assert opt in docs, f"docs/cli.md does not mention {opt} of `organizer {name}`"


@pytest.mark.parametrize("args", [["nonsense"], ["scan", "--bogus"], ["explain"]])
def test_usage_errors_exit_2(args: list[str]) -> None:
    assert CliRunner().invoke(cli, args).exit_code == 2


def test_status_without_a_catalog_is_a_user_error(tmp_path) -> None:
    result = CliRunner().invoke(cli, ["--catalog", str(tmp_path / "none.db"), "status"])
    assert result.exit_code == 1
    assert result.stderr.startswith("organizer: error: ") and "no catalog here yet" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize("args", [["status"], ["scan"], ["errors"]])
def test_a_file_that_is_not_a_catalog_is_a_user_error(tmp_path, args: list[str]) -> None:
    junk = tmp_path / "catalog.db"
    junk.write_bytes(b"these are not the bytes of a SQLite database" * 100)
    if args == ["scan"]:
        (tmp_path / "p").mkdir()
        args = ["scan", str(tmp_path / "p")]
    result = CliRunner().invoke(cli, ["--catalog", str(junk), *args])
    assert result.exit_code == 1, result.output
    assert result.stderr.strip() == f"organizer: error: {junk}: cannot open the catalog: file is not a database"
    assert junk.read_bytes().startswith(b"these are not")  # left as it was
