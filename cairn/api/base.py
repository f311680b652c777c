"""What the ``Api`` mixins (registry, automations...) rely on from ``cairn.Api``."""

from __future__ import annotations

from cairn.names import check_entity_name
from cairn.session import Session


class ApiMixinBase:
    """The connection and the default entity; ``cairn.api.public.Api`` provides both."""

    _session: Session

    @property
    def default_entity(self) -> str:
        raise NotImplementedError  # pragma: no cover - Api overrides it

    @property
    def default_project(self) -> str:
        raise NotImplementedError  # pragma: no cover - Api overrides it

    def _entity(self, entity: str | None) -> str:
        """``entity`` checked, or the default entity."""
        return check_entity_name(entity) if entity else self.default_entity
