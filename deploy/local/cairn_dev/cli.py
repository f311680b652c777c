"""The `cairn-dev` command line: the local stack's only entry point (see ./cairn-dev)."""

import contextlib
import shlex
import sys

import click

from cairn_dev import logs, ports, stack, testrun
from cairn_dev.components import ALL, INFRA, SERVICES
from cairn_dev.errors import CairnDevError
from cairn_dev.settings import load

ENV_HELP = f"""\b
Components, in start order: {", ".join(INFRA)} (infrastructure), then
{", ".join(SERVICES)}.

\b
Environment:
  CAIRN_DEV_HOME       data, logs, pid files, admin key (default: <repo>/.cairn-dev)
  CAIRN_DEV_CACHE_DIR  downloads and builds (default: ~/.cache/cairn)
  CAIRN_DEV_S3         minio (default) or versitygw
  CAIRN_DEV_S3_BUCKET  the bucket created at start (default: cairn)
  CAIRN_DEV_MONGO      auto (default: mongod if on PATH, else FerretDB), mongod, ferretdb
  CI                   set: `cairn-dev test` always stops the stack at the end

\b
Ports (env var and default; the Kafka controller and S3 console follow
their main port + 1 when only the main port is set):
""" + "\n".join(f"  {ports.env_var(n):<34} {p}" for n, p in ports.DEFAULT_PORTS.items())

COMPONENTS = click.argument("components", nargs=-1, type=click.Choice(ALL))


@click.group(context_settings={"help_option_names": ["-h", "--help"]}, epilog=ENV_HELP)
def main() -> None:
    """Cairn's local stack without Docker: Kafka, a MongoDB wire-protocol server, S3 (MinIO),
    the nginx gateway and the five services, as plain processes on 127.0.0.1.

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
def up(components: tuple[str, ...], timeout: float | None) -> None:
    """Install what is missing, start what is not running, wait until ready.

    Without COMPONENTS: everything, infrastructure first. Safe to repeat: a running component is
    only checked. The first run builds MinIO and FerretDB (a few minutes, cached afterwards).
    Ports and other settings: see `cairn-dev --help`.
    """
    settings = load()
    stack.up(settings, components, timeout=timeout)
    click.echo(
        f"\nCairn local stack: {settings.base_url}\n"
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
    are left alone: `down mongo` then `up mongo` simulates a database outage.
    """
    stack.down(load(), components, purge=purge)


@main.command(short_help="SIGKILL components at once, as a crash would.")
@click.argument("components", nargs=-1, required=True, type=click.Choice(ALL))
def kill(components: tuple[str, ...]) -> None:
    """SIGKILL components with no grace period (to test crash recovery); data stays.

    Bring them back with `cairn-dev up COMPONENT...`.
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
@click.argument("component", type=click.Choice(ALL))
@click.option("-f", "--follow", is_flag=True, help="Keep printing new lines (Ctrl-C stops).")
@click.option("-n", "--lines", default=50, show_default=True, help="How many last lines.")
def logs_command(component: str, follow: bool, lines: int) -> None:
    """Print the end of a component's log file (logs/<component>.log)."""
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
