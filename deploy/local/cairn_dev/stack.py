"""Bringing components up and down, idempotently, under one lock per stack home."""

import contextlib
import fcntl
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import click

from cairn_dev import instances, ports, process, readiness, state
from cairn_dev.components import Component, create
from cairn_dev.components.gateway import Gateway
from cairn_dev.errors import CairnDevError
from cairn_dev.settings import Settings


@contextlib.contextmanager
def locked(settings: Settings) -> Iterator[None]:
    """One up/down at a time per stack home; a second command waits its turn."""
    lock_path = settings.layout.lock_file
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with lock_path.open("w") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            click.echo("waiting for another cairn-dev up/down on this stack to finish...")
            fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def in_order(settings: Settings, names: Sequence[str], *, running: bool = False) -> list[str]:
    """The instances that `names` mean, in start order; none means all of them. A service
    means its wanted replicas, or with `running` also the ones above that count still running."""
    try:
        return instances.select(names, settings.known_replicas if running else settings.replicas)
    except ValueError as exc:
        raise CairnDevError(str(exc)) from exc


def running_pid(settings: Settings, comp: Component) -> int | None:
    """The component's pid if its recorded process is alive and still the program we started."""
    pid = process.read_pid(settings.layout.pid_file(comp.name))
    if pid is None:
        return None
    record = state.load(settings.layout.state_file).get(comp.name)
    return pid if process.is_alive(pid, record.match if record else comp.match) else None


def _remember(settings: Settings, comp: Component, pid: int) -> None:
    process.write_pid(settings.layout.pid_file(comp.name), pid)
    records = state.load(settings.layout.state_file)
    records[comp.name] = state.Record(
        pid=pid,
        match=comp.match,
        backend=comp.backend,
        ports=comp.ports,
        started_at=datetime.now(UTC).isoformat(timespec="seconds"),
    )
    state.save(settings.layout.state_file, records)


def _forget(settings: Settings, name: str) -> None:
    settings.layout.pid_file(name).unlink(missing_ok=True)
    records = state.load(settings.layout.state_file)
    if records.pop(name, None) is not None:
        state.save(settings.layout.state_file, records)


