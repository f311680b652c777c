"""Artifacts through the SDK and CLI on the running stack: deduplication measured by storage's
own counters, concurrent loggers, validation at both edges, lineage, and the CLI."""

from __future__ import annotations

import asyncio
import hashlib
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import httpx
import pytest
from cairn_shared.manifests import canonical_bytes

from tests.e2e.conftest import User, UserFactory
from tests.e2e.seeds import run_script
from tests.e2e.test_seed_artifacts import sdk_env


async def stored_bytes(http: httpx.AsyncClient, user: User) -> int:
    response = await http.get(f"/storage/v1/entities/{user.name}/stats", headers=user.headers)
    assert response.status_code == 200, response.text
    return int(response.json()["bytes"])


def log_dir_script(directory: Path, alias: str = "") -> str:
    aliases = f", aliases=[{alias!r}]" if alias else ""
    return textwrap.dedent(
        f"""
        import cairn as wandb
        with wandb.init(project="dedup") as run:
            artifact = wandb.Artifact("data", type="dataset")
            artifact.add_dir({str(directory)!r})
            run.log_artifact(artifact{aliases})
            artifact.wait()
            print("VERSION=" + artifact.version)
        """
    )


def version_of(done: subprocess.CompletedProcess[str]) -> str:
    assert done.returncode == 0, done.stderr
    return done.stdout.split("VERSION=")[-1].strip()


async def test_relogging_the_same_files_uploads_nothing_and_one_change_uploads_one_file(
    http: httpx.AsyncClient, new_user: UserFactory, base_url: str, tmp_path: Path
) -> None:
    user = await new_user("dedup")
    env = sdk_env(user, base_url, tmp_path)
    data = tmp_path / "data"
    data.mkdir()
    for n in range(50):
        (data / f"part-{n:02d}.bin").write_bytes(os.urandom(2048))

    first = version_of(run_script(log_dir_script(data), tmp_path, env))
    after_first = await stored_bytes(http, user)
    second = version_of(run_script(log_dir_script(data, alias="again"), tmp_path, env))
    after_second = await stored_bytes(http, user)
    changed = os.urandom(3000)
    (data / "part-07.bin").write_bytes(changed)
    third = version_of(run_script(log_dir_script(data), tmp_path, env))
    after_third = await stored_bytes(http, user)

    assert (first, second, third) == ("v0", "v0", "v1")
    assert after_first >= 50 * 2048
    assert after_second == after_first  # zero bytes the second time
    manifest_growth = after_third - after_first - len(changed)
    assert 0 < manifest_growth < 20_000  # the changed file and the new manifest, nothing else
    collection = await http.get(
        f"/manifest/v1/entities/{user.name}/projects/dedup/artifacts/data", headers=user.headers
    )
    assert collection.json()["aliases"] == {"latest": 1, "again": 0}


