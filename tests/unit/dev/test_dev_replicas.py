"""Replicas in the local stack: names, ports, settings, the gateway's upstreams, and how up, down,
kill and status treat them (with stand-in processes: no service is started)."""

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from cairn_dev import instances, ports, process, settings, stack, state
from cairn_dev.cli import main
from cairn_dev.components import create
from cairn_dev.components.gateway import Gateway
from cairn_dev.errors import CairnDevError
from click.testing import CliRunner


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for var in [name for name in os.environ if name.startswith("CAIRN_DEV_")]:
        monkeypatch.delenv(var)  # the developer's own stack settings must not leak in
    monkeypatch.delenv("CAIRN_KAFKA_PARTITIONS", raising=False)
    monkeypatch.setenv("CAIRN_DEV_HOME", str(tmp_path / "stack"))
    return tmp_path / "stack"


# ---- names ----------------------------------------------------------------------------------


def test_replica_one_keeps_the_plain_name_and_the_others_are_numbered() -> None:
    assert instances.replicas_of("manifest", 3) == ["manifest", "manifest.2", "manifest.3"]
    assert instances.split("manifest") == ("manifest", 1)
    assert instances.split("manifest.1") == ("manifest", 1)
    assert instances.split("manifest.12") == ("manifest", 12)
    assert instances.split("kafka") == ("kafka", 1)


@pytest.mark.parametrize(
    ("name", "why"),
    [
        ("postgres", "unknown component"),
        ("kafka.2", "only services have replicas"),
        ("manifest.0", "numbered from 1"),
        ("manifest.x", "numbered from 1"),
        ("manifest.", "numbered from 1"),
    ],
)
def test_bad_names_say_what_is_accepted(name: str, why: str) -> None:
    with pytest.raises(ValueError, match=why):
        instances.split(name)


def test_a_service_means_all_its_replicas_in_start_order() -> None:
    everything = instances.select([], 2)

    assert everything[:4] == ["kafka", "mongo", "s3", "gateway"]
    assert everything[4:8] == ["ingest", "ingest.2", "manifest", "manifest.2"]
    assert len(everything) == len(instances.INFRA) + len(instances.SERVICES) * 2
    assert instances.select(["storage", "kafka"], 3) == [
        "kafka",
        "storage",
        "storage.2",
        "storage.3",
    ]
    assert instances.select(["manifest.2", "manifest.1"], 2) == ["manifest", "manifest.2"]
    assert instances.select(["manifest.4"], 2) == ["manifest.4"]  # named above the count


def test_status_labels_number_replica_one_only_when_there_are_several() -> None:
    assert instances.label("manifest", 1) == "manifest"
    assert instances.label("manifest", 2) == "manifest.1"
    assert instances.label("manifest.2", 2) == "manifest.2"
    assert instances.label("kafka", 2) == "kafka"


# ---- ports ----------------------------------------------------------------------------------


def test_replica_ports_step_by_100_from_the_service_port() -> None:
    resolved = ports.with_replicas(ports.resolve({}, {}), instances.SERVICES, 3)

    assert resolved["ingest"] == 18081
    assert resolved["ingest.2"] == 18181
    assert resolved["automations.3"] == 18285
    assert "kafka.2" not in resolved


def test_moving_a_service_port_moves_its_replicas() -> None:
    env = {"CAIRN_DEV_MANIFEST_PORT": "28082"}

    resolved = ports.with_replicas(ports.resolve(env, {}), instances.SERVICES, 2)

    assert resolved["manifest.2"] == 28182


def test_a_replica_port_that_clashes_names_the_variable_and_the_rule() -> None:
    env = {"CAIRN_DEV_GATEWAY_PORT": "18181"}  # where ingest.2 would listen

    with pytest.raises(ValueError, match="CAIRN_DEV_INGEST_PORT or CAIRN_DEV_GATEWAY_PORT") as exc:
        ports.with_replicas(ports.resolve(env, {}), instances.SERVICES, 2)
    assert "(k - 1) x 100" in str(exc.value)


