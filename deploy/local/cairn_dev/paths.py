"""Where cairn-dev finds the repository and keeps data, logs, pid files and caches."""

import os
from dataclasses import dataclass
from pathlib import Path

import platformdirs

from cairn_dev.errors import CairnDevError


def repo_root() -> Path:
    """The checkout this package is installed from (uv installs workspace members editable)."""
    root = Path(__file__).resolve().parents[3]
    if not (root / "deploy" / "local" / "pyproject.toml").is_file():
        raise CairnDevError(
            f"cairn-dev must run from the Cairn checkout (editable install), not from {root}: "
            "run ./cairn-dev at the repository root"
        )
    return root


def cache_root() -> Path:
    """Downloads and builds, shared by every checkout: ~/.cache/cairn-dev unless overridden
    (apart from the SDK's own cache, ~/.cache/cairn, whose eviction must never touch them)."""
    override = os.environ.get("CAIRN_DEV_CACHE_DIR")
    return Path(override) if override else Path(platformdirs.user_cache_dir("cairn-dev"))


@dataclass(frozen=True)
class Layout:
    """The stack's home: data/<component>/, logs/<component>.log, run/<component>.pid."""

    home: Path

    @classmethod
    def from_env(cls, repo: Path) -> "Layout":
        override = os.environ.get("CAIRN_DEV_HOME")
        home = Path(override).expanduser() if override else repo / ".cairn-dev"
        return cls(home=home.resolve())

    @property
    def data_root(self) -> Path:
        return self.home / "data"

    def data_dir(self, component: str) -> Path:
        return self.data_root / component

    def log_file(self, name: str) -> Path:
        return self.home / "logs" / f"{name}.log"

    def pid_file(self, component: str) -> Path:
        return self.home / "run" / f"{component}.pid"

    @property
    def lock_file(self) -> Path:
        return self.home / "run" / "cairn-dev.lock"

    @property
    def state_file(self) -> Path:
        return self.home / "state.json"

    @property
    def admin_key_file(self) -> Path:
        return self.home / "admin-api-key"

    def ensure(self) -> None:
        for sub in ("data", "logs", "run"):
            (self.home / sub).mkdir(parents=True, exist_ok=True)
