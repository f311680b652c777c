"""`cairn-dev test`: the one test command, from lint to end-to-end, against the real stack."""

import os
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import click

from cairn_dev import deploytools, stack
from cairn_dev.components import ALL
from cairn_dev.errors import CairnDevError
from cairn_dev.settings import Settings

MYPY_TARGETS = ("shared", "services", "deploy/local", "cairn")
PYTEST_NO_TESTS = 5


@dataclass(frozen=True)
class Step:
    name: str
    ok: bool
    seconds: float
    note: str = ""


def _banner(text: str) -> None:
    click.secho(f"\n==> {text}", bold=True)


def _run(name: str, argv: Sequence[str], settings: Settings, env: dict[str, str]) -> Step:
    _banner(" ".join(argv[2:]))  # argv is [python, "-m", tool, ...]
    began = time.monotonic()
    code = subprocess.run(list(argv), cwd=settings.repo, env=env, check=False).returncode
    note = "no tests were collected" if code == PYTEST_NO_TESTS and name == "pytest" else ""
    return Step(name, code == 0, time.monotonic() - began, note or f"exit status {code}")


def pytest_argv(repo: Path, args: Sequence[str]) -> list[str]:
    """`tests` plus the extra args, unless the args already name test paths to run."""
    names_paths = any(
        not arg.startswith("-") and (repo / arg.split("::")[0]).exists() for arg in args
    )
    return [*args] if names_paths else ["tests", *args]


def run(settings: Settings, pytest_args: Sequence[str]) -> int:
    """Every step runs even if an earlier one failed; non-zero if any failed."""
    steps: list[Step] = []
    started: list[str] = []
    _banner("cairn-dev up (the whole stack)")
    began = time.monotonic()
    try:
        stack.up(settings, ALL, started=started)
        steps.append(Step("stack up", True, time.monotonic() - began))
    except CairnDevError as exc:
        click.secho(f"Error: {exc.message}", fg="red", err=True)
        steps.append(Step("stack up", False, time.monotonic() - began, "see the error above"))

    # Built here, before pytest, so that tests/deploy finds kustomize cached (about a minute once).
    _banner("cairn-dev tools (kustomize for tests/deploy)")
    began = time.monotonic()
    try:
        click.echo(" ".join(deploytools.kustomize_argv()))
        steps.append(Step("tools", True, time.monotonic() - began))
    except CairnDevError as exc:
        click.secho(f"Error: {exc.message}", fg="red", err=True)
        steps.append(Step("tools", False, time.monotonic() - began, "see the error above"))

    env = {**os.environ, **settings.client_env()}
    python = sys.executable
    try:
        steps.append(_run("ruff", [python, "-m", "ruff", "check", "."], settings, env))
        steps.append(_run("mypy", [python, "-m", "mypy", *MYPY_TARGETS], settings, env))
        pytest = [python, "-m", "pytest", *pytest_argv(settings.repo, pytest_args)]
        steps.append(_run("pytest", pytest, settings, env))
    finally:
        # Leave the stack as we found it; on CI, never leave servers behind.
        to_stop = list(ALL) if os.environ.get("CI") else started
        if to_stop:
            _banner(f"cairn-dev down {' '.join(to_stop)}")
            stack.down(settings, to_stop)

    _banner("summary")
    for step in steps:
        mark = click.style("ok  ", fg="green") if step.ok else click.style("FAIL", fg="red")
        note = "" if step.ok else f"  ({step.note})"
        click.echo(f"  {mark}  {step.name:<9} {step.seconds:6.1f}s{note}")
    return 0 if all(step.ok for step in steps) else 1
