"""Run history end to end, through the gateway, as a training script would log it.

- a script that is a W&B script with ``import cairn as wandb`` logs 20,000 steps and reads every
  row back with ``api.run(path).scan_history()`` right after ``run.finish()`` returns;
- a run keeps logging while the gateway is down (its rows spool to disk) and is complete once
  the gateway is back;
- an offline run is complete after ``cairn sync``, and a second sync stores nothing twice.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

import cairn
from tests.conftest import stack_env
from tests.e2e.conftest import cairn_dev

TIMEOUT_S = 600


@pytest.fixture
def user_env(unique: str, tmp_path: Path) -> Iterator[dict[str, str]]:
    """A new user's key in the environment that scripts (and the SDK here) read."""
    base_url, admin = stack_env("CAIRN_BASE_URL"), stack_env("CAIRN_API_KEY")
    response = httpx.post(
        f"{base_url}/ingest/v1/users",
        json={"name": f"hist-{unique}"},
        headers={"Authorization": f"Bearer {admin}"},
        timeout=30,
    )
    assert response.status_code == 201, response.text
    env = {
        "CAIRN_BASE_URL": base_url,
        "CAIRN_API_KEY": response.json()["api_key"],
        "CAIRN_CONFIG_DIR": str(tmp_path / "config"),
        "CAIRN_DIR": str(tmp_path),
        "CAIRN_SILENT": "1",
    }
    saved = {name: os.environ.get(name) for name in env}
    os.environ.update(env)
    yield {**os.environ, **env}
    for name, value in saved.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value


def script(env: dict[str, str], code: str, cwd: Path) -> dict[str, object]:
    """Run ``code`` as a user's script; it prints one JSON object last."""
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        env=env,
        cwd=cwd,
        timeout=TIMEOUT_S,
        check=False,
    )
    assert done.returncode == 0, f"{done.stdout}\n{done.stderr}"
    result: dict[str, object] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def test_a_wandb_script_reads_back_20000_rows_right_after_finish(
    user_env: dict[str, str], tmp_path: Path
) -> None:
    result = script(
        user_env,
        """
        import json, math, time
        import cairn as wandb

        run = wandb.init(project="history-e2e", config={"lr": 0.01, "epochs": 2})
        started = time.perf_counter()
        for step in range(20_000):
            loss = math.exp(-step / 5000)
            wandb.log({"loss": loss, "acc": step / 20_000, "epoch": step // 10_000})
        logging_s = time.perf_counter() - started
        wandb.run.summary["best_acc"] = 0.99
        wandb.config.update({"batch_size": 64})
        path = run.path
        finishing = time.perf_counter()
        run.finish()
        finish_s = time.perf_counter() - finishing

        api = wandb.Api()
        remote = api.run(path)
        rows = list(remote.scan_history(page_size=5_000))
        sampled = remote.history(samples=200, keys=["loss"], pandas=False)
        print(json.dumps({
            "path": path,
            "rows": len(rows),
            "steps_in_order": [r["_step"] for r in rows] == list(range(20_000)),
            "last_loss": rows[-1]["loss"],
            "sampled": len(sampled),
            "sampled_keeps_max": max(r["loss"] for r in sampled),
            "summary": remote.summary,
            "config": remote.config,
            "state": remote.state,
            "logging_us_per_call": logging_s / 20_000 * 1e6,
            "finish_s": finish_s,
        }))
        """,
        tmp_path,
    )
    assert result["rows"] == 20_000
    assert result["steps_in_order"] is True
    assert result["sampled"] <= 200  # type: ignore[operator]
    assert result["sampled_keeps_max"] == 1.0  # step 0's loss: the extreme survives sampling
    summary = result["summary"]
    assert isinstance(summary, dict)
    assert summary["best_acc"] == 0.99
    assert summary["_step"] == 19_999
    assert summary["loss"] == result["last_loss"]
    assert result["config"] == {"lr": 0.01, "epochs": 2, "batch_size": 64}
    assert result["state"] == "finished"


def test_rows_logged_while_the_gateway_is_down_arrive_once_it_is_back(
    user_env: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CAIRN_SPOOL_AFTER_S", "1")
    run = cairn.init(project="history-outage")
    for step in range(1_000):
        run.log({"x": step})
    time.sleep(1.0)  # those are sent
    spooled: list[Path] = []
    try:
        cairn_dev("down", "gateway")
        for step in range(1_000, 4_000):
            run.log({"x": step})
        deadline = time.monotonic() + 60
        while not spooled:
            assert time.monotonic() < deadline, "nothing was spooled"
            time.sleep(0.2)
            spooled = list((tmp_path / "cairn").glob(f"run-*-{run.id}/batches/*.json.gz"))
    finally:
        cairn_dev("up", "gateway")
    for step in range(4_000, 5_000):
        run.log({"x": step})
    run.finish()
    remote = cairn.Api().run(run.path)
    assert [row["x"] for row in remote.scan_history(page_size=10_000)] == list(range(5_000))
    assert remote.state == "finished"
    assert not list((tmp_path / "cairn").glob(f"run-*-{run.id}"))  # the spool drained


def test_an_offline_run_is_complete_after_cairn_sync(
    user_env: dict[str, str], tmp_path: Path
) -> None:
    offline = {**user_env, "CAIRN_MODE": "offline", "CAIRN_BASE_URL": "http://127.0.0.1:9"}
    result = script(
        offline,
        """
        import json
        import cairn as wandb

        run = wandb.init(project="history-offline", config={"lr": 0.1})
        for step in range(5_000):
            run.log({"loss": 1 / (step + 1)})
        run.log({"val": 1.0}, step=6_000)
        run.summary["best"] = 0.5
        run.config.update({"bs": 8})
        run.finish()
        print(json.dumps({"id": run.id}))
        """,
        tmp_path,
    )
    (directory,) = (tmp_path / "cairn").glob(f"offline-run-*-{result['id']}")
    cli = Path(sys.executable).with_name("cairn")
    first = subprocess.run(
        [str(cli), "sync", str(directory)],
        capture_output=True,
        text=True,
        env=user_env,
        timeout=TIMEOUT_S,
        check=False,
    )
    assert first.returncode == 0, first.stdout + first.stderr
    assert "finished (exit code 0)" in first.stdout
    api = cairn.Api()
    user = api.default_entity
    remote = api.run(f"{user}/history-offline/{result['id']}")
    steps = [row["_step"] for row in remote.scan_history(page_size=10_000)]
    assert steps == [*range(5_000), 6_000]
    assert remote.summary["best"] == 0.5
    assert remote.config == {"lr": 0.1, "bs": 8}
    assert remote.state == "finished"

    again = subprocess.run(
        [str(cli), "sync", "--include-synced", str(directory)],
        capture_output=True,
        text=True,
        env=user_env,
        timeout=TIMEOUT_S,
        check=False,
    )
    assert again.returncode == 0, again.stdout + again.stderr
    reread = api.run(f"{user}/history-offline/{result['id']}")
    assert len(list(reread.scan_history(page_size=10_000))) == 5_001  # stored once
