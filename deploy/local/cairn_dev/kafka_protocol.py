"""Just enough of the Kafka wire protocol to tell that a broker serves consumer groups.

FindCoordinator succeeds only once the broker is up, has caught up with the KRaft metadata and has
created and loaded `__consumer_offsets` (the request itself triggers that creation). Passing it
means the first consumer group of a test does not meet GroupCoordinatorNotAvailable. A raw request
keeps this package free of Kafka clients and is quicker than starting a JVM tool per poll.
"""

import socket
import struct

FIND_COORDINATOR = 10
# v1: the oldest version Kafka 4 still serves (KIP-896 removed v0), not yet "flexible".
FIND_COORDINATOR_VERSION = 1

ERROR_NAMES = {
    14: "COORDINATOR_LOAD_IN_PROGRESS",
    15: "COORDINATOR_NOT_AVAILABLE",
    16: "NOT_COORDINATOR",
}


class KafkaProtocolError(Exception):
    """The broker closed the connection or answered something unexpected."""


def _string(value: str) -> bytes:
    data = value.encode()
    return struct.pack(">h", len(data)) + data


def encode_find_coordinator(group: str, correlation_id: int, client_id: str) -> bytes:
    """A size-prefixed FindCoordinator v1 request (request header v1) for a consumer group."""
    header = struct.pack(">hhi", FIND_COORDINATOR, FIND_COORDINATOR_VERSION, correlation_id)
    body = _string(group) + struct.pack(">b", 0)  # key type 0: consumer group
    message = header + _string(client_id) + body
    return struct.pack(">i", len(message)) + message


def decode_find_coordinator(payload: bytes, correlation_id: int) -> tuple[int, str]:
    """(error code, error message) from a FindCoordinator v1 response without its size prefix."""
    try:
        got_id, _throttle_ms, error = struct.unpack_from(">iih", payload)
        (msg_len,) = struct.unpack_from(">h", payload, 10)
    except struct.error as exc:
        raise KafkaProtocolError(f"short FindCoordinator response ({len(payload)} bytes)") from exc
    if got_id != correlation_id:
        raise KafkaProtocolError(f"correlation id {got_id}, expected {correlation_id}")
    message = "" if msg_len < 0 else payload[12 : 12 + msg_len].decode(errors="replace")
    return error, message


def _read_exactly(sock: socket.socket, size: int) -> bytes:
    chunks = bytearray()
    while len(chunks) < size:
        chunk = sock.recv(size - len(chunks))
        if not chunk:
            raise KafkaProtocolError("the broker closed the connection")
        chunks += chunk
    return bytes(chunks)


def find_coordinator(host: str, port: int, group: str, *, timeout: float = 2.0) -> tuple[int, str]:
    """Ask the broker for `group`'s coordinator: (error code, message); 0 means ready."""
    correlation_id = 1
    with socket.create_connection((host, port), timeout=timeout) as sock:
        sock.sendall(encode_find_coordinator(group, correlation_id, "cairn-dev"))
        (size,) = struct.unpack(">i", _read_exactly(sock, 4))
        return decode_find_coordinator(_read_exactly(sock, size), correlation_id)
