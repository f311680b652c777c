"""What every component of the stack provides to the orchestration in stack.py."""

import os
from abc import ABC, abstractmethod
from pathlib import Path
from typing import ClassVar

from cairn_dev.settings import Settings


class Component(ABC):
    """One process of the stack: how to install, configure, start and check it."""

    name: str
    tier: ClassVar[int] = 0  # components of a tier start together; tier 1 needs tier 0 ready
    ready_timeout: ClassVar[float] = 60.0

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    @property
    def port_names(self) -> tuple[str, ...]:
        """Names in Settings.ports; the first is the main one."""
        return (self.name,)

    @property
    def ports(self) -> dict[str, int]:
        return {name: self.settings.ports[name] for name in self.port_names}

    @property
    def port(self) -> int:
        return self.settings.ports[self.port_names[0]]

    @property
    def data_dir(self) -> Path:
        return self.settings.layout.data_dir(self.name)

    @property
    def log_file(self) -> Path:
        return self.settings.layout.log_file(self.name)

    @property
    def cwd(self) -> Path:
        return self.data_dir

    @property
    @abstractmethod
    def backend(self) -> str:
        """What runs, for `status` (e.g. "FerretDB v1.24.2")."""

    @property
    @abstractmethod
    def match(self) -> str:
        """A substring of the process's /proc cmdline that tells our process from a reused pid."""

    def install(self) -> None:  # noqa: B027 - optional hook
        """Fetch or build what is missing (cached); may take minutes the first time."""

    def prepare(self) -> None:
        """Write config files and do one-time data setup before a start."""
        self.data_dir.mkdir(parents=True, exist_ok=True)

    @abstractmethod
    def command(self) -> list[str]:
        """The argv to start; called after install() and prepare()."""

    def env(self) -> dict[str, str]:
        return dict(os.environ)

    @abstractmethod
    def check_ready(self) -> None:
        """One readiness probe over the real protocol; raises readiness.NotReadyError."""

    def after_ready(self) -> None:  # noqa: B027 - optional hook
        """Idempotent setup that needs the running server (e.g. the S3 bucket)."""
