"""Plans: what one command does to a collection, decided once and then applied idempotently.

The owner of a collection's partition decides a command's effect from the collection's state
and records it (the plan) with the collection's new state, before it writes anything else.
Applying a plan is a list of idempotent writes (inserts with fixed ids, sets of whole values)
and publications with fixed event ids, so a redelivered or retried command re-applies the
recorded plan: it never re-decides from a half-changed state (an alias already moved would
otherwise lose its events and history).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from cairn_shared.events.envelope import Cause, Envelope, EventData
from cairn_shared.events.registry import ModelAliasAdded, ModelAliasRemoved
from cairn_shared.ids import derive_id
from cairn_shared.registry_paths import version_name

from cairn_registry.domain.aliases import AliasMove, apply_moves
from cairn_registry.domain.history import ALIAS_ADDED, ALIAS_REMOVED, next_time

Document = dict[str, Any]
SOURCE = "/cairn/registry"


@dataclass(frozen=True)
class LinkRef:
    """What alias events say about the linked version an alias is on."""

    link_index: int
    source_sequence: str
    source_version_index: int


@dataclass(frozen=True)
class CollectionState:
    """What the planners need to know of a collection, read by its single writer."""

    collection_id: str
    entity: str
    registry: str
    collection: str
    exists: bool = False
    version_count: int = 0
    aliases: Mapping[str, int] = field(default_factory=dict)
    # Active links: at least every one an alias names and every one the command touches.
    links: Mapping[int, LinkRef] = field(default_factory=dict)
    active: Mapping[int, str] = field(default_factory=dict)  # link index → source version id
    max_link_index: int | None = None  # over every link ever made: indexes are never reused
    last_seq: int = 0
    last_at: datetime | None = None

    @property
    def newest_active(self) -> tuple[int, ...]:
        """The two newest active link indexes, newest first."""
        return tuple(sorted(self.active, reverse=True)[:2])

    def active_link_of(self, version_id: str) -> int | None:
        return next((i for i, key in self.active.items() if key == version_id), None)


@dataclass(frozen=True)
class Command:
    id: str  # the command the requester polls; every derived id comes from it
    cause: Cause
    now: datetime
    requested_by_admin: bool = False
    run_id: str = ""


class RejectedError(Exception):
    """The command cannot be applied; nothing changes. ``code`` is machine-readable."""

    def __init__(self, code: str, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason


@dataclass
class Plan:
    command_id: str
    kind: str
    collection_id: str
    at: datetime
    actor: str
    link_index: int | None = None  # the command's answer
    create_collection: Document | None = None
    insert_link: Document | None = None
    unlink_index: int | None = None
    collection_set: Document = field(default_factory=dict)
    moves: list[AliasMove] = field(default_factory=list)
    history: list[Document] = field(default_factory=list)
    events: list[Document] = field(default_factory=list)  # {"key", "json"}: no user key a field
    head: Document = field(default_factory=dict)  # the collection's state after the plan

    @property
    def touches_links(self) -> bool:
        """Whether it writes a link document (a new link, or an unlink)."""
        return self.insert_link is not None or self.unlink_index is not None

    def envelopes(self) -> list[tuple[Envelope, str]]:
        return [(Envelope.model_validate_json(e["json"]), str(e["key"])) for e in self.events]

    def to_document(self) -> Document:
        return {
            "command_id": self.command_id,
            "kind": self.kind,
            "collection_id": self.collection_id,
            "at": self.at,
            "actor": self.actor,
            "link_index": self.link_index,
            "create_collection": self.create_collection,
            "insert_link": self.insert_link,
            "unlink_index": self.unlink_index,
            "collection_set": self.collection_set,
            "moves": [
                {"alias": m.alias, "from": m.from_index, "to": m.to_index} for m in self.moves
            ],
            "history": self.history,
            "events": self.events,
            "head": self.head,
        }

    @classmethod
    def from_document(cls, doc: Mapping[str, Any]) -> Plan:
        return cls(
            command_id=doc["command_id"],
            kind=doc["kind"],
            collection_id=doc["collection_id"],
            at=doc["at"],
            actor=doc["actor"],
            link_index=doc.get("link_index"),
            create_collection=doc.get("create_collection"),
            insert_link=doc.get("insert_link"),
            unlink_index=doc.get("unlink_index"),
            collection_set=dict(doc.get("collection_set") or {}),
            moves=[AliasMove(m["alias"], m["from"], m["to"]) for m in doc.get("moves", [])],
            history=list(doc.get("history", [])),
            events=list(doc.get("events", [])),
            head=dict(doc.get("head") or {}),
        )


def state_after(state: CollectionState, plan: Plan) -> CollectionState:
    """``state`` once ``plan`` is applied (its ``links`` are left as they were)."""
    active = dict(state.active)
    top = state.max_link_index
    if plan.insert_link is not None:
        index = int(plan.insert_link["link_index"])
        active[index] = str(plan.insert_link["source_key"])
        top = index if top is None else max(top, index)
    if plan.unlink_index is not None:
        active.pop(plan.unlink_index, None)
    return replace(
        state,
        exists=True,
        aliases=apply_moves(state.aliases, plan.moves),
        active=active,
        max_link_index=top,
        last_seq=state.last_seq + len(plan.history),
        last_at=plan.at if plan.history else state.last_at,
    )


def head_document(state: CollectionState) -> Document:
    """The fields of a collection's document that hold its writer's state. Aliases and source
    ids are values, never field names (an alias may contain a ``.``)."""
    return {
        "aliases": [{"alias": a, "link_index": i} for a, i in sorted(state.aliases.items())],
        "active": [{"link_index": i, "source_key": k} for i, k in sorted(state.active.items())],
        "max_link_index": state.max_link_index,
        "last_seq": state.last_seq,
        "last_at": state.last_at,
    }


def head_aliases(doc: Mapping[str, Any] | None) -> dict[str, int]:
    """A collection document's aliases: ``alias -> link_index``."""
    return {a["alias"]: int(a["link_index"]) for a in (doc or {}).get("aliases", [])}


