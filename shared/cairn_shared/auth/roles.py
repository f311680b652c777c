"""Roles as W&B has them, ordered: each one can do everything the ones below it can."""

from __future__ import annotations

from enum import IntEnum


class Role(IntEnum):
    RESTRICTED_VIEWER = 10  # sees metadata, cannot download
    VIEWER = 20  # downloads and uses artifacts
    MEMBER = 30  # logs, links, unlinks, ordinary aliases, tags
    ADMIN = 40  # protected aliases, members, settings

    @property
    def label(self) -> str:
        return self.name.lower()

    @classmethod
    def parse(cls, value: str) -> Role:
        try:
            return cls[value.strip().upper().replace("-", "_")]
        except KeyError:
            allowed = ", ".join(role.label for role in cls)
            raise ValueError(f"unknown role {value!r}; use one of: {allowed}") from None
