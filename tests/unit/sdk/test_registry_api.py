"""The public API's registry side: linked versions, collections, registries, search filters."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

import cairn
from cairn.errors import NotFoundError, PermissionDeniedError
from cairn.registry.collection import ArtifactCollection, RegistryCollection
from cairn.registry.filters import matches
from cairn.registry.linked import LinkedArtifact
from cairn.registry.paths import collection_ref, is_registry_path, parse_collection_path
from tests.unit.sdk.fakes import FileServer
from tests.unit.sdk.registry_fake import FakeRegistry, install


@pytest.fixture
def reg(files: FileServer, monkeypatch: pytest.MonkeyPatch) -> FakeRegistry:
    api = FakeRegistry(files)
    install(api, monkeypatch)
    return api


def _linked(reg: FakeRegistry, tmp_path: Path, contents: list[bytes]) -> None:
    """Log one model version per content and link each into "Quickstart", the last staging."""
    run = cairn.init(project="train")
    for n, data in enumerate(contents):
        reg.hold(data)
        path = tmp_path / "my-model.h5"
        path.write_bytes(data)
        artifact = run.log_artifact(str(path), name="net", type="model")
        aliases = ["staging"] if n == len(contents) - 1 else []
        run.link_artifact(artifact, "model-registry/Quickstart", aliases=aliases)
    run.finish()


def test_a_registry_path_resolves_to_the_source_files(reg: FakeRegistry, tmp_path: Path) -> None:
    _linked(reg, tmp_path, [b"first", b"second"])
    api = cairn.Api()
    staged = api.artifact("model-registry/Quickstart:staging", type="model")
    assert isinstance(staged, LinkedArtifact)
    assert (staged.name, staged.version, staged.is_link) == ("Quickstart:v1", "v1", True)
    assert staged.aliases == ["latest", "staging"]
    assert staged.source_qualified_name == "alice/train/net:v1"
    assert staged.project == "model-registry"
    assert staged.type == "model"
    root = Path(staged.download(str(tmp_path / "out")))
    assert (root / "my-model.h5").read_bytes() == b"second"
    first = api.artifact("alice/wandb-registry-model/Quickstart:v0")
    assert isinstance(first, LinkedArtifact)
    assert first.source_artifact.version == "v0"
    assert (
        Path(first.download(str(tmp_path / "first"))).joinpath("my-model.h5").read_bytes()
        == b"first"
    )
    with pytest.raises(ValueError, match="has type 'model', not 'dataset'"):
        api.artifact("model-registry/Quickstart:staging", type="dataset")
    with pytest.raises(NotFoundError, match="no version or alias 'nope'"):
        api.artifact("model-registry/Quickstart:nope")


def test_a_run_uses_a_registry_version_as_its_source(reg: FakeRegistry, tmp_path: Path) -> None:
    _linked(reg, tmp_path, [b"a", b"b"])
    run = cairn.init(project="eval")
    used = run.use_artifact("model-registry/Quickstart:v0", type="model")
    assert used.name == "Quickstart:v0"
    (mark,) = reg.calls("POST", r"/projects/train/artifacts/used$")
    assert mark == {"run_id": run.id, "name": "net", "version_index": 0}
    run.finish()


def test_a_registered_model_reads_and_changes(reg: FakeRegistry, tmp_path: Path) -> None:
    _linked(reg, tmp_path, [b"a", b"b"])
    api = cairn.Api()
    model = api.artifact_collection(type_name="model", name="model-registry/Quickstart")
    assert isinstance(model, RegistryCollection)
    assert (model.name, model.path, model.is_sequence()) == (
        "Quickstart",
        "alice/model-registry/Quickstart",
        False,
    )
    assert model.aliases == ["latest", "staging"]
    assert [v.version for v in model.versions()] == ["v1", "v0"]
    assert [v.version for v in model.versions(filter={"alias": "staging"})] == ["v1"]
    assert reg.filters[-1] == {"alias": "staging"}
    model.description = "the quickstart"
    model.tags = ["demo", "demo"]
    model.save()
    assert reg.calls("PATCH", r"/collections/Quickstart$") == [
        {"description": "the quickstart", "tags": ["demo"]}
    ]
    assert (model.description, model.tags) == ("the quickstart", ["demo"])
    model.set_alias("candidate", 0)
    assert reg.calls("PUT", r"/aliases/candidate$") == [{"version": "v0"}]
    assert model.alias_versions["candidate"] == "v0"
    model.remove_alias("candidate")
    assert "candidate" not in model.alias_versions
    assert model.version("staging").version == "v1"
    assert [e["action"] for e in model.history()][-2:] == ["alias_added", "alias_removed"]
    assert model.history(alias="staging", at=datetime(2026, 6, 1, tzinfo=UTC)) == "v1"
    assert model.history(alias="staging", at="2000-01-01T00:00:00Z") is None
    with pytest.raises(ValueError, match="give the alias"):
        model.history(at="2026-01-01")  # type: ignore[call-overload]


def test_a_protected_alias_needs_an_admin(reg: FakeRegistry, tmp_path: Path) -> None:
    _linked(reg, tmp_path, [b"a"])
    reg.role = "member"
    model = cairn.Api().registry("model").collection("Quickstart")
    with pytest.raises(PermissionDeniedError, match="only an admin"):
        model.set_alias("production", "v0")


def test_registries_are_searched_with_w_and_b_filters(reg: FakeRegistry, tmp_path: Path) -> None:
    _linked(reg, tmp_path, [b"a"])
    api = cairn.Api()
    assert [r.name for r in api.registries()] == ["model", "dataset"]
    found = api.registries(filter={"name": {"$regex": "mod"}})
    assert [r.name for r in found] == ["model"]
    assert next(api.registries(filter={"name": "dataset"})).full_name == "wandb-registry-dataset"
    assert [c.name for c in found.collections(filter={"tag": "demo"})] == ["Quickstart"]
    assert reg.filters[-1] == {"tag": "demo"}  # the server filters collections
    assert [v.name for v in found.versions(filter={"alias": "staging"})] == ["Quickstart:v0"]
    registry = api.registry("wandb-registry-model")
    assert (registry.name, registry.path) == ("model", ["alice", "model-registry"])
    registry.description = "models"
    registry.save()
    assert reg.calls("PATCH", r"/registries/model$") == [{"description": "models"}]
    created = api.create_registry("eval", artifact_types=["*eval*"], description="evals")
    assert created.full_name == "wandb-registry-eval"
    assert reg.calls("POST", r"/registry/v1/entities/alice/registries$") == [
        {"name": "eval", "artifact_types": ["*eval*"], "description": "evals"}
    ]


def test_a_project_collection_is_an_artifact_and_its_versions(
    reg: FakeRegistry, tmp_path: Path
) -> None:
    _linked(reg, tmp_path, [b"a", b"b"])
    api = cairn.Api(overrides={"project": "train"})
    net = api.artifact_collection(type_name="model", name="net")
    assert isinstance(net, ArtifactCollection)
    assert (net.entity, net.project, net.type, net.is_sequence()) == (
        "alice",
        "train",
        "model",
        True,
    )
    assert [a.version for a in net.versions()] == ["v0", "v1"]
    with pytest.raises(ValueError, match="has type 'model', not 'dataset'"):
        api.artifact_collection(type_name="dataset", name="alice/train/net")


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ({"name": "model"}, True),
        ({"name": {"$regex": "^mo"}}, True),
        ({"name": {"$regex": "MO", "$options": "i"}}, True),
        ({"name": {"$in": ["a", "model"]}}, True),
        ({"name": {"$nin": ["model"]}}, False),
        ({"name": {"$ne": "model"}}, False),
        ({"tags": "prod"}, True),
        ({"tags": {"$exists": True}}, True),
        ({"missing": {"$exists": False}}, True),
        ({"created_at": {"$gt": "2026-01-01T00:00:00Z"}}, True),
        ({"created_at": {"$lt": datetime(2025, 1, 1, tzinfo=UTC)}}, False),
        ({"$or": [{"name": "x"}, {"tags": "prod"}]}, True),
        ({"$and": [{"name": "model"}, {"tags": "x"}]}, False),
        ({"$nor": [{"name": "x"}]}, True),
        ({"name": {"$not": {"$regex": "^x"}}}, True),
        ({"meta.acc": {"$gte": 0.9}}, True),
        (None, True),
    ],
)
def test_client_side_filters_follow_mongo(spec: dict[str, object] | None, expected: bool) -> None:
    doc = {
        "name": "model",
        "tags": ["prod", "v2"],
        "created_at": "2026-03-01T00:00:00+00:00",
        "meta": {"acc": 0.93},
    }
    assert matches(doc, spec) is expected


def test_unknown_filter_operators_are_refused() -> None:
    with pytest.raises(ValueError, match="unknown operator"):
        matches({"a": 1}, {"a": {"$near": 1}})


def test_registry_paths() -> None:
    assert is_registry_path("model-registry/My Model:production")
    assert is_registry_path("team/wandb-registry-dataset/Features")
    assert not is_registry_path("team/project/name:v1")
    ref = parse_collection_path("team/model-registry/My Model:v3")
    assert (ref.entity, ref.registry, ref.collection, ref.ref) == (
        "team",
        "model",
        "My Model",
        "v3",
    )
    assert parse_collection_path("wandb-registry-eval/X").path("me") == "me/wandb-registry-eval/X"
    assert collection_ref("Classifier", "dataset").registry == "dataset"
    assert collection_ref("model-registry/Classifier:prod").ref == "prod"
    with pytest.raises(ValueError, match="not a registry"):
        parse_collection_path("project/X")
    with pytest.raises(ValueError, match="leading or trailing"):
        parse_collection_path("model-registry/ X")
