"""The cairn-dev command line, on an empty stack home (nothing is started)."""

import os
import shlex
from pathlib import Path

import pytest
from cairn_dev import logs
from cairn_dev.cli import main
from cairn_dev.paths import repo_root
from cairn_dev.testrun import pytest_argv
from click.testing import CliRunner


@pytest.fixture
def runner(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    for var in [name for name in os.environ if name.startswith("CAIRN_DEV_")]:
        monkeypatch.delenv(var)  # the developer's own stack settings must not leak in
    monkeypatch.setenv("CAIRN_DEV_HOME", str(tmp_path / "stack"))
    return CliRunner()


def test_help_documents_the_commands_and_the_port_variables(runner: CliRunner) -> None:
    result = runner.invoke(main, ["--help"])

    assert result.exit_code == 0
    for word in (
        "up",
        "down",
        "status",
        "logs",
        "env",
        "test",
        "kill",
        "CAIRN_DEV_HOME",
        "CAIRN_DEV_KAFKA_PORT",
        "CAIRN_DEV_S3",
    ):
        assert word in result.output


def test_env_prints_only_export_lines_that_a_shell_can_eval(runner: CliRunner) -> None:
    result = runner.invoke(main, ["env"], env={"CAIRN_DEV_GATEWAY_PORT": "28080"})

    assert result.exit_code == 0, result.output
    exported = dict(
        shlex.split(line.removeprefix("export "))[0].split("=", 1)
        for line in result.output.splitlines()
    )
    assert all(line.startswith("export CAIRN_") for line in result.output.splitlines())
    assert exported["CAIRN_BASE_URL"] == "http://127.0.0.1:28080"
    assert exported["CAIRN_API_KEY"].startswith("cairn_")
    assert set(exported) >= {
        "CAIRN_KAFKA_BOOTSTRAP",
        "CAIRN_MONGO_URL",
        "CAIRN_S3_ENDPOINT",
        "CAIRN_S3_ACCESS_KEY",
        "CAIRN_S3_SECRET_KEY",
        "CAIRN_S3_BUCKET",
        "CAIRN_ADMIN_API_KEY",
    }


def test_status_of_an_empty_home_shows_everything_stopped(runner: CliRunner) -> None:
    result = runner.invoke(main, ["status"])

    assert result.exit_code == 0, result.output
    rows = [line.split() for line in result.output.splitlines()[1:11]]
    assert [row[0] for row in rows] == [
        "kafka",
        "mongo",
        "s3",
        "gateway",
        "ingest",
        "manifest",
        "storage",
        "registry",
        "automations",
        "history-writer",  # the worker: no gateway route, but status shows it like the rest
    ]
    assert all(row[-1] == "stopped" for row in rows)


def test_down_of_nothing_running_is_fine(runner: CliRunner) -> None:
    result = runner.invoke(main, ["down", "mongo"])

    assert result.exit_code == 0, result.output
    assert "mongo: not running" in result.output


def test_an_unknown_component_is_refused(runner: CliRunner) -> None:
    result = runner.invoke(main, ["up", "postgres"])

    assert result.exit_code == 2
    assert "postgres" in result.output


def test_logs_of_a_never_started_component_says_how_to_start_it(runner: CliRunner) -> None:
    result = runner.invoke(main, ["logs", "kafka"])

    assert result.exit_code == 1
    assert "cairn-dev up kafka" in result.output


def test_last_lines_reads_the_tail(tmp_path: Path) -> None:
    log = tmp_path / "x.log"
    log.write_text("".join(f"line {n}\n" for n in range(100_000)))

    assert logs.last_lines(log, 3) == ["line 99997", "line 99998", "line 99999"]
    assert logs.last_lines(log, 0) == []


def test_pytest_runs_all_tests_unless_paths_are_named() -> None:
    repo = repo_root()

    assert pytest_argv(repo, []) == ["tests"]
    assert pytest_argv(repo, ["-k", "kafka", "-x"]) == ["tests", "-k", "kafka", "-x"]
    assert pytest_argv(repo, ["tests/unit", "-q"]) == ["tests/unit", "-q"]
    assert pytest_argv(repo, ["tests/unit/dev/test_dev_cli.py::test_x"]) == [
        "tests/unit/dev/test_dev_cli.py::test_x"
    ]
