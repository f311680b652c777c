"""Kafka's rendered config and the raw FindCoordinator request used for readiness."""

import struct
from pathlib import Path

import pytest
from cairn_dev import kafka_protocol
from cairn_dev.components.kafka import new_cluster_id, render_log4j2, render_server_properties


def properties(text: str) -> dict[str, str]:
    pairs = (line.split("=", 1) for line in text.splitlines() if line and not line.startswith("#"))
    return dict(pairs)


def test_a_single_kraft_node_on_loopback() -> None:
    props = properties(
        render_server_properties(log_dir=Path("/d/kraft"), port=18092, controller_port=18093)
    )

    assert props["process.roles"] == "broker,controller"
    assert props["controller.quorum.voters"] == "1@127.0.0.1:18093"
    assert props["listeners"] == "PLAINTEXT://127.0.0.1:18092,CONTROLLER://127.0.0.1:18093"
    assert props["advertised.listeners"] == "PLAINTEXT://127.0.0.1:18092"
    assert props["log.dirs"] == "/d/kraft"


def test_internal_topics_fit_one_node_and_groups_start_at_once() -> None:
    props = properties(render_server_properties(log_dir=Path("/d"), port=1, controller_port=2))

    assert props["offsets.topic.replication.factor"] == "1"
    assert props["transaction.state.log.replication.factor"] == "1"
    assert props["transaction.state.log.min.isr"] == "1"
    assert props["group.initial.rebalance.delay.ms"] == "0"
    assert props["auto.create.topics.enable"] == "false"
    assert props["log.cleaner.dedupe.buffer.size"] == str(16 * 1024 * 1024)  # not 128 MiB


def test_log4j2_logs_to_the_console_at_info() -> None:
    props = properties(render_log4j2().replace(" = ", "="))

    assert props["appender.out.type"] == "Console"
    assert props["rootLogger.level"] == "INFO"


def test_cluster_ids_are_kafka_uuids() -> None:
    cluster_id = new_cluster_id()

    assert len(cluster_id) == 22
    assert cluster_id != new_cluster_id()


def test_a_cluster_id_never_starts_with_a_dash() -> None:
    draws = iter([b"\xf8" + bytes(15), b"\x00" * 16])  # the first encodes to "-A..."

    assert new_cluster_id(lambda: next(draws)) == "AAAAAAAAAAAAAAAAAAAAAA"


def test_find_coordinator_request_layout() -> None:
    frame = kafka_protocol.encode_find_coordinator("grp", 7, "cd")

    (size,) = struct.unpack_from(">i", frame)
    assert size == len(frame) - 4
    # api key 10, version 1, correlation id 7, client id "cd", key "grp", key type 0
    assert frame[4:] == struct.pack(">hhih2sh3sb", 10, 1, 7, 2, b"cd", 3, b"grp", 0)


def test_find_coordinator_response_decoding() -> None:
    ready = struct.pack(">iihhih9si", 7, 0, 0, -1, 1, 9, b"127.0.0.1", 18092)
    busy = struct.pack(">iihh4sih0si", 7, 0, 15, 4, b"busy", -1, 0, b"", -1)

    assert kafka_protocol.decode_find_coordinator(ready, 7) == (0, "")
    assert kafka_protocol.decode_find_coordinator(busy, 7) == (15, "busy")


def test_a_mismatched_or_short_response_is_an_error() -> None:
    with pytest.raises(kafka_protocol.KafkaProtocolError, match="correlation id"):
        kafka_protocol.decode_find_coordinator(struct.pack(">iihh", 8, 0, 0, -1), 7)
    with pytest.raises(kafka_protocol.KafkaProtocolError, match="short"):
        kafka_protocol.decode_find_coordinator(b"\x00\x00", 7)
