"""Services and workers in the local stack: the gateway routes the services (GATEWAY_SERVICES)
only; a worker (WORKERS: ingest's history writer) has no public route, yet up, down, kill, status,
logs and replicas treat it exactly like a service (with stand-in processes: nothing is started)."""

import os
import re
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from cairn_dev import instances, ports, process, settings, stack, state
from cairn_dev.cli import main
from cairn_dev.components import create
from cairn_dev.components.gateway import Gateway
from cairn_dev.components.services import Service, module
from click.testing import CliRunner

from tests.unit.dev.test_dev_replicas import _stand_in

WORKER = "history-writer"


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for var in [name for name in os.environ if name.startswith("CAIRN_DEV_")]:
        monkeypatch.delenv(var)  # the developer's own stack settings must not leak in
    monkeypatch.delenv("CAIRN_KAFKA_PARTITIONS", raising=False)
    monkeypatch.setenv("CAIRN_DEV_HOME", str(tmp_path / "stack"))
    return tmp_path / "stack"


def _directives(config: str) -> str:
    """The nginx config without its comments."""
    return "\n".join(line for line in config.splitlines() if not line.strip().startswith("#"))


# ---- the two kinds ---------------------------------------------------------------------------


def test_services_and_workers_are_disjoint_and_together_are_what_runs_as_replicas() -> None:
    assert WORKER in instances.WORKERS
    assert not set(instances.GATEWAY_SERVICES) & set(instances.WORKERS)
    assert instances.SERVICES == instances.GATEWAY_SERVICES + instances.WORKERS
    assert not set(instances.INFRA) & set(instances.SERVICES)
    # Infrastructure first, then the services, the workers last.
    assert instances.ALL == instances.INFRA + instances.GATEWAY_SERVICES + instances.WORKERS


def test_a_routed_service_name_is_a_plain_url_prefix() -> None:
    # /<service>/... is its route, and nginx's $cairn_service map (the service named in the
    # gateway's own error bodies) matches lowercase letters only.
    for name in instances.GATEWAY_SERVICES:
        assert re.fullmatch(r"[a-z]+", name), name


# ---- a worker is a service to up, down, kill, status, logs and replicas ----------------------


def test_a_worker_has_replicas_ports_and_a_port_variable_like_a_service() -> None:
    resolved = ports.with_replicas(ports.resolve({}, {}), instances.SERVICES, 2)

    assert instances.split(f"{WORKER}.2") == (WORKER, 2)
    assert instances.select([WORKER], 2) == [WORKER, f"{WORKER}.2"]
    assert instances.select([], 2)[-2:] == [WORKER, f"{WORKER}.2"]
    assert instances.label(WORKER, 2) == f"{WORKER}.1"
    assert (resolved[WORKER], resolved[f"{WORKER}.2"]) == (18086, 18186)
    assert ports.env_var(f"{WORKER}.2") == "CAIRN_DEV_HISTORY_WRITER_PORT"
    assert ports.resolve({"CAIRN_DEV_HISTORY_WRITER_PORT": "28086"}, {})[WORKER] == 28086


def test_the_worker_runs_ingests_history_writer_on_its_own_port(home: Path) -> None:
    loaded = settings.load(replicas=2)
    worker, ingest = create(f"{WORKER}.2", loaded), create("ingest", loaded)

    assert isinstance(worker, Service)
    assert module(WORKER) == "cairn_ingest.history_writer"
    assert module("manifest") == "cairn_manifest"
    assert worker.command()[1:] == ["-m", "cairn_ingest.history_writer"]
    assert worker.match == "-m cairn_ingest.history_writer"
    env = worker.env()
    assert env["CAIRN_HTTP_PORT"] == "18186"  # its /healthz, /readyz and /metrics
    # Otherwise ingest's settings (same Kafka, MongoDB, S3, admin key).
    assert {k: v for k, v in env.items() if k != "CAIRN_HTTP_PORT"} == {
        k: v for k, v in ingest.env().items() if k != "CAIRN_HTTP_PORT"
    }


