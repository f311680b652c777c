"""Linking from a run: ``run.link_artifact``, ``run.link_model`` and ``cairn.link_model``.

A link is requested through ingest and applied by the registry; the request may name the
version by the submission still creating it, so ``run.link_artifact(artifact, ...)`` works right
after ``run.log_artifact(artifact)``. The call then waits for the registry's answer.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cairn.artifacts import remote as artifacts_remote
from cairn.artifacts.artifact import Artifact
from cairn.artifacts.core import LoggedState
from cairn.errors import ArtifactRejectedError, CairnError, NotFoundError
from cairn.http import segment
from cairn.names import check_alias, check_artifact_name
from cairn.registry import remote
from cairn.registry.linked import LinkedArtifact
from cairn.registry.paths import (
    LEGACY_MODEL_REGISTRY,
    CollectionRef,
    check_collection_name,
    parse_collection_path,
)
from cairn.sdk import state
from cairn.session import Session

if TYPE_CHECKING:
    from cairn.sdk.run import Run

MODEL_TYPE = "model"
NOT_A_PATH = (
    "Please provide only the name of the registered model. Do not append the entity or "
    "project name."
)
NOT_A_MODEL = (
    "You can only use this method for 'model' artifacts. For an artifact to be a 'model' "
    "artifact, its type property must contain the substring 'model'."
)


def link_artifact(
    run: Run,
    artifact: Artifact,
    target_path: str,
    aliases: Sequence[str] | str | None = None,
) -> LinkedArtifact:
    """Link ``artifact`` (logged now if it is a draft) into the collection ``target_path``."""
    target = parse_collection_path(target_path, allow_ref=False)
    wanted = [check_alias(a) for a in artifacts_remote.aliases_of(aliases)]
    if artifact.is_draft():
        run.log_artifact(artifact)
    return link_version(
        run._session, artifact, target.with_entity(run.entity), wanted, run_id=run.id
    )


def link_version(
    session: Session,
    artifact: Artifact,
    target: CollectionRef,
    aliases: Sequence[str],
    *,
    run_id: str = "",
    timeout: float | None = remote.COMMAND_WAIT_SECONDS,
) -> LinkedArtifact:
    """Ask for the link, wait for the registry to apply it, return the linked version."""
    logged = artifact._require_logged()
    entity = str(target.entity)
    body: dict[str, Any] = {
        "target": target.path(),
        "source": f"{logged.place.entity}/{logged.place.project}/{artifact._name}",
        "aliases": list(dict.fromkeys(aliases)),
        "run_id": run_id,
        "client_id": str(uuid.uuid4()),  # one per link, the same on every retry of the request
    }
    if logged.doc is None and logged.submission_id:
        body["source_submission_id"] = logged.submission_id
    else:
        body["source_version_index"] = int(artifact._doc()["version_index"])
    command_id = remote.request_link(session, entity, body)
    what = f"link {body['source']} to {target.path()}"
    result = remote.wait_command(
        session,
        entity,
        command_id,
        what=what,
        timeout=timeout,
        still_pending=lambda: _check_submission(artifact, logged),
    )
    link = remote.get_version(session, target, f"v{int(result['link_index'])}")
    return LinkedArtifact._from_link(session, target, link)


def _check_submission(artifact: Artifact, logged: LoggedState) -> None:
    """While a link waits for its version: fail at once if the server refused the artifact
    (the registry would wait for it forever), and keep the version once it is committed."""
    if logged.doc is not None or not logged.submission_id:
        return
    url = f"{logged.place.manifest()}/submissions/{segment(logged.submission_id)}"
    status = logged.session.api.get(url)
    if status.get("status") == "rejected":
        raise ArtifactRejectedError(
            f"the server rejected artifact {artifact._name!r}, so it cannot be linked: "
            f"{status.get('reason') or 'no reason given'}"
        )
    if status.get("status") == "committed" and isinstance(status.get("version"), dict):
        logged.doc = status["version"]


def link_model(
    run: Run,
    path: str | os.PathLike[str],
    registered_model_name: str,
    name: str | None = None,
    aliases: Sequence[str] | str | None = None,
) -> LinkedArtifact:
    """Log ``path`` as a ``model`` artifact (the existing version when the files match) and
    link it to the registered model ``registered_model_name`` of the run's entity."""
    if "/" in registered_model_name:
        raise AssertionError(NOT_A_PATH)
    check_collection_name(registered_model_name)
    text = os.fspath(path)
    artifact_name = check_artifact_name(name) if name is not None else default_name(run.id, text)
    wanted = [check_alias(a) for a in artifacts_remote.aliases_of(aliases)]
    existing = _existing_type(run, artifact_name)
    if existing is not None and MODEL_TYPE not in existing.lower():
        raise AssertionError(f"{NOT_A_MODEL} Artifact {artifact_name!r} has type {existing!r}.")
    artifact = run.log_artifact(text, name=artifact_name, type=existing or MODEL_TYPE)
    target = f"{run.entity}/{LEGACY_MODEL_REGISTRY}/{registered_model_name}"
    return link_artifact(run, artifact, target, wanted)


def default_name(run_id: str, path: str) -> str:
    """W&B's name for an artifact logged from a path: ``run-<run id>-<basename>``."""
    base = Path(path.rstrip("/")).name or "artifact"
    return check_artifact_name(f"run-{run_id}-{base}")


def _existing_type(run: Run, name: str) -> str | None:
    """The type of the run project's artifact ``name``, if it exists (or this run logs it)."""
    for pending in run._pending:
        if pending._name == name:
            return pending.type
    try:
        collection = artifacts_remote.read_collection(run._session, run._place, name)
    except NotFoundError:
        return None
    return str(collection.get("type") or "") or None


def use_linked(session: Session, path: str, entity: str) -> LinkedArtifact:
    """The linked version ``[entity/]model-registry/<name>[:alias|:vN]``."""
    ref = parse_collection_path(path).with_entity(entity)
    link = remote.get_version(session, ref, ref.ref)
    return LinkedArtifact._from_link(session, ref, link)


def module_link_model(
    path: str | os.PathLike[str],
    registered_model_name: str,
    name: str | None = None,
    aliases: Sequence[str] | str | None = None,
) -> LinkedArtifact:
    """``cairn.link_model``: ``run.link_model`` of the active run (W&B's ``wandb.link_model``)."""
    run = state.active_run()
    if run is None:
        raise CairnError("no active run: call cairn.init() before cairn.link_model()")
    return run.link_model(path, registered_model_name, name=name, aliases=aliases)
