"""The `cairn-dev` command line: the local stack's only entry point (see ./cairn-dev)."""

import contextlib
import shlex
import sys

import click

from cairn_dev import deploytools, instances, logs, ports, stack, testrun
from cairn_dev.components import GATEWAY_SERVICES, INFRA, WORKERS
from cairn_dev.errors import CairnDevError
from cairn_dev.settings import load, max_replicas

ENV_HELP = f"""\b
Components, in start order:
  infrastructure  {", ".join(INFRA)}
  services        {", ".join(GATEWAY_SERVICES)}
                  (the gateway routes /<service>/... to them)
  workers         {", ".join(WORKERS)}
                  (no public routes: the gateway never reaches them; each
                  serves only /healthz, /readyz and /metrics on its port)

\b
Environment:
  CAIRN_DEV_HOME       data, logs, pid files, admin key (default: <repo>/.cairn-dev)
  CAIRN_DEV_CACHE_DIR  downloads and builds (default: ~/.cache/cairn-dev)
  CAIRN_DEV_S3         minio (default) or versitygw
  CAIRN_DEV_S3_BUCKET  the bucket created at start (default: cairn)
  CAIRN_DEV_MONGO      auto (default: mongod if on PATH, else FerretDB), mongod, ferretdb
  CAIRN_DEV_REPLICAS   processes per service and worker (default: what runs,
                       else 1); same as `up --replicas N`
  CAIRN_DEV_KUSTOMIZE  `kubectl` or a kustomize binary instead of the pinned build
  CI                   set: `cairn-dev test` always stops the stack at the end

\b
Replicas: replica 1 of a service or worker keeps its name (manifest), the
others are manifest.2, manifest.3, ... with logs/manifest.2.log. `manifest` on
the command line means all of its replicas, `manifest.2` one of them. Replica
k listens on the service's port + (k - 1) x 100; the gateway balances over the
replicas of the services it routes (workers split their Kafka partitions).

\b
Ports (env var and default; the Kafka controller and S3 console follow
their main port + 1 when only the main port is set):
""" + "\n".join(f"  {ports.env_var(n):<34} {p}" for n, p in ports.DEFAULT_PORTS.items())


class ComponentName(click.ParamType[str]):
    """A component (`kafka`), a service (all its replicas) or one replica (`manifest.2`)."""

    name = "component"

    def convert(self, value: str, param: click.Parameter | None, ctx: click.Context | None) -> str:
        try:
            instances.split(value)
        except ValueError as exc:
            self.fail(str(exc), param, ctx)
        return value


COMPONENT = ComponentName()
COMPONENTS = click.argument("components", nargs=-1, type=COMPONENT)


@click.group(context_settings={"help_option_names": ["-h", "--help"]}, epilog=ENV_HELP)
def main() -> None:
    """Cairn's local stack without Docker: Kafka, a MongoDB wire-protocol server, S3 (MinIO),
    the nginx gateway, the five services it routes and one worker without public routes
    (ingest's history writer), as plain processes on 127.0.0.1.

    Typical use: `./cairn-dev up`, then `eval "$(./cairn-dev env)"`; `./cairn-dev test` runs
    every check against the real stack.
    """


@main.command(short_help="Start components (all by default) and wait until ready.")
@COMPONENTS
@click.option(
    "--timeout",
    type=float,
    metavar="SECONDS",
    help="Readiness deadline per component (default: per component, 20-120 s).",
)
@click.option(
    "--replicas",
    type=click.IntRange(min=1),
    metavar="N",
    help="Processes per service and worker (default: $CAIRN_DEV_REPLICAS, else as many as run, "
    "else 1); "
    f"at most the partitions per topic ({max_replicas({})} unless CAIRN_KAFKA_PARTITIONS).",
)
def up(components: tuple[str, ...], timeout: float | None, replicas: int | None) -> None:
    """Install what is missing, start what is not running, wait until ready.

    Without COMPONENTS: everything, infrastructure first. Safe to repeat: a running component is
    only checked. The first run builds MinIO and FerretDB (a few minutes, cached afterwards).

    With --replicas N every service and worker runs N processes on their own ports, in the same
    consumer groups (they split the partitions); the gateway balances over the services' replicas
    and reloads when N changes. A lower N stops the extra replicas. Ports and other settings:
    `cairn-dev --help`.
    """
    settings = load(replicas=replicas)
    stack.up(settings, components, timeout=timeout)
    scale = f" ({settings.replicas} replicas per service)" if settings.replicas > 1 else ""
    click.echo(
        f"\nCairn local stack: {settings.base_url}{scale}\n"
        f"admin API key:     {settings.admin_api_key}\n"
        f'use it here with:  eval "$(./cairn-dev env)"'
    )