@pytest.fixture
def two_worker_replicas(home: Path) -> Iterator[dict[str, subprocess.Popen[bytes]]]:
    loaded = settings.load(replicas=2)
    procs = {name: _stand_in(loaded, name) for name in (WORKER, f"{WORKER}.2")}
    for proc in procs.values():  # wait until each has exec'd, so its cmdline proves it is ours
        for _ in range(200):
            if process.is_alive(proc.pid, "-m cairn_ingest.history_writer"):
                break
            time.sleep(0.01)
    yield procs
    for proc in procs.values():
        if proc.poll() is None:
            proc.kill()
        proc.wait()


def test_status_shows_the_running_worker_replicas(
    two_worker_replicas: dict[str, subprocess.Popen[bytes]],
) -> None:
    rows = {row.name: row for row in stack.status(settings.load())}

    assert rows[f"{WORKER}.1"].pid == two_worker_replicas[WORKER].pid
    assert rows[f"{WORKER}.2"].pid == two_worker_replicas[f"{WORKER}.2"].pid
    assert rows[f"{WORKER}.2"].port == 18186


def test_kill_of_one_worker_replica_leaves_the_other(
    two_worker_replicas: dict[str, subprocess.Popen[bytes]],
) -> None:
    stack.kill(settings.load(), [f"{WORKER}.2"])

    assert two_worker_replicas[f"{WORKER}.2"].wait(timeout=10) is not None
    assert two_worker_replicas[WORKER].poll() is None


def test_down_of_a_worker_stops_every_replica_and_nothing_else(
    two_worker_replicas: dict[str, subprocess.Popen[bytes]],
) -> None:
    result = CliRunner().invoke(main, ["down", WORKER])

    assert result.exit_code == 0, result.output
    for proc in two_worker_replicas.values():
        assert proc.wait(timeout=10) is not None
    assert state.load(settings.load().layout.state_file) == {}


def test_up_with_fewer_replicas_stops_the_extra_worker(
    two_worker_replicas: dict[str, subprocess.Popen[bytes]],
) -> None:
    stack._scale_down(settings.load(replicas=1), [WORKER])

    assert two_worker_replicas[f"{WORKER}.2"].wait(timeout=10) is not None
    assert two_worker_replicas[WORKER].poll() is None


def test_the_cli_takes_worker_names(home: Path) -> None:
    runner = CliRunner()

    assert f"{WORKER}.2: not running" in runner.invoke(main, ["kill", f"{WORKER}.2"]).output
    logs = runner.invoke(main, ["logs", WORKER])
    assert logs.exit_code == 1
    assert f"cairn-dev up {WORKER}" in logs.output


def test_help_tells_the_services_from_the_workers(home: Path) -> None:
    output = CliRunner().invoke(main, ["--help"]).output
    lines = {line.split()[0]: line for line in output.splitlines() if line.strip()}

    assert lines["services"].split(None, 1)[1] == ", ".join(instances.GATEWAY_SERVICES)
    assert lines["workers"].split(None, 1)[1] == ", ".join(instances.WORKERS)
    assert "CAIRN_DEV_HISTORY_WRITER_PORT" in output


# ---- the gateway routes the services only ------------------------------------------------------


def test_the_gateway_routes_every_service_replica_and_never_a_worker(home: Path) -> None:
    loaded = settings.load(replicas=2)
    config = _directives(Gateway(loaded).render())

    upstreams = set(re.findall(r"upstream cairn_(\S+) \{", config))
    locations = set(re.findall(r"location /([^/\s]+)/ \{", config))
    assert upstreams == locations == set(instances.GATEWAY_SERVICES)
    for name in instances.GATEWAY_SERVICES:
        for replica in instances.replicas_of(name, 2):
            assert f"server 127.0.0.1:{loaded.ports[replica]} max_fails=0;" in config
    for name in instances.WORKERS:
        assert name not in config
        for replica in instances.replicas_of(name, 2):
            assert f"127.0.0.1:{loaded.ports[replica]}" not in config
    # The gateway's 404 names what it serves: the services, not the workers.
    (served,) = re.findall(r"the gateway serves ([^\"]+)\"", config)
    assert served == ", ".join(f"/{name}/" for name in instances.GATEWAY_SERVICES)
