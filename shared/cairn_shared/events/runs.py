"""Events of the run lifecycle, produced by ingest."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, ClassVar, Self

from pydantic import Field

from cairn_shared.events.envelope import EventData


class RunStarted(EventData):
    type: ClassVar[str] = "run.started"

    run_id: str = Field(min_length=1, max_length=128)
    name: str = Field(default="", max_length=256)
    job_type: str = Field(default="", max_length=128)
    config: dict[str, Any] = Field(default_factory=dict)
    started_at: datetime

    @classmethod
    def example(cls) -> Self:
        return cls(
            run_id="3f2a9c1d",
            name="glowing-cairn-1",
            job_type="train",
            config={"lr": 0.001},
            started_at=datetime(2026, 1, 1, tzinfo=UTC),
        )


class RunFinished(EventData):
    type: ClassVar[str] = "run.finished"

    run_id: str = Field(min_length=1, max_length=128)
    exit_code: int = 0
    finished_at: datetime

    @classmethod
    def example(cls) -> Self:
        return cls(run_id="3f2a9c1d", exit_code=0, finished_at=datetime(2026, 1, 1, tzinfo=UTC))


SCHEMAS: tuple[type[EventData], ...] = (RunStarted, RunFinished)
