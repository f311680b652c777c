"""``cairn.init`` and ``Run``: W&B's run, for artifacts (``run.log`` comes separately)."""

from __future__ import annotations

import atexit
import contextlib
import os
import secrets
import string
import sys
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType
from typing import Any

from cairn.artifacts import remote
from cairn.artifacts.artifact import Artifact
from cairn.errors import CairnError, WaitTimeoutError
from cairn.names import ArtifactPath, check_project_name, check_run_id
from cairn.registry import linking
from cairn.registry.linked import LinkedArtifact
from cairn.registry.paths import is_registry_path
from cairn.runs.history import RunHistory, open_history, resolve_mode, run_entity
from cairn.runs.summary import Summary
from cairn.sdk import state
from cairn.sdk.config import Config, config_values
from cairn.session import Session

RUN_ID_ALPHABET = string.ascii_lowercase + string.digits
FINISH_WAIT_SECONDS = 120.0


def new_run_id() -> str:
    """8 random lower-case base-36 characters, as W&B's run ids."""
    return "".join(secrets.choice(RUN_ID_ALPHABET) for _ in range(8))


class Run:
    """A unit of work (training, evaluation...) that logs and uses artifacts.

    Made by ``cairn.init``; also a context manager whose exit finishes the run (exit code 1
    when an exception escapes).
    """

    def __init__(
        self,
        session: Session,
        place: remote.Place,
        run_id: str,
        *,
        name: str,
        job_type: str,
        config: Config,
    ) -> None:
        self._session = session
        self._place = place
        self.id = run_id
        self.name = name or run_id
        self.job_type = job_type
        self.config = config
        self._pending: list[Artifact] = []
        self._finished = False
        self._crashed = False  # an uncaught exception ended the script (see _watch_crashes)

    @property
    def entity(self) -> str:
        return self._place.entity

    @property
    def project(self) -> str:
        return self._place.project

    @property
    def path(self) -> str:
        """``entity/project/run_id``."""
        return f"{self.entity}/{self.project}/{self.id}"

    def __repr__(self) -> str:
        return f"<Run {self.path} ({'finished' if self._finished else 'running'})>"

    _history: RunHistory  # set by init

    def log(
        self, data: dict[str, Any], step: int | None = None, commit: bool | None = None
    ) -> None:
        """Log a row of metrics; returns at once (a background thread sends it). W&B's rules
        for ``step`` and ``commit``: see ``cairn.runs.history``."""
        self._history.log(data, step, commit)

    @property
    def summary(self) -> Summary:
        """The last logged value of each key, unless set explicitly (W&B's ``run.summary``)."""
        return self._history.summary

    @property
    def step(self) -> int:
        """The ``_step`` of the next committed row."""
        return self._history.step

    def _check_open(self) -> None:
        if self._finished:
            raise CairnError(f"run {self.path} has finished; start another with cairn.init()")

    def log_artifact(
        self,
        artifact_or_path: Artifact | str | os.PathLike[str],
        name: str | None = None,
        type: str | None = None,
        aliases: Sequence[str] | str | None = None,
    ) -> Artifact:
        """Log an artifact (or a file, folder or reference URI) as an output of this run.

        Uploads what storage lacks and submits the manifest; the version is committed
        asynchronously (``artifact.wait()``). ``latest`` moves to it, and ``aliases`` too.
        """
        self._check_open()
        if isinstance(artifact_or_path, Artifact):
            artifact = artifact_or_path
        else:
            artifact = _artifact_from_path(str(artifact_or_path), name, type, self.id)
        artifact._log(self._session, self._place, self.id, remote.aliases_of(aliases))
        self._pending.append(artifact)
        return artifact

    def use_artifact(self, artifact_or_name: Artifact | str, type: str | None = None) -> Artifact:
        """Declare an artifact version as an input of this run and return it.

        ``artifact_or_name`` is ``name:alias``, ``name:vN`` (``latest`` when neither is given),
        ``project/name:alias``, ``entity/project/name:alias``, a registry version
        (``[entity/]model-registry/<name>:alias``: its source version is used), or a logged
        ``Artifact``. Raises ``cairn.errors.NotFoundError`` with the server's message when
        there is no such artifact, and ``ValueError`` when ``type`` does not match.
        """
        self._check_open()
        self._settle_quietly()
        if isinstance(artifact_or_name, Artifact):
            artifact = artifact_or_name.wait()
        elif is_registry_path(artifact_or_name):
            artifact = linking.use_linked(self._session, artifact_or_name, self.entity)
        else:
            ref = ArtifactPath.parse(artifact_or_name)
            place = remote.Place(ref.entity or self.entity, ref.project or self.project)
            doc = remote.read_version(self._session, place, ref.name, ref.ref)
            artifact = Artifact._from_version(self._session, place, doc)
        if type is not None and artifact.type != type:
            raise ValueError(
                f"artifact {artifact.qualified_name} has type {artifact.type!r}, not {type!r}"
            )
        logged = artifact._require_logged()
        index = int(artifact._doc()["version_index"])
        remote.mark_used(self._session, logged.place, self.id, artifact._name, index)
        return artifact

    def link_artifact(
        self,
        artifact: Artifact,
        target_path: str,
        aliases: Sequence[str] | str | None = None,
    ) -> LinkedArtifact:
        """Link a logged artifact version into a registry collection and return the link.

        ``target_path`` is ``[entity/]model-registry/<registered model>`` or
        ``[entity/]wandb-registry-<registry>/<collection>``; the collection is created if
        needed. ``aliases`` apply in the collection (``latest`` moves by itself). Works right
        after ``log_artifact`` (a draft is logged first); waits for the registry, and raises
        ``cairn.registry.remote.RegistryRejectedError`` with its reason if it refuses.
        """
        self._check_open()
        return linking.link_artifact(self, artifact, target_path, aliases)

    def link_model(
        self,
        path: str | os.PathLike[str],
        registered_model_name: str,
        name: str | None = None,
        aliases: Sequence[str] | str | None = None,
    ) -> LinkedArtifact:
        """Log ``path`` (a folder, a file or an ``s3://`` reference) as a ``model`` artifact
        and link it to the registered model ``registered_model_name`` (created if absent).

        ``name`` defaults to ``run-<run id>-<basename>``; files matching a logged version reuse
        it. Raises ``AssertionError`` when ``registered_model_name`` is a path or ``name`` is
        an artifact whose type lacks ``model``, ``ValueError`` when ``name`` is invalid.
        """
        self._check_open()
        return linking.link_model(self, path, registered_model_name, name=name, aliases=aliases)

    def finish(self, exit_code: int = 0) -> None:
        """Wait for this run's logged artifacts to commit, then mark the run finished."""
        if self._finished:
            return
        self._finished = True
        rejected = self._settle_artifacts()
        try:
            self._history.finish(exit_code)  # flush history, then mark the run finished
        finally:
            state.clear_active(self)
            atexit.unregister(self._finish_at_exit)
            self._session.close()
        if rejected:
            raise CairnError("; ".join(rejected))

    def _finish_at_exit(self) -> None:
        """A script that did not call ``finish``: exit code 1 if it died of an exception."""
        try:
            self.finish(1 if self._crashed else 0)
        except CairnError as exc:
            print(f"cairn: while finishing run {self.path}: {exc}", file=sys.stderr)  # noqa: T201

    def _settle_quietly(self) -> None:
        """Read your writes: a name may refer to what this run logged a moment ago. A rejection
        is not this call's business: the artifact's own ``wait`` and ``finish`` report it."""
        for pending in self._pending:
            with contextlib.suppress(CairnError):
                pending.wait(timeout=FINISH_WAIT_SECONDS)

    def _settle_artifacts(self) -> list[str]:
        rejected: list[str] = []
        for artifact in self._pending:
            try:
                artifact.wait(timeout=FINISH_WAIT_SECONDS)
            except WaitTimeoutError as exc:
                print(f"cairn: {exc}", file=sys.stderr)  # noqa: T201 - the run goes on ending
            except CairnError as exc:
                rejected.append(f"artifact {artifact._name!r}: {exc}")
        self._pending.clear()
        return rejected

    def __enter__(self) -> Run:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc_type is None:
            self.finish(0)
            return
        try:
            self.finish(1)
        except CairnError as finish_error:
            # The script's own exception matters more: report ours beside it.
            print(f"cairn: while finishing run {self.path}: {finish_error}", file=sys.stderr)  # noqa: T201