def head_active(doc: Mapping[str, Any] | None) -> dict[int, str]:
    """A collection document's active links: ``link_index -> source version id``."""
    return {int(a["link_index"]): str(a["source_key"]) for a in (doc or {}).get("active", [])}


class PlanBuilder:
    """Accumulates a plan's history entries (numbered after the collection's last) and events
    (ids derived from the command id and a purpose)."""

    def __init__(self, state: CollectionState, command: Command, kind: str) -> None:
        self.state = state
        self.command = command
        self.plan = Plan(
            command_id=command.id,
            kind=kind,
            collection_id=state.collection_id,
            at=next_time(command.now, state.last_at),
            actor=command.cause.actor,
        )

    @property
    def at(self) -> datetime:
        return self.plan.at

    def build(self) -> Plan:
        """The plan, with the collection's state after it (``head``): its single writer
        reads that one document by id instead of querying links, aliases and history."""
        plan, state = self.plan, self.state
        if plan.history or plan.moves or plan.create_collection is not None:
            plan.head = head_document(state_after(state, plan))
        return plan

    def entry(
        self,
        action: str,
        *,
        link_index: int | None = None,
        alias: str = "",
        details: Document | None = None,
    ) -> None:
        n = len(self.plan.history)
        state = self.state
        self.plan.history.append(
            {
                "_id": derive_id(self.command.id, "history", str(n)),
                "collection_id": state.collection_id,
                "entity": state.entity,
                "registry": state.registry,
                "collection": state.collection,
                "seq": state.last_seq + 1 + n,
                "at": self.at,
                "action": action,
                "actor": self.command.cause.actor,
                "link_index": link_index,
                "version": version_name(link_index) if link_index is not None else None,
                "alias": alias,
                "run_id": self.command.run_id,
                "command_id": self.command.id,
                "request_id": self.command.cause.requestid,
                "details": details or {},
            }
        )

    def event(self, data: EventData, *purpose: str) -> None:
        envelope = Envelope.wrap(
            data,
            id=derive_id(self.command.id, *purpose),
            source=SOURCE,
            subject=self.state.collection_id,
            cause=self.command.cause,
            entity=self.state.entity,
            time=self.at,
        )
        self.plan.events.append(
            {"key": self.state.collection_id, "json": envelope.model_dump_json()}
        )

    def moves(self, moves: list[AliasMove], links: Mapping[int, LinkRef]) -> None:
        """History and events of alias moves: "removed" before "added", so the last entry of an
        alias always names its holder."""
        self.plan.moves.extend(moves)
        for move in moves:
            if move.from_index is not None:
                self.entry(ALIAS_REMOVED, link_index=move.from_index, alias=move.alias)
                self.event(
                    ModelAliasRemoved(**self._alias_fields(move.alias, links[move.from_index])),
                    "alias.removed",
                    move.alias,
                )
            if move.to_index is not None:
                self.entry(ALIAS_ADDED, link_index=move.to_index, alias=move.alias)
                self.event(
                    ModelAliasAdded(**self._alias_fields(move.alias, links[move.to_index])),
                    "alias.added",
                    move.alias,
                )

    def identity(self) -> Document:
        s = self.state
        return {
            "collection_id": s.collection_id,
            "registry": s.registry,
            "collection": s.collection,
        }

    def _alias_fields(self, alias: str, link: LinkRef) -> Document:
        return {
            **self.identity(),
            "alias": alias,
            "link_index": link.link_index,
            "version": version_name(link.link_index),
            "source_sequence": link.source_sequence,
            "source_version_index": link.source_version_index,
        }
