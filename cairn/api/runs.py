"""``cairn.Api``'s run reads, shaped as W&B's public API so that analysis code ports with the
import swapped: ``api.runs("entity/project", filters=...)``, ``api.run("entity/project/id")``
and a run's ``history``, ``scan_history``, ``summary``, ``config`` and ``state``."""

from __future__ import annotations

import importlib
import sys
from collections.abc import Iterator, Mapping, Sequence
from typing import Any, overload

from cairn.api.base import ApiMixinBase
from cairn.names import check_entity_name, check_project_name, check_run_id
from cairn.runs import transport
from cairn.session import Session

WANDB_ORDER = "+created_at"  # W&B's default: oldest first


class Run:
    """A run read from the server (W&B's ``wandb.apis.public.Run``).

    ``state`` is ``running``, ``finished`` or ``crashed``; ``config`` and ``summary`` are dicts
    (the summary holds the last logged value of each key, or what the script set). Call
    ``load(force=True)`` to read the run again.
    """

    def __init__(
        self,
        session: Session,
        entity: str,
        project: str,
        run_id: str,
        attrs: Mapping[str, Any] | None = None,
    ) -> None:
        self._session = session
        self.entity, self.project, self.id = entity, project, run_id
        self._attrs: dict[str, Any] = dict(attrs) if attrs is not None else {}
        if attrs is None:
            self.load()

    def load(self, force: bool = False) -> dict[str, Any]:
        """Read the run from the server (again, with ``force``)."""
        if force or not self._attrs:
            self._attrs = transport.read_run(self._api, self.entity, self.project, self.id)
        return self._attrs

    @property
    def _api(self) -> Any:
        return self._session.api

    @property
    def path(self) -> list[str]:
        """``[entity, project, run_id]``, as W&B's (``"/".join(run.path)`` is the path)."""
        return [self.entity, self.project, self.id]

    @property
    def name(self) -> str:
        return str(self._attrs.get("name") or self.id)

    @property
    def state(self) -> str:
        return str(self._attrs.get("state", "running"))

    @property
    def job_type(self) -> str:
        return str(self._attrs.get("job_type", ""))

    @property
    def config(self) -> dict[str, Any]:
        return dict(self._attrs.get("config") or {})

    @property
    def summary(self) -> dict[str, Any]:
        return dict(self._attrs.get("summary") or {})

    @property
    def summary_metrics(self) -> dict[str, Any]:
        return self.summary

    @property
    def created_at(self) -> str | None:
        value = self._attrs.get("created_at") or self._attrs.get("started_at")
        return str(value) if value else None

    @property
    def exit_code(self) -> int | None:
        value = self._attrs.get("exit_code")
        return int(value) if value is not None else None

    @property
    def lastHistoryStep(self) -> int:  # noqa: N802 - W&B's name
        """The last ``_step`` stored (-1 when there is no history), as W&B's."""
        step = self._attrs.get("last_step")
        return int(step) if step is not None else -1

    def __repr__(self) -> str:
        return f"<Run {'/'.join(self.path)} ({self.state})>"

    def history(
        self,
        samples: int = 500,
        keys: Sequence[str] | None = None,
        x_axis: str = "_step",
        pandas: bool = True,
        stream: str = "default",
    ) -> Any:
        """At most ``samples`` rows spread over the run, keeping each key's extremes.

        ``keys`` limits the columns (rows lacking them are left out, as in W&B). Returns a
        pandas DataFrame when pandas is installed and ``pandas`` is true, else a list of dicts.
        """
        if stream != "default":
            raise ValueError("only the default stream (run.log rows) is stored")
        wanted = list(keys) if keys else None
        if wanted and x_axis not in wanted:
            wanted.append(x_axis)
        rows = transport.sampled_history(
            self._api, self.entity, self.project, self.id, keys=wanted, samples=samples
        )
        if not pandas:
            return rows
        try:
            pd = importlib.import_module("pandas")  # optional, as in W&B
        except ImportError:
            print(  # noqa: T201 - W&B's termwarn
                "cairn: WARNING Unable to load pandas, call history with pandas=False",
                file=sys.stderr,
            )
            return rows
        return pd.DataFrame.from_records(rows)

    def scan_history(
        self,
        keys: Sequence[str] | None = None,
        page_size: int = 1000,
        min_step: int | None = None,
        max_step: int | None = None,
    ) -> Iterator[dict[str, Any]]:
        """Every row (``min_step`` inclusive, ``max_step`` exclusive), read a page at a time.

        A generator of this run: it keeps the run (and its connection) alive while it is read.
        """
        yield from transport.scan_history(
            self._api,
            self.entity,
            self.project,
            self.id,
            keys=list(keys) if keys else None,
            min_step=min_step,
            max_step=max_step,
            page_size=page_size,
        )


