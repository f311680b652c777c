"""The planners: a command and a collection's state in, a plan (or a rejection) out. Pure."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from cairn_shared.events.registry import (
    ModelAliasChangeRequested,
    ModelCollectionUpdateRequested,
    ModelLinked,
    ModelLinkRequested,
    ModelUnlinked,
    ModelUnlinkRequested,
)
from cairn_shared.names import check_alias
from cairn_shared.registry_paths import check_tag, version_name

from cairn_registry.domain.aliases import (
    AliasMove,
    aliases_by_version,
    apply_moves,
    link_moves,
    moves_to,
    protected_moves,
    requested_aliases,
    unlink_moves,
)
from cairn_registry.domain.history import COLLECTION_UPDATED, LINKED, UNLINKED
from cairn_registry.domain.plans import (
    CollectionState,
    Command,
    LinkRef,
    Plan,
    PlanBuilder,
    RejectedError,
)
from cairn_registry.domain.registries import LATEST, RegistrySettings, check_description

MAX_TAGS = 100


@dataclass(frozen=True)
class SourceVersion:
    """A committed artifact version, as the ``artifact.committed`` projection holds it."""

    sequence: str
    version_index: int
    version_id: str
    artifact_type: str
    manifest_digest: str
    size: int
    metadata: list[dict[str, Any]]  # encode_mapping's shape: user keys are never field names
    committed_at: datetime | None = None


def link_aliases(command: ModelLinkRequested) -> list[str]:
    """The requested aliases, or a rejection: checked before anything waits for the version."""
    try:
        return requested_aliases(command.aliases)
    except ValueError as exc:
        raise RejectedError("invalid", str(exc)) from None


def plan_link(
    state: CollectionState,
    registry: RegistrySettings,
    request: ModelLinkRequested,
    *,
    version: SourceVersion,
    existing: int | None,
    command: Command,
) -> Plan:
    """Link ``version`` (or, if it is linked already as ``existing``, just apply the aliases)."""
    aliases = link_aliases(request)
    if not registry.accepts(version.artifact_type):
        patterns = ", ".join(registry.artifact_types)
        raise RejectedError(
            "type_not_accepted",
            f"the {registry.name!r} registry accepts artifact types matching {patterns}; "
            f"{version.sequence}:v{version.version_index} is of type {version.artifact_type!r}",
        )
    new = existing is None
    if existing is not None:
        index = existing
    else:  # indexes are never reused, so history's "v3" always means one version
        index = 0 if state.max_link_index is None else state.max_link_index + 1
    moves = link_moves(state.aliases, index, aliases, newest=new)
    _guard(moves, registry, command)

    b = PlanBuilder(state, command, "link")
    plan, at, actor = b.plan, b.at, command.cause.actor
    plan.link_index = index
    links = {**state.links, index: LinkRef(index, version.sequence, version.version_index)}
    if not state.exists:
        plan.create_collection = {
            "_id": state.collection_id,
            "entity": state.entity,
            "registry": state.registry,
            "name": state.collection,
            "description": "",
            "tags": [],
            "created_at": at,
            "created_by": actor,
            "updated_at": at,
            "version_count": 0,
        }
    plan.collection_set = {"updated_at": at}
    if new:
        plan.collection_set["version_count"] = state.version_count + 1
        plan.insert_link = _link_document(
            state, index=index, version=version, command=command, at=at
        )
        b.entry(LINKED, link_index=index, details=_source_details(version))
        after = aliases_by_version(apply_moves(state.aliases, moves)).get(index, [])
        b.event(
            ModelLinked(
                **b.identity(),
                link_index=index,
                version=version_name(index),
                source_sequence=version.sequence,
                source_version_index=version.version_index,
                source_version_id=version.version_id,
                artifact_type=version.artifact_type,
                aliases=after,
                run_id=command.run_id,
                linked_at=at,
            ),
            "linked",
        )
    b.moves(moves, links)
    return b.build()


def plan_alias(
    state: CollectionState,
    registry: RegistrySettings,
    request: ModelAliasChangeRequested,
    command: Command,
) -> Plan:
    """Put ``alias`` on ``link_index`` (moving it from its holder), or remove it (None)."""
    try:
        check_alias(request.alias)
    except ValueError as exc:
        raise RejectedError("invalid", str(exc)) from None
    if request.alias == LATEST:
        raise RejectedError("invalid", "'latest' moves by itself to the newest linked version")
    _require_collection(state)
    target = request.link_index
    if target is not None and target not in state.links:
        raise RejectedError("version_not_found", f"{state.collection_id} has no v{target}")
    moves = moves_to(state.aliases, {request.alias: target})
    _guard(moves, registry, command)
    b = PlanBuilder(state, command, "alias")
    b.plan.link_index = target
    if moves:
        b.plan.collection_set = {"updated_at": b.at}
    b.moves(moves, state.links)
    return b.build()


def plan_unlink(
    state: CollectionState,
    registry: RegistrySettings,
    request: ModelUnlinkRequested,
    command: Command,
) -> Plan:
    """Unlink a version: its aliases go, ``latest`` falls back to the newest version left."""
    _require_collection(state)
    index = request.link_index
    link = state.links.get(index)
    if link is None:
        raise RejectedError("version_not_found", f"{state.collection_id} has no v{index}")
    remaining = next((i for i in state.newest_active if i != index), None)
    moves = unlink_moves(state.aliases, index, remaining)
    _guard(moves, registry, command)
    b = PlanBuilder(state, command, "unlink")
    b.plan.link_index = index
    b.plan.unlink_index = index
    b.plan.collection_set = {"updated_at": b.at, "version_count": max(state.version_count - 1, 0)}
    b.entry(UNLINKED, link_index=index)
    b.event(
        ModelUnlinked(
            **b.identity(),
            link_index=index,
            source_sequence=link.source_sequence,
            source_version_index=link.source_version_index,
        ),
        "unlinked",
    )
    b.moves(moves, state.links)
    return b.build()


def plan_update(
    state: CollectionState, request: ModelCollectionUpdateRequested, command: Command
) -> Plan:
    """Set a collection's description and/or tags."""
    _require_collection(state)
    changes: dict[str, Any] = {}
    try:
        if request.description is not None:
            changes["description"] = check_description(request.description)
        if request.tags is not None:
            changes["tags"] = check_tags(request.tags)
    except ValueError as exc:
        raise RejectedError("invalid", str(exc)) from None
    b = PlanBuilder(state, command, "update")
    if changes:
        b.plan.collection_set = {**changes, "updated_at": b.at}
        b.entry(COLLECTION_UPDATED, details=changes)
    return b.build()


