"""Fixtures shared by every test tier."""

from __future__ import annotations

import os

import pytest
from cairn_shared.ids import new_id


@pytest.fixture
def unique() -> str:
    """A short unique suffix, so tests can share one broker, database server and bucket."""
    return new_id()[:8]


def stack_env(name: str) -> str:
    """A variable that `cairn-dev env` exports; its absence fails the test, never skips it."""
    value = os.environ.get(name)
    if not value:
        pytest.fail(
            f"{name} is not set: run the tests through `./cairn-dev test`, "
            'or `eval "$(./cairn-dev env)"` after `./cairn-dev up`'
        )
    return value
