"""The service image (deploy/docker/Dockerfile), checked without a Docker engine: the build steps
agree with the workspace, the runtime is slim and non-root, and the entrypoint runs a service by
name (run here with a stand-in python)."""

from __future__ import annotations

import os
import re
import subprocess
import tomllib
from pathlib import Path

import pytest
from cairn_dev import instances
from cairn_dev.components.services import module

from tests.deploy.conftest import REPO

DOCKERFILE = REPO / "deploy/docker/Dockerfile"
ENTRYPOINT = REPO / "deploy/docker/cairn-service"


def instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined and comments dropped."""
    text = re.sub(r"\\\n\s*", " ", DOCKERFILE.read_text())
    result = []
    for line in text.splitlines():
        stripped = line.strip()
        if stripped and not stripped.startswith("#"):
            word, _, rest = stripped.partition(" ")
            result.append((word.upper(), rest.strip()))
    return result


def test_it_is_multi_stage_with_a_slim_non_root_runtime() -> None:
    steps = instructions()
    stages = [args for word, args in steps if word == "FROM"]
    runtime = steps[[i for i, (word, _) in enumerate(steps) if word == "FROM"][-1] :]

    assert len(stages) >= 3  # uv, builder, runtime
    assert stages[-1] == "${PYTHON_IMAGE} AS runtime"
    assert ("ARG", "PYTHON_IMAGE=python:3.11-slim") in steps
    assert ("USER", "10001:10001") in runtime
    copies = [args for word, args in runtime if word == "COPY"]
    assert any(args.startswith("--from=builder /app/.venv") for args in copies)
    assert not any("uv" in args for word, args in runtime if word == "RUN")  # no build tools
    assert ("ENTRYPOINT", '["/usr/local/bin/cairn-service"]') in runtime


def test_the_builder_syncs_the_locked_workspace_without_dev_tools() -> None:
    runs = " ".join(args for word, args in instructions() if word == "RUN")

    assert "uv sync --frozen --all-packages --no-dev --no-install-workspace" in runs
    assert "uv sync --frozen --all-packages --no-dev --no-editable" in runs


def test_the_dependency_layer_copies_every_workspace_member() -> None:
    root = tomllib.loads((REPO / "pyproject.toml").read_text())
    members = {
        path.parent.relative_to(REPO).as_posix()
        for pattern in root["tool"]["uv"]["workspace"]["members"]
        for path in REPO.glob(f"{pattern}/pyproject.toml")
    }
    copied = {
        args.split()[0].removesuffix("/pyproject.toml")
        for word, args in instructions()
        if word == "COPY" and args.split()[0].endswith("/pyproject.toml")
    }

    assert copied == members


def test_uv_is_the_version_the_shim_pins() -> None:
    shim = (REPO / "cairn-dev").read_text()
    (pinned,) = re.findall(r"^UV_VERSION=(\S+)$", shim, re.MULTILINE)

    assert ("ARG", f"UV_IMAGE=ghcr.io/astral-sh/uv:{pinned}") in instructions()


def test_the_build_context_leaves_out_local_state_and_secrets() -> None:
    ignored = set((REPO / ".dockerignore").read_text().split())

    assert {"**/.venv", ".git", ".cairn-dev", ".env", "tests"} <= ignored


@pytest.fixture
def fake_python(tmp_path: Path) -> dict[str, str]:
    """PATH with a `python` that prints its arguments instead of starting a service."""
    (tmp_path / "python").write_text('#!/bin/sh\necho "python $*"\n')
    (tmp_path / "python").chmod(0o755)
    return {**os.environ, "PATH": f"{tmp_path}:{os.environ['PATH']}"}


@pytest.mark.parametrize("service", instances.SERVICES)
def test_the_entrypoint_runs_a_service_or_worker_by_name_as_the_local_stack_does(
    service: str, fake_python: dict[str, str]
) -> None:
    done = subprocess.run(
        [str(ENTRYPOINT), service, "--x"],
        env=fake_python,
        capture_output=True,
        text=True,
        check=True,
    )

    # The same module that cairn-dev runs (history-writer: cairn_ingest.history_writer).
    assert done.stdout.strip() == f"python -m {module(service)} --x"


def test_the_entrypoint_explains_itself_and_runs_anything_else(
    fake_python: dict[str, str],
) -> None:
    usage = subprocess.run([str(ENTRYPOINT)], capture_output=True, text=True, check=True)
    other = subprocess.run(
        [str(ENTRYPOINT), "python", "-V"],
        env=fake_python,
        capture_output=True,
        text=True,
        check=True,
    )

    assert "usage: cairn-service SERVICE" in usage.stdout
    (names,) = re.findall(r"\(SERVICE: ([^)]*)\)", usage.stdout)
    assert names.split() == list(instances.SERVICES)
    assert other.stdout.strip() == "python -V"