async def test_32_concurrent_loggers_get_32_gapless_versions(
    http: httpx.AsyncClient, new_user: UserFactory, base_url: str, tmp_path: Path
) -> None:
    user = await new_user("race")
    env = {**os.environ, **sdk_env(user, base_url, tmp_path)}
    script = textwrap.dedent(
        """
        import sys
        import cairn as wandb
        with wandb.init(project="race") as run:
            artifact = wandb.Artifact("shared", type="model")
            with artifact.new_file("weights.txt") as f:
                f.write("process " + sys.argv[1])
            run.log_artifact(artifact)
            artifact.wait()
            print(artifact.version)
        """
    )
    (tmp_path / "race.py").write_text(script)
    processes = [
        await asyncio.create_subprocess_exec(
            sys.executable,
            str(tmp_path / "race.py"),
            str(n),
            env=env,
            cwd=tmp_path,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        for n in range(32)
    ]
    outputs = [
        (out.decode(), err.decode())
        for out, err in await asyncio.gather(*(p.communicate() for p in processes))
    ]

    assert all(p.returncode == 0 for p in processes), [err for _, err in outputs if err][:1]
    versions = sorted(int(out.strip().lstrip("v")) for out, _ in outputs)
    assert versions == list(range(32))
    collection = await http.get(
        f"/manifest/v1/entities/{user.name}/projects/race/artifacts/shared", headers=user.headers
    )
    assert collection.json()["aliases"]["latest"] == 31


@pytest.mark.parametrize(
    ("statement", "message"),
    [
        ('wandb.Artifact("bad/name", type="dataset")', "artifact name"),
        ('wandb.Artifact("x" * 129, type="dataset")', "artifact name"),
        ('wandb.Artifact("ok", type="data:set")', "type"),
        ('a = wandb.Artifact("ok", type="dataset"); a.add_file(__file__, name="../escape")', ".."),
        ('a = wandb.Artifact("ok", type="dataset"); a.add_file(__file__, name="/etc/passwd")', ""),
        (
            'run = wandb.init(project="v"); a = wandb.Artifact("ok", type="dataset");'
            ' a.add_file(__file__); run.log_artifact(a, aliases=["prod/1"])',
            "alias",
        ),
    ],
)
async def test_bad_names_raise_value_error_before_anything_is_sent(
    new_user: UserFactory, base_url: str, tmp_path: Path, statement: str, message: str
) -> None:
    user = await new_user("bad")
    script = "\n".join(
        [
            "import cairn as wandb",
            "try:",
            f"    {statement}",
            "except ValueError as exc:",
            "    print('VALUE_ERROR=' + str(exc))",
        ]
    )

    done = run_script(script, tmp_path, sdk_env(user, base_url, tmp_path))

    assert done.returncode == 0, done.stderr
    assert "VALUE_ERROR=" in done.stdout, done.stdout
    assert message in done.stdout.split("VALUE_ERROR=")[1]


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"name": "bad/name"}, "name"),
        ({"aliases": ["a:b"]}, "alias"),
        ({"type": "data/set"}, "type"),
        ({"path": "../outside"}, "path"),
        ({"path": "/abs/path"}, "path"),
        ({"metadata": {f"k{n}": n for n in range(101)}}, "metadata"),
    ],
)
async def test_bad_submissions_are_4xx_from_the_api_and_store_nothing(
    http: httpx.AsyncClient, new_user: UserFactory, change: dict[str, object], field: str
) -> None:
    user = await new_user("api")
    path = str(change.pop("path", "data.csv"))
    manifest = canonical_bytes({"contents": {path: {"digest": "a" * 64, "size": 1}}, "version": 1})
    body = {
        "name": "ok",
        "type": "dataset",
        "client_id": "6a1e1c1e-0000-4000-8000-000000000000",
        "manifest_digest": hashlib.sha256(manifest).hexdigest(),
        "manifest_json": manifest.decode(),
        **change,
    }

    response = await http.post(
        f"/ingest/v1/entities/{user.name}/projects/p/artifacts", json=body, headers=user.headers
    )
    listing = await http.get(
        f"/manifest/v1/entities/{user.name}/projects/p/artifacts", headers=user.headers
    )

    assert 400 <= response.status_code < 500, response.text
    assert field in response.text.lower()
    assert listing.json()["artifacts"] == []


async def test_lineage_shows_who_logged_and_who_used_a_version(
    http: httpx.AsyncClient, new_user: UserFactory, base_url: str, tmp_path: Path
) -> None:
    user = await new_user("lineage")
    env = sdk_env(user, base_url, tmp_path)
    script = textwrap.dedent(
        """
        import cairn as wandb
        with wandb.init(project="lin", job_type="prep", id="producer1") as run:
            artifact = wandb.Artifact("features", type="dataset")
            with artifact.new_file("f.csv") as f:
                f.write("a,b")
            run.log_artifact(artifact)
        with wandb.init(project="lin", job_type="train", id="consumer1") as run:
            run.use_artifact("features:latest").download()
        """
    )

    done = run_script(script, tmp_path, env)

    assert done.returncode == 0, done.stderr
    version = await http.get(
        f"/manifest/v1/entities/{user.name}/projects/lin/artifacts/features/versions/v0",
        headers=user.headers,
    )
    assert version.json()["logged_by"] == f"{user.name}/lin/producer1"
    assert version.json()["used_by"] == [f"{user.name}/lin/consumer1"]


async def test_cli_put_get_ls(new_user: UserFactory, base_url: str, tmp_path: Path) -> None:
    user = await new_user("cli")
    env = {**os.environ, **sdk_env(user, base_url, tmp_path)}
    source = tmp_path / "model"
    source.mkdir()
    (source / "w.bin").write_bytes(os.urandom(10_000))

    def cairn(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "cairn", *args],
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )

    put = cairn(
        "artifact",
        "put",
        str(source),
        "--name",
        "proj/clf",
        "--type",
        "model",
        "--alias",
        "candidate",
    )
    got = cairn("artifact", "get", "proj/clf:candidate", "--root", str(tmp_path / "out"))
    listed = cairn("artifact", "ls", "proj")

    assert put.returncode == 0, put.stderr
    assert "clf:v0" in put.stdout
    assert got.returncode == 0, got.stderr
    assert (tmp_path / "out" / "w.bin").read_bytes() == (source / "w.bin").read_bytes()
    assert listed.returncode == 0, listed.stderr
    assert "clf" in listed.stdout
