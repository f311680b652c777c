"""The local MongoDB wire-protocol server's environment: FerretDB's Go collector tuned for the
history load, unless the operator set GOGC; mongod left as it is."""

import os
from pathlib import Path

import pytest
from cairn_dev import settings
from cairn_dev.components.mongo import FERRETDB_GOGC, Mongo


@pytest.fixture(autouse=True)
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for var in [name for name in os.environ if name.startswith("CAIRN_DEV_")]:
        monkeypatch.delenv(var)
    monkeypatch.setenv("CAIRN_DEV_HOME", str(tmp_path / "stack"))
    monkeypatch.delenv("GOGC", raising=False)


def test_ferretdb_runs_with_a_lazier_collector(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CAIRN_DEV_MONGO", "ferretdb")
    assert Mongo(settings.load()).env()["GOGC"] == FERRETDB_GOGC


def test_an_operators_gogc_wins(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CAIRN_DEV_MONGO", "ferretdb")
    monkeypatch.setenv("GOGC", "150")
    assert Mongo(settings.load()).env()["GOGC"] == "150"


def test_mongod_gets_the_environment_as_it_is(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CAIRN_DEV_MONGO", "mongod")
    assert "GOGC" not in Mongo(settings.load()).env()
