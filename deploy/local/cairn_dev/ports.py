"""Port settings: defaults away from the standard ports, overridable per port by env vars.

A port is taken, in order, from `CAIRN_DEV_<NAME>_PORT`, from the state of the running component
that uses it (so a shell without the override still talks to the running stack), or from the
defaults below. The Kafka controller and the S3 console follow their main port (+1) when only the
main port is overridden.

Replica k >= 2 of a service listens on the service's port + (k - 1) * REPLICA_PORT_STEP
(manifest.2 on 18182 by default), so moving a service's port moves its replicas along.
"""

from collections.abc import Mapping, Sequence

from cairn_dev import instances

DEFAULT_PORTS: Mapping[str, int] = {
    "gateway": 18080,
    "ingest": 18081,
    "manifest": 18082,
    "storage": 18083,
    "registry": 18084,
    "automations": 18085,
    "history-writer": 18086,
    "kafka": 18092,
    "kafka_controller": 18093,
    "mongo": 18017,
    "s3": 18900,
    "s3_console": 18901,
}

# A port that sits next to another one when only the other one is overridden.
_FOLLOWS: Mapping[str, str] = {"kafka_controller": "kafka", "s3_console": "s3"}

REPLICA_PORT_STEP = 100


def env_var(name: str) -> str:
    """`kafka_controller` -> `CAIRN_DEV_KAFKA_CONTROLLER_PORT`; a replica names its service's."""
    base = name.partition(".")[0]
    return f"CAIRN_DEV_{base.upper().replace('-', '_')}_PORT"


def replica_port(base_port: int, replica: int) -> int:
    return base_port + (replica - 1) * REPLICA_PORT_STEP


def _parse(var: str, raw: str) -> int:
    try:
        port = int(raw)
    except ValueError:
        port = 0
    if not 1 <= port <= 65535:
        raise ValueError(f"{var}={raw!r} is not a port number (1-65535)")
    return port


def resolve(env: Mapping[str, str], running: Mapping[str, int]) -> dict[str, int]:
    """All ports; raises ValueError naming the variable on a bad or duplicated value."""
    overridden = {
        name: _parse(env_var(name), env[env_var(name)])
        for name in DEFAULT_PORTS
        if env.get(env_var(name))
    }
    ports: dict[str, int] = {}
    for name, default in DEFAULT_PORTS.items():
        leader = _FOLLOWS.get(name)
        if name in overridden:
            ports[name] = overridden[name]
        elif name in running:
            ports[name] = running[name]
        elif leader is not None and leader in overridden:
            ports[name] = overridden[leader] + 1
        else:
            ports[name] = default
    _check_distinct(ports)
    return ports


def with_replicas(
    ports: Mapping[str, int], services: Sequence[str], replicas: int
) -> dict[str, int]:
    """`ports` plus one entry per extra replica (`manifest.2`, ...); ValueError on a clash."""
    result = dict(ports)
    for service in services:
        for replica in range(2, replicas + 1):
            port = replica_port(ports[service], replica)
            name = instances.instance(service, replica)
            if port > 65535:
                raise ValueError(
                    f"{name} would listen on port {port} ({service}'s port + "
                    f"{replica - 1} x {REPLICA_PORT_STEP}): lower {env_var(service)} "
                    "or the number of replicas"
                )
            result[name] = port
    _check_distinct(result)
    return result


def _check_distinct(ports: Mapping[str, int]) -> None:
    seen: dict[int, str] = {}
    for name, port in ports.items():
        if port in seen:
            other = seen[port]
            how = (
                f"change {env_var(name)} or {env_var(other)}"
                if env_var(name) != env_var(other)
                else f"change {env_var(name)}"
            )
            note = (
                f" (replica k of a service listens on its port + (k - 1) x {REPLICA_PORT_STEP})"
                if "." in name or "." in other
                else ""
            )
            raise ValueError(f"port {port} is set for both {other} and {name}: {how}{note}")
        seen[port] = name


def help_text() -> str:
    """The env vars and defaults, for --help."""
    return ", ".join(f"{env_var(name)} ({port})" for name, port in DEFAULT_PORTS.items())
