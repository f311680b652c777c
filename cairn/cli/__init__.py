"""The ``cairn`` command line."""

from __future__ import annotations

from typing import Any

import click

from cairn.cli.artifact import artifact
from cairn.cli.automation import automation
from cairn.cli.registry import registry
from cairn.cli.sync import sync
from cairn.errors import CairnError
from cairn.sdk.login import check_key
from cairn.settings import ClientConfig, store_key


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="cairn")
def main() -> None:
    """Cairn: a self-hosted artifact store and model registry with the W&B SDK's shape.

    The server is CAIRN_BASE_URL (default http://127.0.0.1:18080); the key is CAIRN_API_KEY,
    or the one `cairn login` stored.
    """


@main.command()
@click.argument("key", required=False)
@click.option("--host", "base_url", envvar="CAIRN_BASE_URL", help="The server's base URL.")
@click.option("--verify/--no-verify", default=True, show_default=True, help="Check the key first.")
def login(key: str | None, base_url: str | None, verify: bool) -> None:
    """Store an API key for this machine (asks for it when KEY is not given)."""
    config = ClientConfig.load(base_url=base_url, api_key=None)
    if key is None:
        key = click.prompt(f"API key for {config.base_url}", hide_input=True).strip()
    config = ClientConfig(base_url=config.base_url, api_key=key)
    if verify:
        viewer = _viewer(config)
        click.echo(f"Logged in to {config.base_url} as {viewer['user']}.")
    path = store_key(config.base_url, key)
    click.echo(f"Key stored in {path}.")


@main.command()
def whoami() -> None:
    """Show the user behind the current key and its roles."""
    config = ClientConfig.load()
    viewer = _viewer(config)
    admin = " (server admin)" if viewer["admin"] else ""
    click.echo(f"{viewer['user']}{admin} at {config.base_url}")
    for entity, role in viewer["entities"].items():
        click.echo(f"  {entity}: {role}")


def _viewer(config: ClientConfig) -> dict[str, Any]:
    try:
        return check_key(config)
    except CairnError as exc:
        raise click.ClickException(str(exc)) from exc


main.add_command(artifact)
main.add_command(registry)
main.add_command(automation)
main.add_command(sync)

if __name__ == "__main__":
    main()