def test_replica_ports_past_65535_are_refused() -> None:
    env = {"CAIRN_DEV_REGISTRY_PORT": "65500"}

    with pytest.raises(ValueError, match=r"registry\.2 would listen on port 65600"):
        ports.with_replicas(ports.resolve(env, {}), instances.SERVICES, 2)


# ---- settings -------------------------------------------------------------------------------


def test_one_replica_unless_asked(home: Path) -> None:
    loaded = settings.load()

    assert (loaded.replicas, loaded.running_replicas, loaded.known_replicas) == (1, 1, 1)
    assert "ingest.2" not in loaded.ports


def test_replicas_from_the_env_or_the_flag(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CAIRN_DEV_REPLICAS", "3")

    assert settings.load().replicas == 3
    assert settings.load(replicas=2).replicas == 2  # --replicas wins
    assert settings.load().ports["storage.3"] == 18283
    assert settings.load().replica_ports("storage") == [18083, 18183, 18283]


@pytest.mark.parametrize("raw", ["0", "7", "two"])
def test_a_bad_replica_count_is_explained(
    home: Path, monkeypatch: pytest.MonkeyPatch, raw: str
) -> None:
    monkeypatch.setenv("CAIRN_DEV_REPLICAS", raw)

    with pytest.raises(CairnDevError, match="CAIRN_DEV_REPLICAS"):
        settings.load()


def test_no_more_replicas_than_partitions(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(CairnDevError, match=r"1 to 6 replicas .* partitions"):
        settings.load(replicas=7)

    monkeypatch.setenv("CAIRN_KAFKA_PARTITIONS", "12")
    assert settings.load(replicas=7).replicas == 7


# ---- the gateway ----------------------------------------------------------------------------


def test_the_gateway_balances_over_every_wanted_replica(home: Path) -> None:
    config = Gateway(settings.load(replicas=2)).render()

    assert "server 127.0.0.1:18082 max_fails=0;" in config
    assert "server 127.0.0.1:18182 max_fails=0;" in config
    assert "server 127.0.0.1:18185 max_fails=0;" in config
    assert "127.0.0.1:18282" not in config


def test_the_gateway_config_of_one_replica_is_unchanged(home: Path) -> None:
    config = Gateway(settings.load()).render()

    assert "upstream cairn_ingest {\n        server 127.0.0.1:18081 max_fails=0;\n" in config
    assert ":18181" not in config


def test_refresh_reloads_nginx_only_when_the_upstreams_change(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    signals: list[tuple[int, int]] = []
    monkeypatch.setattr(os, "kill", lambda pid, sig: signals.append((pid, sig)))
    monkeypatch.setattr(Gateway, "install", lambda self: None)
    monkeypatch.setattr(Gateway, "_write_checked", lambda self, text: self.conf.write_text(text))
    one, two = Gateway(settings.load()), Gateway(settings.load(replicas=2))
    one.conf.parent.mkdir(parents=True, exist_ok=True)
    one.conf.write_text(one.render())

    assert not one.refresh(4242)
    assert two.refresh(4242)
    assert ":18182" in two.conf.read_text()
    assert len(signals) == 1
    assert signals[0][0] == 4242


# ---- up, down, kill, status with stand-in processes -----------------------------------------


def _stand_in(s: settings.Settings, name: str) -> subprocess.Popen[bytes]:
    """A sleeping process that looks like the instance to cairn-dev (pid file, state record)."""
    comp = create(name, s)
    argv = [sys.executable, "-c", "import time; time.sleep(60)", comp.match]
    proc, _ = process.spawn(argv, env=os.environ, cwd=s.layout.home, log_file=comp.log_file)
    process.write_pid(s.layout.pid_file(name), proc.pid)
    records = state.load(s.layout.state_file)
    records[name] = state.Record(pid=proc.pid, match=comp.match, backend="x", ports=comp.ports)
    state.save(s.layout.state_file, records)
    return proc


@pytest.fixture
def two_ingest_replicas(home: Path) -> Iterator[dict[str, subprocess.Popen[bytes]]]:
    loaded = settings.load(replicas=2)
    procs = {name: _stand_in(loaded, name) for name in ("ingest", "ingest.2")}
    for proc in procs.values():  # wait until each has exec'd, so its cmdline proves it is ours
        for _ in range(200):
            if process.is_alive(proc.pid, "-m cairn_ingest"):
                break
            time.sleep(0.01)
    yield procs
    for proc in procs.values():
        if proc.poll() is None:
            proc.kill()
        proc.wait()


def test_a_new_shell_finds_the_running_replicas(
    two_ingest_replicas: dict[str, subprocess.Popen[bytes]],
) -> None:
    loaded = settings.load()

    assert (loaded.replicas, loaded.running_replicas) == (2, 2)
    assert [row.name for row in stack.status(loaded)][4:8] == [
        "ingest.1",
        "ingest.2",
        "manifest.1",
        "manifest.2",
    ]


def test_up_with_fewer_replicas_stops_the_extra_ones(
    two_ingest_replicas: dict[str, subprocess.Popen[bytes]],
) -> None:
    loaded = settings.load(replicas=1)
    assert loaded.known_replicas == 2

    stack._scale_down(loaded, ["ingest"])

    assert two_ingest_replicas["ingest.2"].wait(timeout=10) is not None
    assert two_ingest_replicas["ingest"].poll() is None
    assert settings.load().running_replicas == 1


def test_kill_of_one_replica_leaves_the_other(
    two_ingest_replicas: dict[str, subprocess.Popen[bytes]],
) -> None:
    stack.kill(settings.load(), ["ingest.2"])

    assert two_ingest_replicas["ingest.2"].wait(timeout=10) is not None
    assert two_ingest_replicas["ingest"].poll() is None


def test_down_of_a_service_stops_every_replica_even_above_the_wanted_count(
    two_ingest_replicas: dict[str, subprocess.Popen[bytes]],
) -> None:
    stack.down(settings.load(replicas=1), ["ingest"])

    for proc in two_ingest_replicas.values():
        assert proc.wait(timeout=10) is not None
    assert state.load(settings.load().layout.state_file) == {}


def test_up_of_a_replica_above_the_count_says_how_to_get_it(home: Path) -> None:
    with pytest.raises(CairnDevError, match=r"up --replicas 3"):
        stack.up(settings.load(replicas=2), ["manifest.3"])


# ---- the command line -----------------------------------------------------------------------


def test_the_cli_takes_replica_names(home: Path) -> None:
    runner = CliRunner()

    assert "manifest.2: not running" in runner.invoke(main, ["down", "manifest.2"]).output
    refused = runner.invoke(main, ["kill", "kafka.2"])
    assert refused.exit_code == 2
    assert "only services have replicas" in refused.output
    logs = runner.invoke(main, ["logs", "manifest.2"])
    assert "cairn-dev up manifest.2" in logs.output


def test_up_refuses_more_replicas_than_partitions_before_starting_anything(home: Path) -> None:
    result = CliRunner().invoke(main, ["up", "--replicas", "9"])

    assert result.exit_code == 1
    assert "--replicas=9: expected 1 to 6 replicas" in result.output
    assert not (home / "state.json").exists()


def test_status_lists_every_replica(home: Path) -> None:
    result = CliRunner().invoke(main, ["status"], env={"CAIRN_DEV_REPLICAS": "2"})

    assert result.exit_code == 0, result.output
    names = [line.split()[0] for line in result.output.splitlines()[1:17]]
    assert names[4:6] == ["ingest.1", "ingest.2"]
    assert names[-4:] == ["automations.1", "automations.2", "history-writer.1", "history-writer.2"]
