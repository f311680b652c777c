"""``cairn automation integration`` and ``cairn automation secret``: where webhooks go, and the
secret values their headers and payloads use (both need an admin of the entity to change)."""

from __future__ import annotations

import click

from cairn.cli.output import friendly, open_api, short_time, table

ENTITY = click.option(
    "--entity", "-e", default=None, help="The entity [default: CAIRN_ENTITY or your own]."
)


@click.group()
def integration() -> None:
    """Webhook integrations: a URL, extra headers and the signing secret of deliveries."""


@integration.command(name="add")
@click.argument("name")
@click.argument("url")
@click.option("--secret", default=None, help="Signing secret whsec_... [default: generated].")
@click.option(
    "--header",
    "headers",
    multiple=True,
    help="NAME=VALUE, repeatable; VALUE may use ${SECRET}, e.g. 'Authorization=Bearer ${TOKEN}'.",
)
@click.option("--description", "-d", default="", help="What the integration is for.")
@ENTITY
@friendly
def add_integration(
    *,
    name: str,
    url: str,
    secret: str | None,
    headers: tuple[str, ...],
    description: str,
    entity: str | None,
) -> None:
    """Create the webhook integration NAME posting to URL; prints its signing secret once."""
    parsed: dict[str, str] = {}
    for header in headers:
        key, sep, value = header.partition("=")
        if not sep or not key:
            raise click.BadParameter(f"{header!r}: use NAME=VALUE", param_hint="--header")
        parsed[key.strip()] = value
    with open_api(entity) as api:
        created = api.create_webhook_integration(
            name=name, url=url, secret=secret, headers=parsed, description=description
        )
    click.echo(f"Created integration {created.name!r} -> {created.url}", err=True)
    click.echo(f"Signing secret (shown only now): {created.signing_secret}")


@integration.command(name="ls")
@ENTITY
@friendly
def list_integrations(entity: str | None) -> None:
    """List the webhook integrations."""
    with open_api(entity) as api:
        found = list(api.webhook_integrations())
    table(
        ["NAME", "URL", "ACTIVE", "HEADERS", "SECRETS", "CREATED"],
        [
            [
                i.name,
                i.url,
                "yes" if i.active and i.enabled else f"no ({i.disabled_reason or 'disabled'})",
                ",".join(i.headers),
                ",".join(str(s.get("hint")) for s in i.signing_secrets if s.get("active")),
                short_time(i.created_at),
            ]
            for i in found
        ],
    )


@integration.command(name="rm")
@click.argument("name")
@ENTITY
@friendly
def remove_integration(name: str, entity: str | None) -> None:
    """Delete the integration NAME (refused while an automation uses it)."""
    with open_api(entity) as api:
        api.delete_webhook_integration(name)
    click.echo(f"Deleted integration {name!r}.")


@click.group()
def secret() -> None:
    """Entity secrets, used as ${NAME} in payloads and integration headers; values are never
    shown again."""


@secret.command(name="set")
@click.argument("name")
@click.option("--value", prompt=True, hide_input=True, help="The value [default: asked for].")
@ENTITY
@friendly
def set_secret(name: str, value: str, entity: str | None) -> None:
    """Store (or replace) the secret NAME (upper case, e.g. CI_TOKEN)."""
    with open_api(entity) as api:
        stored = api.create_secret(name=name, value=value)
    click.echo(f"Stored secret {stored['name']} ({stored.get('hint', '')}).")


@secret.command(name="ls")
@ENTITY
@friendly
def list_secrets(entity: str | None) -> None:
    """List the secrets: names and hints only."""
    with open_api(entity) as api:
        found = api.secrets()
    table(
        ["NAME", "HINT", "BY", "UPDATED"],
        [
            [s["name"], s.get("hint", ""), s.get("created_by", ""), short_time(s.get("updated_at"))]
            for s in found
        ],
    )


@secret.command(name="rm")
@click.argument("name")
@ENTITY
@friendly
def remove_secret(name: str, entity: str | None) -> None:
    """Delete the secret NAME (refused while a payload or header uses it)."""
    with open_api(entity) as api:
        api.delete_secret(name)
    click.echo(f"Deleted secret {name!r}.")
