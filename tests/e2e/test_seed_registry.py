"""Seeds 000 (the Model Registry quickstart) and 001 (`link_model`) run with the import swapped,
and the registry then holds what the documents say."""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import quote

import httpx

from tests.e2e.conftest import User, UserFactory
from tests.e2e.seeds import run_script, snippets
from tests.e2e.test_seed_artifacts import sdk_env

QUICKSTART = "000_7086dc50e2995db4.txt"
LINK_MODEL = "001_e91247a21c8f6035.txt"


async def linked_versions(
    http: httpx.AsyncClient, user: User, collection: str
) -> list[dict[str, object]]:
    url = (
        f"/registry/v1/entities/{user.name}/registries/model/collections/"
        f"{quote(collection, safe='')}/versions"
    )
    response = await http.get(url, headers=user.headers)
    assert response.status_code == 200, response.text
    versions: list[dict[str, object]] = response.json()["versions"]
    return versions


async def test_the_quickstart_leaves_a_registered_model_with_staging_and_latest(
    http: httpx.AsyncClient, new_user: UserFactory, base_url: str, tmp_path: Path
) -> None:
    user = await new_user("quick")
    [script] = snippets(QUICKSTART)

    done = run_script(script, tmp_path, sdk_env(user, base_url, tmp_path))

    assert done.returncode == 0, done.stderr
    [version] = await linked_versions(http, user, "Quickstart Model Registry")
    assert set(version["aliases"]) == {"staging", "latest"}  # type: ignore[arg-type]


def link_model_script(call: str, model_dir: Path) -> str:
    """A documented call, with a run to call it on and a real directory for its path."""
    call = call.replace('"/local/directory"', json.dumps(str(model_dir)))
    return "\n".join(
        [
            "import cairn as wandb",
            'run = wandb.init(project="link-model")',
            "try:",
            *(f"    {line}" for line in call.strip().splitlines()),
            "except Exception as exc:",
            "    print('RAISED=' + type(exc).__name__ + ': ' + str(exc))",
            "    raise SystemExit(3)",
            "finally:",
            "    run.finish()",
        ]
    )


async def test_every_link_model_example_behaves_as_documented(
    http: httpx.AsyncClient, new_user: UserFactory, base_url: str, tmp_path: Path
) -> None:
    user = await new_user("link")
    env = sdk_env(user, base_url, tmp_path)
    model_dir = tmp_path / "model"
    model_dir.mkdir()
    (model_dir / "weights.bin").write_bytes(b"\x00" * 4096)
    (model_dir / "config.json").write_text('{"layers": 3}')
    _signature, valid, invalid = snippets(LINK_MODEL)
    registered_path_call, artifact_path_call = invalid.strip().split("\n\n")

    ok = run_script(link_model_script(valid, model_dir), tmp_path, env)
    as_path = run_script(link_model_script(registered_path_call, model_dir), tmp_path, env)
    bad_name = run_script(link_model_script(artifact_path_call, model_dir), tmp_path, env)
    again = run_script(link_model_script(valid, model_dir), tmp_path, env)

    assert ok.returncode == 0, ok.stdout + ok.stderr
    [first] = await linked_versions(http, user, "my_reg_model")
    assert set(first["aliases"]) == {"production", "latest"}  # type: ignore[arg-type]
    assert as_path.returncode == 3
    assert "RAISED=AssertionError" in as_path.stdout
    assert bad_name.returncode == 3
    assert "RAISED=ValueError" in bad_name.stdout
    # The same files again reuse the logged version: still one linked version.
    assert again.returncode == 0, again.stdout + again.stderr
    assert len(await linked_versions(http, user, "my_reg_model")) == 1


async def test_link_model_refuses_an_artifact_whose_type_is_not_a_model(
    new_user: UserFactory, base_url: str, tmp_path: Path
) -> None:
    user = await new_user("typed")
    data = tmp_path / "data.csv"
    data.write_text("a,b\n1,2\n")
    script = "\n".join(
        [
            "import cairn as wandb",
            'run = wandb.init(project="link-model")',
            'dataset = wandb.Artifact("features", type="dataset")',
            f"dataset.add_file({str(data)!r})",
            "run.log_artifact(dataset).wait()",
            "try:",
            f"    run.link_model(path={str(data)!r}, registered_model_name='m', name='features')",
            "except AssertionError as exc:",
            "    print('RAISED=' + str(exc))",
            "finally:",
            "    run.finish()",
        ]
    )

    done = run_script(script, tmp_path, sdk_env(user, base_url, tmp_path))

    assert done.returncode == 0, done.stderr
    assert "RAISED=" in done.stdout
    assert "model" in done.stdout.split("RAISED=")[1]