@main.command(short_help="Stop components (all by default); --purge deletes data.")
@COMPONENTS
@click.option(
    "--purge",
    is_flag=True,
    help="Also delete their data (all of data/ without "
    "COMPONENTS). Logs and the admin API key stay.",
)
def down(components: tuple[str, ...], purge: bool) -> None:
    """Stop components (all without COMPONENTS), keeping their data.

    SIGTERM to the process group, then SIGKILL if it has not exited after 20 s. Other components
    are left alone: `down mongo` then `up mongo` simulates a database outage. A service means
    all of its replicas; `down manifest.2` stops one.
    """
    stack.down(load(), components, purge=purge)


@main.command(short_help="SIGKILL components at once, as a crash would.")
@click.argument("components", nargs=-1, required=True, type=COMPONENT)
def kill(components: tuple[str, ...]) -> None:
    """SIGKILL components with no grace period (to test crash recovery); data stays.

    `kill manifest.2` kills one replica (its partitions move to the others); `kill manifest` all
    of them. Bring them back with `cairn-dev up COMPONENT...`.
    """
    stack.kill(load(), components)


main.add_command(up, name="start")
main.add_command(down, name="stop")


@main.command()
def status() -> None:
    """Show each component: what runs, pid, port, running/ready."""
    settings = load()
    rows = stack.status(settings)
    header = ("COMPONENT", "BACKEND", "PID", "PORT", "STATE")
    table = [header] + [(r.name, r.backend, str(r.pid or "-"), str(r.port), r.state) for r in rows]
    widths = [max(len(row[i]) for row in table) for i in range(len(header) - 1)]
    for row in table:
        click.echo(
            "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=False)) + "  " + row[-1]
        )
    click.echo(f"\nhome: {settings.layout.home}   gateway: {settings.base_url}")


@main.command("logs")
@click.argument("component", type=COMPONENT)
@click.option("-f", "--follow", is_flag=True, help="Keep printing new lines (Ctrl-C stops).")
@click.option("-n", "--lines", default=50, show_default=True, help="How many last lines.")
def logs_command(component: str, follow: bool, lines: int) -> None:
    """Print the end of a component's log file (logs/<component>.log).

    A service means its replica 1 (logs/manifest.log); `manifest.2` reads logs/manifest.2.log.
    A log that reached 64 MiB moves to <component>.log.1 when its component next starts.
    """
    component = instances.instance(*instances.split(component))
    path = load().layout.log_file(component)
    if not path.is_file():
        raise CairnDevError(f"{path} does not exist yet: start it with `cairn-dev up {component}`")
    for line in logs.last_lines(path, lines):
        click.echo(line)
    if follow:
        with contextlib.suppress(KeyboardInterrupt):
            logs.follow(path)


@main.command(short_help='Print export lines: eval "$(./cairn-dev env)".')
def env() -> None:
    """Print `export` lines for the running stack: eval "$(./cairn-dev env)".

    CAIRN_BASE_URL and CAIRN_API_KEY for the SDK and CLI, and the server-side settings
    (Kafka, MongoDB, S3, admin key) for tests.
    """
    for name, value in load().client_env().items():
        click.echo(f"export {name}={shlex.quote(value)}")


@main.command(short_help="Build the deployment tools (kustomize) into the cache.")
def tools() -> None:
    """Build the tools that render deploy/k8s (kustomize, pinned in versions.py) into the cache
    and print the command; tests/deploy and `cairn-dev test` use the same one.

    The first build takes about a minute (Go module proxy); later calls return at once.
    Set CAIRN_DEV_KUSTOMIZE=kubectl (or a path) to use another kustomize instead.
    """
    click.echo(" ".join(deploytools.kustomize_argv()))


@main.command(
    short_help="Stack up, ruff, mypy, pytest; stops what it started.",
    context_settings={"ignore_unknown_options": True, "allow_interspersed_args": False},
)
@click.argument("pytest_args", nargs=-1, type=click.UNPROCESSED)
def test(pytest_args: tuple[str, ...]) -> None:
    """The one test command: stack up, `ruff check .`, mypy, `pytest tests [PYTEST_ARGS]`.

    PYTEST_ARGS go to pytest as they are; if they name test paths (tests/unit, a file,
    file::test), only those run instead of all of tests/.

    Starts what is not running and stops, at the end, only what it started (everything when
    CI is set). Every step runs; exits non-zero if any failed (also if no tests ran).
    """
    sys.exit(testrun.run(load(), pytest_args))
