"""``cairn.Api``: reading artifacts outside of a run."""

from __future__ import annotations

from pathlib import Path

import pytest

import cairn
from cairn.errors import NotFoundError
from tests.unit.sdk.fakes import FakeCairn


def _log_versions(tmp_path: Path, count: int, project: str = "p") -> None:
    with cairn.init(project=project) as run:
        for i in range(count):
            (tmp_path / "f").write_text(str(i))
            artifact = cairn.Artifact("data", "dataset", metadata={"i": i})
            artifact.add_file(tmp_path / "f")
            run.log_artifact(artifact, aliases=["best"] if i == 1 else None)


def test_artifact_by_every_name_form(fake: FakeCairn, tmp_path: Path) -> None:
    _log_versions(tmp_path, 3)
    api = cairn.Api(overrides={"project": "p"})
    assert api.artifact("alice/p/data:v0").version == "v0"
    assert api.artifact("p/data:best").version == "v1"
    latest = api.artifact("data")
    assert (latest.version, latest.metadata, latest.aliases) == ("v2", {"i": 2}, ["latest"])
    assert latest.qualified_name == "alice/p/data:v2"
    assert latest.id is not None
    with pytest.raises(ValueError, match="not 'model'"):
        api.artifact("data:v0", type="model")
    api.close()


def test_defaults_come_from_the_environment(
    fake: FakeCairn, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _log_versions(tmp_path, 1, project="env proj")
    monkeypatch.setenv("CAIRN_PROJECT", "env proj")
    assert cairn.Api().artifact("data:latest").project == "env proj"


def test_versions_are_listed_across_pages(fake: FakeCairn, tmp_path: Path) -> None:
    _log_versions(tmp_path, 103)
    versions = cairn.Api().artifact_versions("dataset", "p/data")
    assert [v.version for v in versions] == [f"v{i}" for i in range(103)]
    assert len(fake.calls("GET", r"/artifacts/data/versions$")) == 2
    with pytest.raises(ValueError, match="has type 'dataset'"):
        cairn.Api().artifact_versions("model", "p/data")


def test_artifact_exists(fake: FakeCairn, tmp_path: Path) -> None:
    _log_versions(tmp_path, 1)
    api = cairn.Api(overrides={"project": "p"})
    assert api.artifact_exists("data:v0")
    assert not api.artifact_exists("data:v9")
    assert not api.artifact_exists("nothing")
    assert not api.artifact_exists("data", type="model")


def test_a_missing_artifact_raises_not_found(fake: FakeCairn) -> None:
    with pytest.raises(NotFoundError, match="no artifact 'ghost'"):
        cairn.Api().artifact("p/ghost:latest")


def test_a_logged_artifact_is_read_only(fake: FakeCairn, tmp_path: Path) -> None:
    _log_versions(tmp_path, 1)
    artifact = cairn.Api().artifact("p/data:v0")
    artifact.metadata["i"] = 99  # a copy: the artifact does not change
    assert artifact.metadata == {"i": 0}
    with pytest.raises(cairn.ArtifactFinalizedError):
        artifact.metadata = {}
    with pytest.raises(cairn.ArtifactFinalizedError):
        artifact.add_file(tmp_path / "f")
    draft = artifact.new_draft()
    assert draft.is_draft()
    assert [e.path for e in draft.files()] == ["f"]
    assert draft.files()[0].local_path is None  # its bytes are in storage already
