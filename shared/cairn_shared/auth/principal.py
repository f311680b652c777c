"""Who is calling: the user behind an API key and the roles it holds in each entity."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from cairn_shared.auth.roles import Role


@dataclass(frozen=True)
class Principal:
    user: str
    is_admin: bool = False  # a server admin: admin of every entity
    roles: Mapping[str, Role] = field(default_factory=dict)

    def role_in(self, entity: str) -> Role | None:
        """The caller's role in ``entity``, or None when it may not even know the entity exists."""
        if self.is_admin:
            return Role.ADMIN
        return self.roles.get(entity)

    @property
    def default_entity(self) -> str:
        """A user's own entity carries the user's name, as in W&B."""
        return self.user
