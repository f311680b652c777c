"""The client-side rules: W&B's names, aliases, metadata and entry paths, checked before any
request; and the client copy agrees with the server's rules."""

from __future__ import annotations

from pathlib import Path

import pytest
from cairn_shared import names as server_names

import cairn
from cairn.names import (
    ArtifactPath,
    check_alias,
    check_artifact_name,
    check_artifact_type,
    check_entry_path,
    check_metadata,
)
from tests.unit.sdk.fakes import FakeCairn

NAMES = ["mnist", "mnist-v2.1_final", "a" * 128, "", "a" * 129, "my data", "a/b", "a:b", "é"]
ALIASES = ["best", "prod-1", "latest", "v1", "v12", "vx", "a/b", "a:b", "", "x" * 129]
PATHS = ["a.txt", "dir/a.txt", "../a", "a/../b", "/abs", "a//b", "./a", "a\\b", "C:/x", "a/."]


@pytest.mark.parametrize("name", NAMES)
def test_artifact_names_match_the_server(name: str) -> None:
    assert _accepts(check_artifact_name, name) == _accepts(server_names.check_artifact_name, name)


@pytest.mark.parametrize("alias", ALIASES)
def test_aliases_match_the_server(alias: str) -> None:
    assert _accepts(check_alias, alias) == _accepts(server_names.check_alias, alias)


@pytest.mark.parametrize("path", PATHS)
def test_entry_paths_match_the_server(path: str) -> None:
    assert _accepts(check_entry_path, path) == _accepts(server_names.check_entry_path, path)


@pytest.mark.parametrize("value", ["dataset", "model", "a/b", "a:b", ""])
def test_types_match_the_server(value: str) -> None:
    assert _accepts(check_artifact_type, value) == _accepts(server_names.check_artifact_type, value)


def _accepts(check: object, value: str) -> bool:
    try:
        check(value)  # type: ignore[operator]
    except ValueError:
        return False
    return True


def test_a_bad_name_says_what_is_allowed() -> None:
    with pytest.raises(ValueError, match=r"letters, digits, '-', '_' or '\.'"):
        cairn.Artifact("my data", type="dataset")


def test_a_bad_type_is_refused() -> None:
    with pytest.raises(ValueError, match="may not contain '/' or ':'"):
        cairn.Artifact("data", type="data/set")


def test_a_version_shaped_alias_is_refused() -> None:
    with pytest.raises(ValueError, match="would shadow the version v3"):
        check_alias("v3")


def test_metadata_holds_at_most_100_keys() -> None:
    check_metadata({str(i): i for i in range(100)})
    with pytest.raises(ValueError, match="at most 100"):
        cairn.Artifact("data", "dataset", metadata={str(i): i for i in range(101)})


def test_entry_names_may_not_escape_the_artifact(tmp_path: Path) -> None:
    (tmp_path / "f.txt").write_text("x")
    artifact = cairn.Artifact("data", "dataset")
    for bad in ("../f.txt", "/etc/f.txt", "a/../../f.txt"):
        with pytest.raises(ValueError, match="invalid entry path"):
            artifact.add_file(tmp_path / "f.txt", name=bad)
    with pytest.raises(ValueError, match="invalid entry path"):
        artifact.add_reference(f"file://{tmp_path / 'f.txt'}", name="../x")


def test_a_bad_alias_is_refused_before_anything_is_sent(fake: FakeCairn, tmp_path: Path) -> None:
    (tmp_path / "f.txt").write_text("x")
    run = cairn.init(project="p")
    artifact = cairn.Artifact("data", "dataset")
    artifact.add_file(tmp_path / "f.txt")
    before = len(fake.requests)
    with pytest.raises(ValueError, match="aliases may not contain"):
        run.log_artifact(artifact, aliases=["best", "a/b"])
    assert len(fake.requests) == before
    assert artifact.is_draft()
    run.finish()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("mnist", ArtifactPath("mnist", "latest")),
        ("mnist:best", ArtifactPath("mnist", "best")),
        ("mnist:v3", ArtifactPath("mnist", "v3")),
        ("proj/mnist:v0", ArtifactPath("mnist", "v0", project="proj")),
        (
            "team/my proj/mnist:prod",
            ArtifactPath("mnist", "prod", project="my proj", entity="team"),
        ),
    ],
)
def test_artifact_paths_parse(text: str, expected: ArtifactPath) -> None:
    assert ArtifactPath.parse(text) == expected


@pytest.mark.parametrize("text", ["a/b/c/d:latest", "mnist:", "Team/p/mnist", "mnist:a/b", "x y"])
def test_bad_artifact_paths_are_refused(text: str) -> None:
    with pytest.raises(ValueError, match="invalid"):
        ArtifactPath.parse(text)