def _artifact_from_path(path: str, name: str | None, type: str | None, run_id: str) -> Artifact:
    """W&B's ``log_artifact(path)``: a file, a folder or a reference URI."""
    base = Path(path.rstrip("/")).name or "artifact"
    artifact = Artifact(name or f"run-{run_id}-{base}", type or "unspecified")
    if "://" in path:
        artifact.add_reference(path)
    elif Path(path).is_dir():
        artifact.add_dir(path)
    else:
        artifact.add_file(path)
    return artifact


def init(
    project: str | None = None,
    *,
    entity: str | None = None,
    job_type: str | None = None,
    config: Any = None,
    name: str | None = None,
    id: str | None = None,
    mode: str | None = None,
) -> Run:
    """Start a run and make it ``cairn.run``; a run already active is finished first.

    ``project`` defaults to ``CAIRN_PROJECT`` or ``uncategorized``; ``entity`` to
    ``CAIRN_ENTITY`` or the caller's default entity; ``id`` to 8 random base-36 characters.
    ``mode`` (or ``CAIRN_MODE``) ``offline`` writes the run to ``./cairn/offline-run-...``
    without contacting the server; ``cairn sync DIR`` uploads it later.
    """
    previous = state.active_run()
    if previous is not None:
        previous.finish()
    mode = resolve_mode(mode)
    session = Session()
    place = remote.Place(
        run_entity(session, entity, mode),
        check_project_name(project) if project else session.default_project(),
    )
    run_id = check_run_id(id) if id else new_run_id()
    if name is not None and len(name) > 256:
        raise ValueError("the run name may have at most 256 characters")
    if job_type is not None and len(job_type) > 128:
        raise ValueError("the job type may have at most 128 characters")
    values = config_values(config)
    remote.check_json(values, "run config")
    if mode == "online":
        session.ensure_project(place.entity, place.project)
        body = {"run_id": run_id, "name": name or "", "job_type": job_type or "", "config": values}
        session.api.post(f"{place.ingest()}/runs", body)
    run = Run(
        session, place, run_id, name=name or "", job_type=job_type or "", config=Config(values)
    )
    run._history = open_history(session, run, mode, values)
    run.config._watch(run._history.config_changed)
    state.set_active(run)
    atexit.register(run._finish_at_exit)
    _watch_crashes()
    return run


