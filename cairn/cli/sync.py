"""``cairn sync DIR...``: upload offline runs and spooled history, as ``wandb sync``."""

from __future__ import annotations

from pathlib import Path

import click

from cairn.errors import CairnError
from cairn.runs.rundir import INFO, runs_root
from cairn.runs.sync import sync_run_dir
from cairn.session import Session


@click.command()
@click.argument("paths", nargs=-1, type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--entity", "-e", help="Entity of runs that have none yet (offline runs).")
@click.option("--project", "-p", help="Project of runs not yet on the server.")
@click.option(
    "--include-synced",
    is_flag=True,
    help="Send batches already sent too (the server stores each batch once).",
)
@click.option(
    "--sync-all", is_flag=True, help="Every run directory under $CAIRN_DIR/cairn (./cairn)."
)
def sync(
    paths: tuple[Path, ...],
    entity: str | None,
    project: str | None,
    include_synced: bool,
    sync_all: bool,
) -> None:
    """Upload run directories: ./cairn/offline-run-* (mode="offline") and ./cairn/run-* (what
    a run spooled while the server was unreachable). Safe to repeat."""
    targets = list(paths)
    if sync_all:
        targets += sorted(p for p in runs_root().glob("*run-*") if (p / INFO).is_file())
    if not targets:
        raise click.UsageError("give run directories to sync, or --sync-all")
    failed = 0
    with Session() as session:
        for path in targets:
            try:
                result = sync_run_dir(
                    path,
                    session,
                    entity=entity,
                    project=project,
                    include_synced=include_synced,
                )
            except (CairnError, ValueError) as exc:
                failed += 1
                click.echo(f"{path}: {exc}", err=True)
                continue
            done = f"{result.batches} batches ({result.rows:,} rows)"
            if result.rejected_rows:
                done += f", {result.rejected_rows:,} rows refused by the server"
            if result.finished:
                done += f", finished (exit code {result.exit_code})"
            click.echo(f"Synced {result.path}: {done}")
    if failed:
        raise click.ClickException(f"{failed} of {len(targets)} run(s) could not be synced")