class Runs(Sequence[Run]):
    """A project's runs matching a filter, read a page at a time (W&B's ``Runs``)."""

    def __init__(
        self,
        session: Session,
        entity: str,
        project: str,
        *,
        filters: Mapping[str, Any] | None,
        order: str,
        per_page: int,
    ) -> None:
        self._session, self.entity, self.project = session, entity, project
        self._query = (dict(filters) if filters else None, order, per_page)
        self._pages = self._read()
        self._loaded: list[Run] = []
        self._done = False

    def _read(self) -> Iterator[dict[str, Any]]:
        filters, order, per_page = self._query
        yield from transport.list_runs(
            self._session.api,
            self.entity,
            self.project,
            filters=filters,
            order=order,
            per_page=per_page,
        )

    def _load(self, upto: int | None) -> None:
        while not self._done and (upto is None or len(self._loaded) <= upto):
            try:
                attrs = next(self._pages)
            except StopIteration:
                self._done = True
                return
            run_id = str(attrs.get("id") or str(attrs["path"]).rsplit("/", 1)[-1])
            self._loaded.append(Run(self._session, self.entity, self.project, run_id, attrs))

    def __iter__(self) -> Iterator[Run]:
        index = 0
        while True:
            self._load(index)
            if index >= len(self._loaded):
                return
            yield self._loaded[index]
            index += 1

    def __len__(self) -> int:
        self._load(None)
        return len(self._loaded)

    @overload
    def __getitem__(self, index: int) -> Run: ...
    @overload
    def __getitem__(self, index: slice) -> list[Run]: ...
    def __getitem__(self, index: int | slice) -> Run | list[Run]:
        if isinstance(index, slice) or index < 0:
            self._load(None)
        else:
            self._load(index)
        return self._loaded[index]

    def __repr__(self) -> str:
        return f"<Runs {self.entity}/{self.project}>"


class RunsApiMixin(ApiMixinBase):
    """``runs`` and ``run``."""

    def runs(
        self,
        path: str | None = None,
        filters: Mapping[str, Any] | None = None,
        order: str = WANDB_ORDER,
        per_page: int = 50,
    ) -> Runs:
        """The runs of ``[entity/]project`` (default: the default project) that match
        ``filters``, W&B's Mongo-like dict (``{"config.lr": {"$gt": 0.01}}``,
        ``{"state": "finished"}``, ``{"summary_metrics.acc": {"$gte": 0.9}}``...), in
        ``order`` (``created_at``, ``config.<key>`` or ``summary_metrics.<key>``; ``-`` for
        descending)."""
        entity, project = self._project_path(path)
        return Runs(self._session, entity, project, filters=filters, order=order, per_page=per_page)

    def run(self, path: str = "") -> Run:
        """The run ``entity/project/run_id`` (``project/run_id`` and ``run_id`` use the
        defaults). Raises ``cairn.errors.NotFoundError`` when there is none."""
        parts = [part for part in path.strip("/").split("/") if part]
        if len(parts) == 4 and parts[2] == "runs":  # a run page's URL path
            del parts[2]
        if not 1 <= len(parts) <= 3:
            raise ValueError(f"invalid run path {path!r}: use entity/project/run_id")
        run_id = check_run_id(parts[-1])
        entity, project = self._project_path("/".join(parts[:-1]) or None)
        return Run(self._session, entity, project, run_id)

    def _project_path(self, path: str | None) -> tuple[str, str]:
        parts = [part for part in (path or "").strip("/").split("/") if part]
        if len(parts) > 2:
            raise ValueError(f"invalid project path {path!r}: use entity/project")
        project = check_project_name(parts[-1]) if parts else self.default_project
        entity = check_entity_name(parts[0]) if len(parts) == 2 else self.default_entity
        return entity, project
