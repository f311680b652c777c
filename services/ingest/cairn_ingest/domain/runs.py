"""Runs: what a training script's ``cairn.init`` starts and ``run.finish`` ends."""

from __future__ import annotations

import re

from cairn_shared.ids import derive_id

RUN_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


def check_run_id(run_id: str) -> str:
    if not RUN_ID.fullmatch(run_id):
        raise ValueError(f"invalid run id {run_id!r}: use 1-64 letters, digits, '_' or '-'")
    return run_id


def run_path(entity: str, project: str, run_id: str) -> str:
    """The run's global name, also its Kafka key: all its events stay in order."""
    return f"{entity}/{project}/{run_id}"


def lifecycle_event_id(path: str, step: str) -> str:
    """The same request retried by the SDK publishes the same event id: consumers dedupe it."""
    return derive_id(f"run:{path}", step)
