"""Seed 002 (the Artifacts guide): its snippets run with only the import changed."""

from __future__ import annotations

import os
from pathlib import Path

from tests.e2e.conftest import User, UserFactory
from tests.e2e.seeds import run_script, snippets

SEED = "002_db8ad06b3a8c85f6.txt"


def sdk_env(user: User, base_url: str, tmp_path: Path) -> dict[str, str]:
    return {
        "CAIRN_BASE_URL": base_url,
        "CAIRN_API_KEY": user.key,
        "CAIRN_CACHE_DIR": str(tmp_path / "cache"),
        "CAIRN_CONFIG_DIR": str(tmp_path / "config"),
    }


async def test_the_artifacts_guide_runs_as_written(
    new_user: UserFactory, base_url: str, tmp_path: Path
) -> None:
    user = await new_user("seed")
    work = tmp_path / "work"
    work.mkdir()
    original = os.urandom(256 * 1024)
    (work / "dataset.h5").write_bytes(original)
    create, use, download = snippets(SEED)
    env = sdk_env(user, base_url, tmp_path)

    # As written, the guide asks for the entry name instead of the artifact's name: Cairn says so.
    as_written = run_script("\n".join([create, use, download]), work, env)
    assert as_written.returncode != 0
    assert "no artifact 'training_dataset'" in as_written.stderr
    assert "'training_dataset' is a file in artifact 'example_artifact'" in as_written.stderr

    # With the artifact's name, the download holds the original bytes.
    fixed = use.replace("training_dataset:latest", "example_artifact:latest")
    done = run_script(
        "\n".join([create, fixed, download, "print('DATADIR=' + datadir)"]), work, env
    )
    assert done.returncode == 0, done.stderr
    datadir = Path(done.stdout.split("DATADIR=")[-1].strip())
    if not datadir.is_absolute():
        datadir = work / datadir
    assert (datadir / "training_dataset").read_bytes() == original
