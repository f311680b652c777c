"""``cairn artifact``: put, get and list artifacts, and manage the local cache."""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

import click

from cairn.artifacts import remote
from cairn.artifacts.artifact import Artifact
from cairn.artifacts.cache import ContentCache, parse_size
from cairn.errors import CairnError
from cairn.names import ArtifactPath, check_entity_name, check_project_name
from cairn.session import Session

P = ParamSpec("P")
R = TypeVar("R")


def _friendly(command: Callable[P, R]) -> Callable[P, R]:
    """Our errors and bad input become one clear line and exit code 1, not a traceback."""

    @functools.wraps(command)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return command(*args, **kwargs)
        except (CairnError, ValueError, OSError) as exc:
            raise click.ClickException(str(exc)) from exc

    return wrapper


def _files(count: int) -> str:
    return f"{count} file" if count == 1 else f"{count} files"


def _human(size: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if size < 1024 or unit == "TiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    raise AssertionError("unreachable")  # pragma: no cover


@click.group()
def artifact() -> None:
    """Upload, download and list artifacts (entity defaults to your own, project to
    CAIRN_PROJECT or "uncategorized")."""


@artifact.command()
@click.argument("path", type=click.Path(exists=True, path_type=Path))
@click.option("--name", "-n", required=True, help="[entity/project/]name of the artifact.")
@click.option("--type", "-t", "artifact_type", required=True, help="Type, e.g. dataset or model.")
@click.option("--alias", "-a", "aliases", multiple=True, help="An alias to apply (repeatable).")
@click.option("--description", "-d", default=None, help="A description of this version.")
@_friendly
def put(
    path: Path, name: str, artifact_type: str, aliases: tuple[str, ...], description: str | None
) -> None:
    """Upload the file or folder PATH as a new version; prints the logged name:vN.

    Only files the server does not already hold are uploaded; identical content gives the
    existing version back (with the aliases applied).
    """
    if ":" in name:
        raise click.BadParameter("give the name without an alias; use --alias", param_hint="--name")
    ref = ArtifactPath.parse(name)
    session = Session()
    try:
        place = remote.Place(
            ref.entity or session.default_entity(), ref.project or session.default_project()
        )
        new = Artifact(ref.name, artifact_type, description=description)
        if path.is_dir():
            new.add_dir(path)
        else:
            new.add_file(path)
        session.ensure_project(place.entity, place.project)
        new._log(session, place, "", list(aliases))
        new.wait()
        click.echo(
            f"Logged {new.qualified_name} ({_files(new.file_count)}, {_human(new.size)})", err=True
        )
        click.echo(new.name)
    finally:
        session.close()


@artifact.command()
@click.argument("name")
@click.option(
    "--root",
    type=click.Path(file_okay=False, path_type=Path),
    help="Where to put the files [default: ./artifacts/NAME:vN].",
)
@_friendly
def get(name: str, root: Path | None) -> None:
    """Download the artifact [entity/project/]NAME[:alias|:vN] (default alias: latest).

    Files already in the local cache are not fetched again; prints the folder.
    """
    ref = ArtifactPath.parse(name)
    session = Session()
    try:
        place = remote.Place(
            ref.entity or session.default_entity(), ref.project or session.default_project()
        )
        found = Artifact._from_version(
            session, place, remote.read_version(session, place, ref.name, ref.ref)
        )
        folder = found.download(root)
        click.echo(f"Downloaded {found.qualified_name} ({_files(found.file_count)})", err=True)
        click.echo(folder)
    finally:
        session.close()


@artifact.command(name="ls")
@click.argument("path")
@click.option("--type", "-t", "artifact_type", default=None, help="Only artifacts of this type.")
@_friendly
def list_artifacts(path: str, artifact_type: str | None) -> None:
    """List the artifacts of the project PATH ([entity/]project)."""
    entity, _, project = path.rpartition("/")
    session = Session()
    try:
        place = remote.Place(
            check_entity_name(entity) if entity else session.default_entity(),
            check_project_name(project),
        )
        collections = remote.list_collections(session, place, artifact_type)
    finally:
        session.close()
    if not collections:
        click.echo(f"No artifacts in {place.entity}/{place.project}.", err=True)
    for item in collections:
        click.echo(_collection_line(item))


def _collection_line(item: dict[str, Any]) -> str:
    aliases = item.get("aliases") or {}
    shown = ", ".join(f"{a}:v{i}" for a, i in sorted(aliases.items(), key=lambda kv: -kv[1]))
    return (
        f"{item['type']:<12} {item['name']:<32} {item.get('version_count', 0):>5} versions  {shown}"
    )


@artifact.group()
def cache() -> None:
    """The local cache of downloaded files (CAIRN_CACHE_DIR, limit CAIRN_CACHE_SIZE)."""


@cache.command()
@click.argument("size")
@_friendly
def cleanup(size: str) -> None:
    """Evict least recently used files until the cache holds at most SIZE (e.g. 500MB, 2GiB)."""
    store = ContentCache()
    target = parse_size(size)
    freed = store.cleanup(target)
    click.echo(
        f"Freed {_human(freed)}; the cache at {store.root} now holds {_human(store.usage())}."
    )
