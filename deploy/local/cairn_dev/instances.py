"""Names of what runs: the infrastructure components and the replicas of each service.

A "service" here is any Cairn process that runs as replicas: the services the gateway routes
(GATEWAY_SERVICES) and the workers that serve no public API (WORKERS), such as ingest's history
writer. The difference matters only to the gateway and the deployment files.

Replica 1 of a service keeps the service's plain name (`manifest`: logs/manifest.log,
run/manifest.pid), so a one-replica stack looks exactly as before replicas existed; replica k >= 2
is `manifest.k`. On the command line `manifest` means every replica of the service, `manifest.2`
one replica, and `manifest.1` is another name for replica 1.
"""

from collections.abc import Iterable

INFRA = ("kafka", "mongo", "s3", "gateway")
# The services with a public API: the gateway routes /<service>/... to them (and, in containers,
# reaches them by that name), so a name here is also a URL prefix: lowercase letters only.
GATEWAY_SERVICES = ("ingest", "manifest", "storage", "registry", "automations")
# Processes with no public API (Kafka consumers): only their own /healthz, /readyz and /metrics
# on their port. The gateway never routes to them; they run and scale like the services.
WORKERS = ("history-writer",)
# Everything that runs as replicas of one program: up, down, kill, status, logs and --replicas.
SERVICES = GATEWAY_SERVICES + WORKERS
ALL = INFRA + SERVICES  # start order: infrastructure first, then the services and workers


def instance(service: str, replica: int) -> str:
    """`("manifest", 1)` -> `manifest`, `("manifest", 2)` -> `manifest.2`."""
    return service if replica == 1 else f"{service}.{replica}"


def split(name: str) -> tuple[str, int]:
    """`manifest.2` -> `("manifest", 2)`, `manifest` or `manifest.1` -> `("manifest", 1)`.

    Raises ValueError, with the accepted forms, for anything else.
    """
    base, dot, suffix = name.partition(".")
    if base not in ALL:
        raise ValueError(f"unknown component {name!r}; expected one of {', '.join(ALL)}")
    if not dot:
        return base, 1
    if base not in SERVICES:
        raise ValueError(f"{name!r}: only services have replicas ({', '.join(SERVICES)})")
    if not suffix.isdigit() or int(suffix) < 1:
        raise ValueError(f"{name!r}: a replica is <service>.<number>, numbered from 1")
    return base, int(suffix)


def replicas_of(service: str, count: int) -> list[str]:
    return [instance(service, k) for k in range(1, count + 1)]


def select(names: Iterable[str], replicas: int) -> list[str]:
    """The instances that `names` mean, in start order; no names means everything.

    A service name stands for its replicas 1..`replicas`; `service.k` for that one replica.
    """
    wanted: set[str] = set()
    for name in names:
        base, replica = split(name)
        if "." in name:
            wanted.add(instance(base, replica))
        elif base in SERVICES:
            wanted.update(replicas_of(base, replicas))
        else:
            wanted.add(base)
    everything = [
        name
        for component in ALL
        for name in (replicas_of(component, replicas) if component in SERVICES else [component])
    ]
    if not wanted:
        return everything
    # Replicas above the count, if named one by one (down and kill reach them too).
    extra = sorted(wanted - set(everything), key=lambda n: (ALL.index(split(n)[0]), split(n)[1]))
    return [name for name in everything if name in wanted] + extra


def label(name: str, replicas: int) -> str:
    """How `status` shows an instance: `manifest.1` once there are several replicas."""
    base, replica = split(name)
    return f"{base}.{replica}" if replicas > 1 and base in SERVICES else name
