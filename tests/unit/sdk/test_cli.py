"""``cairn artifact``: put, get and ls through the fake API."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from cairn.cli import main
from tests.unit.sdk.fakes import FakeCairn


@pytest.mark.parametrize(
    "args",
    [
        [],
        ["artifact"],
        ["artifact", "put"],
        ["artifact", "get"],
        ["artifact", "ls"],
        ["artifact", "cache"],
        ["artifact", "cache", "cleanup"],
    ],
)
def test_every_command_has_help(args: list[str]) -> None:
    result = CliRunner().invoke(main, [*args, "--help"])
    assert result.exit_code == 0
    assert "Usage:" in result.output


def test_put_get_ls(fake: FakeCairn, tmp_path: Path) -> None:
    src = tmp_path / "model"
    (src / "sub").mkdir(parents=True)
    (src / "w.bin").write_bytes(b"weights")
    (src / "sub" / "cfg.json").write_text("{}")
    for data in (b"weights", b"{}"):
        fake.hold(data)
    runner = CliRunner()
    put = runner.invoke(
        main,
        [
            "artifact",
            "put",
            str(src),
            "--name",
            "team/proj/net",
            "--type",
            "model",
            "--alias",
            "prod",
            "--alias",
            "best",
            "--description",
            "first",
        ],
    )
    assert put.exit_code == 0, put.output
    assert put.stdout.strip() == "net:v0"
    assert "Logged team/proj/net:v0 (2 files" in put.stderr
    (body,) = fake.calls("POST", r"/entities/team/projects/proj/artifacts$")
    assert (body["run_id"], body["aliases"], body["description"]) == ("", ["prod", "best"], "first")

    get = runner.invoke(
        main, ["artifact", "get", "team/proj/net:prod", "--root", str(tmp_path / "out")]
    )
    assert get.exit_code == 0, get.output
    assert get.stdout.strip() == str(tmp_path / "out")
    assert (tmp_path / "out" / "sub" / "cfg.json").read_text() == "{}"

    ls = runner.invoke(main, ["artifact", "ls", "team/proj"])
    assert ls.exit_code == 0, ls.output
    assert "model" in ls.stdout
    assert "net" in ls.stdout
    assert "prod:v0" in ls.stdout


def test_put_of_a_single_file_defaults_entity_and_project(fake: FakeCairn, tmp_path: Path) -> None:
    (tmp_path / "x.csv").write_text("a")
    result = CliRunner().invoke(
        main, ["artifact", "put", str(tmp_path / "x.csv"), "-n", "x", "-t", "data"]
    )
    assert result.exit_code == 0, result.output
    assert fake.calls("POST", r"/entities/alice/projects/uncategorized/artifacts$")


def test_errors_are_one_clear_line(fake: FakeCairn, tmp_path: Path) -> None:
    runner = CliRunner()
    bad = runner.invoke(
        main, ["artifact", "put", str(tmp_path), "--name", "bad name", "--type", "t"]
    )
    assert bad.exit_code == 1
    assert "Error: invalid artifact name 'bad name'" in bad.output
    missing = runner.invoke(main, ["artifact", "get", "p/ghost:latest"])
    assert missing.exit_code == 1
    assert "Error: no artifact 'ghost'" in missing.output
    alias = runner.invoke(
        main, ["artifact", "put", str(tmp_path), "--name", "x:best", "--type", "t"]
    )
    assert alias.exit_code == 2
    assert "use --alias" in alias.output
