"""``cairn.login``: W&B's ``wandb.login``, storing the key the way ``cairn login`` does."""

from __future__ import annotations

import getpass
from typing import Any

from cairn.errors import AuthenticationError
from cairn.http import ApiClient
from cairn.settings import ClientConfig, store_key


def check_key(config: ClientConfig) -> dict[str, Any]:
    """The viewer behind the key; raises ``AuthenticationError`` when the server refuses it."""
    client = ApiClient(config)
    try:
        viewer: dict[str, Any] = client.get("/ingest/v1/viewer")
    finally:
        client.close()
    return viewer


def login(
    key: str | None = None, host: str | None = None, relogin: bool = False, verify: bool = True
) -> bool:
    """Make a key available to this process and later ones; returns True when one is set.

    Without ``key``, an existing ``CAIRN_API_KEY`` or stored key is kept (unless ``relogin``);
    otherwise the key is asked for on the terminal.
    """
    config = ClientConfig.load(base_url=host)
    if key is None and config.api_key and not relogin:
        return True
    if key is None:
        key = getpass.getpass(f"Cairn API key for {config.base_url}: ").strip()
    if not key:
        raise AuthenticationError("no API key given")
    if verify:
        check_key(ClientConfig(base_url=config.base_url, api_key=key))
    store_key(config.base_url, key)
    return True
