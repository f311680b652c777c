"""Identity and access: API keys (stored hashed), users, entities, projects and roles."""

from cairn_shared.auth.principal import Principal
from cairn_shared.auth.roles import Role

__all__ = ["Principal", "Role"]