def _port_in_use(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return True
    return False


def _check_ports(comp: Component) -> None:
    for name, port in comp.ports.items():
        if _port_in_use(port):
            raise CairnDevError(
                f"port {port} for {comp.name} is already in use by another program: stop it, "
                f"or pick another port with {ports.env_var(name)}=<port>"
                + (" (the service's replicas move along)" if "." in name else "")
            )


def _check_matches_settings(settings: Settings, comp: Component, pid: int) -> None:
    """A running component must be what the settings describe, else its users get lost."""
    record = state.load(settings.layout.state_file).get(comp.name)
    if record and record.backend != comp.backend:
        raise CairnDevError(
            f"{comp.name} already runs {record.backend} (pid {pid}), but the settings ask for "
            f"{comp.backend}: run `cairn-dev down {comp.name}` first to switch"
        )
    if record and record.ports and record.ports != comp.ports:
        raise CairnDevError(
            f"{comp.name} already runs (pid {pid}) with ports {record.ports}, but the settings "
            f"ask for {comp.ports}: run `cairn-dev down {comp.name}` first to move it"
        )


@dataclass
class _Starting:
    comp: Component
    pid: int
    proc: subprocess.Popen[bytes] | None  # None: it was already running
    log_offset: int


def _start(settings: Settings, comp: Component) -> _Starting:
    settings.layout.pid_file(comp.name).unlink(missing_ok=True)  # stale, if any
    _check_ports(comp)
    comp.install()
    comp.prepare()
    proc, offset = process.spawn(
        comp.command(), env=comp.env(), cwd=comp.cwd, log_file=comp.log_file
    )
    _remember(settings, comp, proc.pid)
    click.echo(f"{comp.name}: started {comp.backend} (pid {proc.pid}, port {comp.port})")
    return _Starting(comp, proc.pid, proc, offset)


def up(
    settings: Settings,
    names: Sequence[str],
    *,
    timeout: float | None = None,
    started: list[str] | None = None,
) -> list[str]:
    """Install, start and wait for the components; returns (and appends to `started`) the ones
    this call started. Tier 0 (infrastructure) is ready before tier 1 (services) starts."""
    started = [] if started is None else started
    for name in in_order(settings, names):  # also refuses unknown names
        replica = instances.split(name)[1]
        if replica > settings.replicas:
            raise CairnDevError(
                f"{name}: the stack runs {settings.replicas} replica(s) per service; "
                f"start more with `cairn-dev up --replicas {replica}`"
            )
    with locked(settings):
        comps = [create(name, settings) for name in in_order(settings, names)]
        for tier in sorted({comp.tier for comp in comps}):
            starting: list[_Starting] = []
            # Start everything of the tier first, then wait: the JVM warms up during builds.
            for comp in (c for c in comps if c.tier == tier):
                pid = running_pid(settings, comp)
                if pid is None:
                    starting.append(_start(settings, comp))
                    started.append(comp.name)
                else:
                    _check_matches_settings(settings, comp, pid)
                    starting.append(_Starting(comp, pid, None, 0))
            for item in starting:
                _wait(settings, item, timeout)
        # Take the extra replicas out of the gateway first, then stop them.
        _refresh_gateway(settings)
        _scale_down(settings, names)
    return started


def _scale_down(settings: Settings, names: Sequence[str]) -> None:
    """Stop the replicas above the wanted count of the services that `names` mean."""
    services = {instances.split(name)[0] for name in in_order(settings, names)}
    for name in reversed(in_order(settings, sorted(services), running=True)):
        base, replica = instances.split(name)
        if base in services and replica > settings.replicas:
            _stop(settings, name)


def _refresh_gateway(settings: Settings) -> None:
    """A running gateway balances over exactly the wanted replicas (reloads if they changed)."""
    gateway = Gateway(settings)
    pid = running_pid(settings, gateway)
    if pid is not None and gateway.refresh(pid):
        click.echo(f"gateway: reloaded for {settings.replicas} replica(s) per service")


def _wait(settings: Settings, item: _Starting, timeout: float | None) -> None:
    comp = item.comp
    try:
        took = readiness.wait_ready(
            comp.name,
            comp.check_ready,
            timeout=timeout or comp.ready_timeout,
            pid=item.pid,
            match=comp.match,
            proc=item.proc,
            log_file=comp.log_file,
            log_offset=item.log_offset,
        )
        comp.after_ready()
    except CairnDevError as exc:
        if item.proc is not None:  # do not leave a half-started process behind
            process.stop(item.pid, timeout=10.0)
            _forget(settings, comp.name)
            raise CairnDevError(
                f"{exc.message}\n({comp.name} was stopped: fix the cause, then `cairn-dev up`)"
            ) from None
        raise
    if item.proc is None:
        click.echo(f"{comp.name}: already running (pid {item.pid}, port {comp.port}), ready")
    else:
        click.echo(f"{comp.name}: ready in {took:.1f}s")


def _stop(settings: Settings, name: str) -> None:
    """SIGTERM one instance (SIGKILL after 20 s) and forget it; say how it went."""
    pid = running_pid(settings, create(name, settings))
    if pid is None:
        click.echo(f"{name}: not running")
    else:
        began = time.monotonic()
        how = process.stop(pid)
        click.echo(f"{name}: {how} (pid {pid}) in {time.monotonic() - began:.1f}s")
    _forget(settings, name)


def down(settings: Settings, names: Sequence[str], *, purge: bool = False) -> None:
    """Stop the components (reverse start order); `purge` also deletes their data."""
    with locked(settings):
        for name in reversed(in_order(settings, names, running=True)):
            _stop(settings, name)
        if purge:
            targets = (
                [settings.layout.data_root]
                if not names
                else [settings.layout.data_dir(name) for name in in_order(settings, names)]
            )
            for target in targets:
                shutil.rmtree(target, ignore_errors=True)
                click.echo(f"deleted {target}")


def kill(settings: Settings, names: Sequence[str]) -> None:
    """SIGKILL the components with no grace period, as a crash would; data stays."""
    with locked(settings):
        for name in reversed(in_order(settings, names, running=True)):
            pid = running_pid(settings, create(name, settings))
            if pid is None:
                click.echo(f"{name}: not running")
            elif process.kill(pid):
                click.echo(f"{name}: killed (pid {pid})")
            else:
                raise CairnDevError(f"{name} (pid {pid}) survived SIGKILL; check `ps -g {pid}`")
            _forget(settings, name)


@dataclass(frozen=True)
class Status:
    name: str
    backend: str
    pid: int | None
    port: int
    state: str


def status(settings: Settings) -> list[Status]:
    records = state.load(settings.layout.state_file)
    rows = []
    for name in in_order(settings, [], running=True):
        comp = create(name, settings)
        pid = running_pid(settings, comp)
        record = records.get(name)
        label = instances.label(name, settings.known_replicas)
        if pid is None:
            stale = settings.layout.pid_file(name).exists()
            rows.append(
                Status(
                    label,
                    comp.backend,
                    None,
                    comp.port,
                    "stopped (stale pid file)" if stale else "stopped",
                )
            )
            continue
        why = readiness.check_once(comp.check_ready)
        rows.append(
            Status(
                label,
                record.backend if record else comp.backend,
                pid,
                comp.port,
                "running, ready" if why is None else f"running, NOT ready: {why}",
            )
        )
    return rows
