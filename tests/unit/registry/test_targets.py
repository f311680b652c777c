"""Target paths and names of the registry."""

from __future__ import annotations

import pytest
from cairn_shared.registry_paths import (
    Target,
    check_collection_name,
    check_registry_name,
    collection_id,
    parse_target,
    parse_version,
    registry_of_project,
    split_collection_id,
)


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        (
            "model-registry/Quickstart Model Registry",
            Target(None, "model", "Quickstart Model Registry"),
        ),
        ("wandb-registry-model/my_reg_model", Target(None, "model", "my_reg_model")),
        ("wandb-registry-dataset/mnist", Target(None, "dataset", "mnist")),
        ("wandb-registry-llm-evals/judge", Target(None, "llm-evals", "judge")),
        ("team/model-registry/classifier", Target("team", "model", "classifier")),
        ("team/wandb-registry-model/c", Target("team", "model", "c")),
    ],
)
def test_targets_name_a_registry_and_a_collection(target: str, expected: Target) -> None:
    assert parse_target(target) == expected


def test_both_spellings_of_the_model_registry_name_one_collection() -> None:
    legacy = parse_target("model-registry/Quickstart Model Registry")
    new = parse_target("wandb-registry-model/Quickstart Model Registry")
    assert legacy.collection_id("team") == new.collection_id("team")
    assert legacy.collection_id("team") == "team/model/Quickstart Model Registry"


@pytest.mark.parametrize(
    ("target", "message"),
    [
        ("my_reg_model", "use 'model-registry/<name>'"),
        ("a/b/c/d", "use 'model-registry/<name>'"),
        ("my_project/my_model", "is not a registry"),
        ("model-registry/", "1-128 characters"),
        ("model-registry/a:latest", "'/' or ':'"),
        ("model-registry/ padded", "leading or trailing"),
        ("model-registry/tab\there", "control characters"),
        ("wandb-registry-/x", "invalid registry name"),
        ("wandb-registry-a b/x", "invalid registry name"),
        ("Team/model-registry/x", "not an entity name"),
        ("model-registry/" + "x" * 129, "1-128 characters"),
    ],
)
def test_bad_targets_say_why(target: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_target(target)


def test_names() -> None:
    assert check_collection_name("Quickstart Model Registry") == "Quickstart Model Registry"
    assert check_collection_name("ünïcode ✓") == "ünïcode ✓"
    assert check_registry_name("model") == "model"
    for bad in ("", "-x", "a/b", "a:b", "x" * 65):
        with pytest.raises(ValueError, match="invalid registry name"):
            check_registry_name(bad)
    assert registry_of_project("model-registry") == "model"
    assert registry_of_project("ordinary") is None


def test_collection_ids_round_trip() -> None:
    cid = collection_id("team", "model", "My Model")
    assert split_collection_id(cid) == ("team", "model", "My Model")
    for bad in ("team/model", "team/model/a/b", "Team/model/x", "team/model/"):
        with pytest.raises(ValueError, match="invalid"):
            split_collection_id(bad)


@pytest.mark.parametrize(
    ("ref", "expected"),
    [("v0", 0), ("v12", 12), ("v01", None), ("latest", None), ("v", None), ("V1", None)],
)
def test_version_refs(ref: str, expected: int | None) -> None:
    assert parse_version(ref) == expected