def _watch_crashes() -> None:
    """Chain ``sys.excepthook`` (once) so that an uncaught exception marks the active run as
    crashed before ``atexit`` finishes it, as W&B does."""
    previous = sys.excepthook
    if getattr(previous, "_cairn_hook", False):
        return

    def hook(kind: type[BaseException], value: BaseException, tb: TracebackType | None) -> None:
        run = state.active_run()
        if run is not None:
            run._crashed = True
        previous(kind, value, tb)

    setattr(hook, "_cairn_hook", True)  # noqa: B010 - a function attribute mypy cannot see
    sys.excepthook = hook


def _active() -> Run:
    run = state.active_run()
    if run is None:
        raise CairnError("no active run: call cairn.init() first")
    return run


def finish(exit_code: int = 0) -> None:
    """Finish the active run, if any."""
    run = state.active_run()
    if run is not None:
        run.finish(exit_code)


def log(data: dict[str, Any], step: int | None = None, commit: bool | None = None) -> None:
    """``cairn.run.log`` of the active run (W&B's ``wandb.log``)."""
    _active().log(data, step, commit)


def log_artifact(
    artifact_or_path: Artifact | str,
    name: str | None = None,
    type: str | None = None,
    aliases: Sequence[str] | str | None = None,
) -> Artifact:
    """``cairn.run.log_artifact`` of the active run."""
    return _active().log_artifact(artifact_or_path, name=name, type=type, aliases=aliases)


def use_artifact(artifact_or_name: Artifact | str, type: str | None = None) -> Artifact:
    """``cairn.run.use_artifact`` of the active run."""
    return _active().use_artifact(artifact_or_name, type=type)
