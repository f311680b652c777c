"""Where the server is and which key to use: ``CAIRN_BASE_URL`` and ``CAIRN_API_KEY``, or the
key that ``cairn login`` stored, as W&B's SDK reads ``WANDB_BASE_URL`` and ``WANDB_API_KEY``."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import platformdirs

DEFAULT_BASE_URL = "http://127.0.0.1:18080"


def config_dir() -> Path:
    return Path(os.environ.get("CAIRN_CONFIG_DIR") or platformdirs.user_config_dir("cairn"))


def credentials_path() -> Path:
    return config_dir() / "credentials.json"


@dataclass(frozen=True)
class ClientConfig:
    base_url: str
    api_key: str | None

    @classmethod
    def load(cls, base_url: str | None = None, api_key: str | None = None) -> ClientConfig:
        url = (base_url or os.environ.get("CAIRN_BASE_URL") or DEFAULT_BASE_URL).rstrip("/")
        key = api_key or os.environ.get("CAIRN_API_KEY") or stored_key(url)
        return cls(base_url=url, api_key=key)


def stored_key(base_url: str) -> str | None:
    try:
        stored = json.loads(credentials_path().read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return None
    key = stored.get(base_url.rstrip("/"))
    return key if isinstance(key, str) else None


def store_key(base_url: str, api_key: str) -> Path:
    """Keep the key per server in a file only the user can read."""
    path = credentials_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        stored = json.loads(path.read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        stored = {}
    stored[base_url.rstrip("/")] = api_key
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump(stored, f, indent=2)
    tmp.replace(path)
    return path
