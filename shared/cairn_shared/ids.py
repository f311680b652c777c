"""Deterministic identifiers.

A consumer derives every id it writes or emits from the id of the event it handles, so a
redelivered event re-finds its own writes (duplicate key on insert) and re-emits the same events
with the same ids. Nothing written by a handler takes a random id.
"""

from __future__ import annotations

import uuid

# Fixed forever: changing it would change every derived id.
CAIRN_NAMESPACE = uuid.UUID("6f1c1f0e-5b8a-4c52-9f4e-0c2a7d1c9e3b")


def derive_id(source_id: str, *purpose: str) -> str:
    """The id of what ``source_id`` causes, one per ``purpose`` (for example ``"committed"``)."""
    name = "/".join((source_id, *purpose))
    return str(uuid.uuid5(CAIRN_NAMESPACE, name))


def new_id() -> str:
    """A fresh random id, only for things that start a causal chain (an HTTP request)."""
    return str(uuid.uuid4())
