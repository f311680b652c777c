"""Fakes of storage's ports, fresh for each test."""

from __future__ import annotations

import pytest
from cairn_shared.testing import FakeEventPublisher

from tests.unit.storage.fakes import FakeBlobIndex, FakeBlobStore


@pytest.fixture
def store() -> FakeBlobStore:
    return FakeBlobStore()


@pytest.fixture
def index() -> FakeBlobIndex:
    return FakeBlobIndex()


@pytest.fixture
def publisher() -> FakeEventPublisher:
    return FakeEventPublisher()
