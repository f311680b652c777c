"""Port settings of the local stack: defaults, env overrides, sticky ports of running parts."""

import pytest
from cairn_dev import ports


def test_defaults_avoid_the_standard_ports() -> None:
    resolved = ports.resolve({}, {})

    assert resolved == dict(ports.DEFAULT_PORTS)
    assert not {27017, 9000, 9092, 80, 8080} & set(resolved.values())


def test_an_env_var_overrides_one_port() -> None:
    resolved = ports.resolve({"CAIRN_DEV_GATEWAY_PORT": "28080"}, {})

    assert resolved["gateway"] == 28080
    assert resolved["ingest"] == ports.DEFAULT_PORTS["ingest"]


def test_controller_and_console_follow_their_main_port() -> None:
    resolved = ports.resolve({"CAIRN_DEV_KAFKA_PORT": "29092", "CAIRN_DEV_S3_PORT": "29900"}, {})

    assert resolved["kafka_controller"] == 29093
    assert resolved["s3_console"] == 29901


def test_an_explicit_follower_port_wins() -> None:
    env = {"CAIRN_DEV_KAFKA_PORT": "29092", "CAIRN_DEV_KAFKA_CONTROLLER_PORT": "29500"}

    assert ports.resolve(env, {})["kafka_controller"] == 29500


def test_a_running_component_keeps_its_ports_unless_overridden() -> None:
    running = {"mongo": 28017}

    assert ports.resolve({}, running)["mongo"] == 28017
    assert ports.resolve({"CAIRN_DEV_MONGO_PORT": "38017"}, running)["mongo"] == 38017


@pytest.mark.parametrize("raw", ["abc", "0", "70000", "-1"])
def test_a_bad_port_names_the_variable(raw: str) -> None:
    with pytest.raises(ValueError, match="CAIRN_DEV_S3_PORT"):
        ports.resolve({"CAIRN_DEV_S3_PORT": raw}, {})


def test_two_components_on_one_port_is_an_error() -> None:
    with pytest.raises(ValueError, match="port 18081 is set for both"):
        ports.resolve({"CAIRN_DEV_GATEWAY_PORT": "18081"}, {})


def test_env_var_names() -> None:
    assert ports.env_var("kafka_controller") == "CAIRN_DEV_KAFKA_CONTROLLER_PORT"
    assert "CAIRN_DEV_S3_CONSOLE_PORT (18901)" in ports.help_text()
