"""``cairn registry``: list registered models, show one, move aliases, read the history."""

from __future__ import annotations

import json

import click

from cairn.api.public import Api
from cairn.cli.output import friendly, open_api, short_time, table
from cairn.registry.collection import RegistryCollection
from cairn.registry.paths import collection_ref

ENTITY = click.option(
    "--entity", "-e", default=None, help="The entity [default: CAIRN_ENTITY or your own]."
)
REGISTRY = click.option(
    "--registry",
    "-r",
    default=None,
    help="The registry of a bare NAME [default: model, the Model Registry].",
)


def _collection(api: Api, name: str, registry: str | None) -> RegistryCollection:
    ref = collection_ref(name, registry)
    if ref.ref != "latest":
        raise click.BadParameter("give the name without ':alias' or ':vN'", param_hint="NAME")
    return api.registry(ref.registry, entity=ref.entity).collection(ref.collection)


@click.group()
def registry() -> None:
    """Registries and their collections: in the Model Registry (registry "model"), registered
    models. Runs link versions with run.link_artifact / run.link_model."""


@registry.command(name="registries")
@ENTITY
@friendly
def list_registries(entity: str | None) -> None:
    """List the entity's registries, the artifact types each accepts and its protected aliases."""
    with open_api(entity) as api:
        found = list(api.registries())
    table(
        ["REGISTRY", "PROJECT", "TYPES", "PROTECTED", "DESCRIPTION"],
        [
            [
                r.name,
                r.full_name,
                ",".join(r.artifact_types),
                ",".join(r.protected_aliases),
                r.description,
            ]
            for r in found
        ],
    )


@registry.command(name="ls")
@REGISTRY
@ENTITY
@click.option("--filter", "filter_json", default=None, help='W&B filter, e.g. {"tag": "prod"}.')
@friendly
def list_collections(registry: str | None, entity: str | None, filter_json: str | None) -> None:
    """List the registered models (collections) of a registry, with their aliases."""
    spec = json.loads(filter_json) if filter_json else None
    with open_api(entity) as api:
        reg = api.registry(registry or "model")
        rows = [
            [c.name, c.version_count, _aliases(c), ",".join(c.tags), short_time(c.updated_at)]
            for c in reg.collections(filter=spec)
        ]
    if not rows:
        click.echo(f"No collections in {reg.entity}/{reg.full_name}.", err=True)
        return
    table(["NAME", "VERSIONS", "ALIASES", "TAGS", "UPDATED"], rows)


def _aliases(collection: RegistryCollection) -> str:
    held = collection.alias_versions
    return ", ".join(f"{alias}:{version}" for alias, version in sorted(held.items()))


@registry.command()
@click.argument("name")
@REGISTRY
@ENTITY
@friendly
def show(name: str, registry: str | None, entity: str | None) -> None:
    """Show a registered model: description, tags, aliases and its linked versions.

    NAME is a registered model's name (in --registry), or a path such as 'model-registry/My
    Model', 'wandb-registry-dataset/Features' or 'team/model-registry/X'.
    """
    with open_api(entity) as api:
        collection = _collection(api, name, registry)
        versions = list(collection.versions())
        click.echo(collection.path)
        click.echo(f"  description: {collection.description or '-'}")
        click.echo(f"  tags:        {', '.join(collection.tags) or '-'}")
        click.echo(f"  aliases:     {_aliases(collection) or '-'}")
        click.echo(f"  versions:    {collection.version_count}")
        if versions:
            click.echo("")
            table(
                ["VERSION", "ALIASES", "SOURCE", "LINKED BY", "LINKED AT", "RUN"],
                [
                    [
                        v.version,
                        ", ".join(v.aliases),
                        v.source_qualified_name,
                        v.linked_by,
                        short_time(v.linked_at),
                        v.run_id,
                    ]
                    for v in versions
                ],
            )


@registry.group()
def alias() -> None:
    """Move or remove an alias of a registered model (a protected alias such as production
    needs an admin of the entity)."""


@alias.command(name="add")
@click.argument("name")
@click.argument("version")
@click.argument("alias_name", metavar="ALIAS")
@REGISTRY
@ENTITY
@friendly
def add_alias(
    name: str, version: str, alias_name: str, registry: str | None, entity: str | None
) -> None:
    """Put ALIAS on VERSION (v3, or 3) of NAME, moving it from the version holding it.

    NAME is a registered model's name (in --registry), or a path such as 'model-registry/X'.
    """
    with open_api(entity) as api:
        collection = _collection(api, name, registry)
        collection.set_alias(alias_name, version)
        held = collection.alias_versions.get(alias_name, "?")
    click.echo(f"{collection.path}: {alias_name!r} is on {held}.")


@alias.command(name="rm")
@click.argument("name")
@click.argument("alias_name", metavar="ALIAS")
@REGISTRY
@ENTITY
@friendly
def remove_alias(name: str, alias_name: str, registry: str | None, entity: str | None) -> None:
    """Remove ALIAS from NAME (from whichever version holds it)."""
    with open_api(entity) as api:
        collection = _collection(api, name, registry)
        collection.remove_alias(alias_name)
    click.echo(f"{collection.path}: {alias_name!r} removed.")


@registry.command()
@click.argument("name")
@click.option("--alias", "alias_name", default=None, help="Only the changes of this alias.")
@click.option(
    "--at",
    default=None,
    help="With --alias: which version held it at this ISO time (e.g. 2026-01-31T12:00:00Z).",
)
@REGISTRY
@ENTITY
@friendly
def history(
    name: str, alias_name: str | None, at: str | None, registry: str | None, entity: str | None
) -> None:
    """The history of NAME: links, unlinks, aliases added and removed, with who and when."""
    if at is not None and alias_name is None:
        raise click.UsageError("--at asks which version held an alias then: give --alias too")
    with open_api(entity) as api:
        collection = _collection(api, name, registry)
        if at is not None and alias_name is not None:
            holder = collection.history(alias=alias_name, at=at)
            if holder is None:
                click.echo(f"No version of {collection.path} held {alias_name!r} at {at}.")
            else:
                click.echo(f"{holder} held {alias_name!r} at {at}.")
            return
        entries = collection.history(alias=alias_name)
    table(
        ["#", "AT", "ACTION", "VERSION", "ALIAS", "BY", "RUN"],
        [
            [
                e["seq"],
                short_time(e.get("at")),
                e["action"],
                e.get("version") or "",
                e.get("alias", ""),
                e.get("actor", ""),
                e.get("run_id", ""),
            ]
            for e in entries
        ],
    )