def check_tags(tags: list[str]) -> list[str]:
    checked: list[str] = []
    for tag in tags:
        check_tag(tag)
        if tag not in checked:
            checked.append(tag)
    if len(checked) > MAX_TAGS:
        raise ValueError(f"at most {MAX_TAGS} tags")
    return checked


def _guard(moves: list[AliasMove], registry: RegistrySettings, command: Command) -> None:
    """Protected aliases move only at an admin's request; the HTTP edge checked the role (403),
    this re-check covers every other producer of commands."""
    protected = protected_moves(moves, registry.protected_aliases)
    if protected and not command.requested_by_admin:
        raise RejectedError(
            "alias_protected",
            f"only an admin may add or remove the protected alias(es) {', '.join(protected)} "
            f"in the {registry.name!r} registry",
        )


def _require_collection(state: CollectionState) -> None:
    if not state.exists:
        raise RejectedError("collection_not_found", f"no collection {state.collection_id!r}")


def _source_details(version: SourceVersion) -> dict[str, Any]:
    return {"source_sequence": version.sequence, "source_version_index": version.version_index}


def _link_document(
    state: CollectionState,
    *,
    index: int,
    version: SourceVersion,
    command: Command,
    at: datetime,
) -> dict[str, Any]:
    return {
        "_id": f"{state.collection_id}:{version_name(index)}",
        "collection_id": state.collection_id,
        "entity": state.entity,
        "registry": state.registry,
        "collection": state.collection,
        "link_index": index,
        "active": True,
        # Unique with collection_id: one active link per source version. Unlinking frees it.
        "source_key": version.version_id,
        "source": {
            "sequence": version.sequence,
            "version_index": version.version_index,
            "version_id": version.version_id,
            "type": version.artifact_type,
            "manifest_digest": version.manifest_digest,
            "size": version.size,
            "metadata": version.metadata,
        },
        "linked_by": command.cause.actor,
        "linked_at": at,
        "run_id": command.run_id,
        "command_id": command.id,
    }
