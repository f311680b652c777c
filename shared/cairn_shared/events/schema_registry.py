"""The registry that maps event type strings to their versioned payload schemas.

A schema change that is not backward compatible gets a new version and a pure upcaster from the
previous version, so a consumer always handles the latest shape and old events still decode.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from cairn_shared.events.envelope import Envelope, EventData

Upcaster = Callable[[dict[str, Any]], dict[str, Any]]


class UnknownEventError(LookupError):
    """The event type is not registered: the consumer cannot interpret it."""


class SchemaRegistry:
    """Type string to schema class (latest version) plus upcasters from older versions."""

    def __init__(self, schemas: Iterable[type[EventData]] = ()) -> None:
        self._latest: dict[str, type[EventData]] = {}
        self._upcasters: dict[tuple[str, int], Upcaster] = {}
        for schema in schemas:
            self.register(schema)

    def register(self, schema: type[EventData]) -> None:
        current = self._latest.get(schema.type)
        if current is not None and current.schema_version >= schema.schema_version:
            raise ValueError(f"{schema.type} v{schema.schema_version} is already registered")
        self._latest[schema.type] = schema

    def register_upcaster(self, event_type: str, from_version: int, upcaster: Upcaster) -> None:
        """``upcaster`` turns a payload of ``from_version`` into one of ``from_version + 1``."""
        self._upcasters[(event_type, from_version)] = upcaster

    def schema(self, event_type: str) -> type[EventData]:
        try:
            return self._latest[event_type]
        except KeyError:
            raise UnknownEventError(f"unknown event type {event_type!r}") from None

    def types(self) -> list[str]:
        return sorted(self._latest)

    def decode(self, envelope: Envelope) -> EventData:
        """The envelope's payload as an instance of the latest schema of its type."""
        schema = self.schema(envelope.type)
        data = dict(envelope.data)
        for version in range(envelope.schema_version, schema.schema_version):
            data = self._upcasters[(envelope.type, version)](data)
        return schema.model_validate(data)


def _all_schemas() -> list[type[EventData]]:
    from cairn_shared.events import artifacts, blobs, registry, runs  # noqa: PLC0415 - a cycle

    return [*runs.SCHEMAS, *artifacts.SCHEMAS, *blobs.SCHEMAS, *registry.SCHEMAS]


SCHEMAS = SchemaRegistry(_all_schemas())
