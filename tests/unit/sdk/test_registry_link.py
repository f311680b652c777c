"""``run.link_artifact``, ``run.link_model`` and ``cairn.link_model`` against a fake registry."""

from __future__ import annotations

import uuid
from pathlib import Path

import httpx
import pytest

import cairn
from cairn.errors import ArtifactRejectedError, CairnError, WaitTimeoutError
from cairn.registry.linked import LinkedArtifact
from cairn.registry.remote import RegistryRejectedError
from tests.unit.sdk.fakes import FileServer, error
from tests.unit.sdk.registry_fake import FakeRegistry, install


@pytest.fixture
def reg(files: FileServer, monkeypatch: pytest.MonkeyPatch) -> FakeRegistry:
    api = FakeRegistry(files)
    install(api, monkeypatch)
    return api


def _model(tmp_path: Path, content: str = "weights", name: str = "my-model.h5") -> Path:
    path = tmp_path / name
    path.write_text(content)
    return path


def test_link_right_after_log_names_the_submission(reg: FakeRegistry, tmp_path: Path) -> None:
    reg.pending_polls = 5  # the version is not committed when the link is asked for
    reg.command_polls = 2
    run = cairn.init(project="Models_Quickstart")
    best = cairn.Artifact(f"model_{run.id}", type="model")
    best.add_file(str(_model(tmp_path)))
    run.log_artifact(best, aliases=["best"])

    linked = run.link_artifact(
        artifact=best, target_path="model-registry/Quickstart Model Registry", aliases=["staging"]
    )

    (body,) = reg.calls("POST", r"/ingest/v1/entities/alice/links$")
    assert body["target"] == "alice/model-registry/Quickstart Model Registry"
    assert body["source"] == f"alice/Models_Quickstart/model_{run.id}"
    assert body["source_submission_id"] == best._require_logged().submission_id
    assert "source_version_index" not in body
    assert body["aliases"] == ["staging"]
    assert body["run_id"] == run.id
    uuid.UUID(body["client_id"])
    assert len(reg.calls("GET", r"/registry/v1/entities/alice/commands/")) >= 3
    assert isinstance(linked, LinkedArtifact)
    assert linked.name == "Quickstart Model Registry:v0"
    assert set(linked.aliases) == {"latest", "staging"}
    assert linked.qualified_name == "alice/model-registry/Quickstart Model Registry:v0"
    assert linked.source_name == f"model_{run.id}:v0"
    run.finish()


def test_a_committed_artifact_is_linked_by_version_index(reg: FakeRegistry, tmp_path: Path) -> None:
    run = cairn.init(project="p")
    first = run.log_artifact(str(_model(tmp_path, "a")), name="m", type="model").wait()
    second = run.log_artifact(str(_model(tmp_path, "b")), name="m", type="model").wait()
    run.link_artifact(second, "alice/wandb-registry-model/Classifier")
    run.link_artifact(first, "wandb-registry-model/Classifier", aliases="production")
    bodies = reg.calls("POST", r"/links$")
    assert [b["source_version_index"] for b in bodies] == [1, 0]
    # wandb-registry-model is the model registry, which W&B also calls model-registry.
    assert bodies[0]["target"] == "alice/model-registry/Classifier"
    assert "source_submission_id" not in bodies[0]
    run.finish()


def test_a_retried_link_request_keeps_its_client_id(reg: FakeRegistry, tmp_path: Path) -> None:
    run = cairn.init()
    artifact = run.log_artifact(str(_model(tmp_path)), name="m", type="model")
    reg.fail("/links", httpx.Response(503))
    run.link_artifact(artifact, "model-registry/X")
    first, second = reg.calls("POST", r"/links$")
    assert first["client_id"] == second["client_id"]
    # Another link is another request: a new client id.
    run.link_artifact(artifact, "model-registry/Y")
    assert reg.calls("POST", r"/links$")[2]["client_id"] != first["client_id"]
    run.finish()


def test_a_draft_is_logged_before_it_is_linked(reg: FakeRegistry, tmp_path: Path) -> None:
    run = cairn.init()
    draft = cairn.Artifact("m", type="model")
    draft.add_file(str(_model(tmp_path)))
    run.link_artifact(draft, "model-registry/X")
    assert not draft.is_draft()
    assert len(reg.calls("POST", r"/projects/uncategorized/artifacts$")) == 1
    run.finish()


def test_a_rejected_link_raises_with_the_registry_reason(reg: FakeRegistry, tmp_path: Path) -> None:
    reg.reject_link = "the 'model' registry accepts artifact types matching *model*"
    run = cairn.init()
    artifact = run.log_artifact(str(_model(tmp_path)), name="features", type="dataset")
    with pytest.raises(
        RegistryRejectedError, match=r"accepts artifact types matching \*model\*"
    ) as caught:
        run.link_artifact(artifact, "model-registry/X")
    assert caught.value.code == "type_not_accepted"
    run.finish()


def test_a_refused_artifact_fails_its_pending_link(reg: FakeRegistry, tmp_path: Path) -> None:
    reg.command_polls = 1_000  # the registry would wait for the version forever
    reg.reject_reason = "manifest too large"
    run = cairn.init()
    artifact = run.log_artifact(str(_model(tmp_path)), name="m", type="model")
    with pytest.raises(ArtifactRejectedError, match="cannot be linked: manifest too large"):
        run.link_artifact(artifact, "model-registry/X")
    with pytest.raises(CairnError):
        run.finish()


def test_a_link_still_pending_times_out_clearly(reg: FakeRegistry, tmp_path: Path) -> None:
    from cairn.registry.linking import link_version  # noqa: PLC0415
    from cairn.registry.paths import parse_collection_path  # noqa: PLC0415

    reg.command_polls = 1_000
    run = cairn.init()
    artifact = run.log_artifact(str(_model(tmp_path)), name="m", type="model").wait()
    target = parse_collection_path("alice/model-registry/X", allow_ref=False)
    with pytest.raises(WaitTimeoutError, match="still pending"):
        link_version(run._session, artifact, target, [], timeout=0)
    run.finish()


@pytest.mark.parametrize(
    ("target", "message"),
    [
        ("my-project/X", "not a registry"),
        ("model-registry/a:b", "may not contain"),
        ("X", "invalid registry path"),
        ("a/b/model-registry/X", "invalid registry path"),
    ],
)
def test_bad_targets_are_refused_before_anything_is_sent(
    reg: FakeRegistry, tmp_path: Path, target: str, message: str
) -> None:
    run = cairn.init()
    artifact = run.log_artifact(str(_model(tmp_path)), name="m", type="model")
    with pytest.raises(ValueError, match=message):
        run.link_artifact(artifact, target)
    assert reg.calls("POST", r"/links$") == []
    run.finish()


def test_link_model_logs_a_model_and_links_it(reg: FakeRegistry, tmp_path: Path) -> None:
    model_dir = tmp_path / "model"
    model_dir.mkdir()
    (model_dir / "weights.bin").write_bytes(b"\x00" * 64)
    run = cairn.init(project="link-model")
    linked = run.link_model(
        path=str(model_dir),
        registered_model_name="my_reg_model",
        name="my_model_artifact",
        aliases=["production"],
    )
    (submitted,) = reg.calls("POST", r"/projects/link-model/artifacts$")
    assert (submitted["name"], submitted["type"]) == ("my_model_artifact", "model")
    (link,) = reg.calls("POST", r"/links$")
    assert link["target"] == "alice/model-registry/my_reg_model"
    assert link["aliases"] == ["production"]
    assert set(linked.aliases) == {"latest", "production"}
    # The same files again: the same version, linked once.
    again = run.link_model(str(model_dir), "my_reg_model", name="my_model_artifact")
    assert again.version == linked.version
    assert len(reg.collections[("alice", "model", "my_reg_model")]["links"]) == 1
    run.finish()


def test_link_model_names_the_artifact_after_the_run_and_path(
    reg: FakeRegistry, tmp_path: Path
) -> None:
    run = cairn.init()
    cairn.link_model(str(_model(tmp_path, name="net.pt")), "Reg")
    (submitted,) = reg.calls("POST", r"/artifacts$")
    assert submitted["name"] == f"run-{run.id}-net.pt"
    run.finish()


def test_link_model_refuses_paths_bad_names_and_non_models(
    reg: FakeRegistry, tmp_path: Path
) -> None:
    model = str(_model(tmp_path))
    run = cairn.init()
    with pytest.raises(AssertionError, match="only the name of the registered model"):
        run.link_model(model, "my_entity/my_project/my_reg_model", name="m")
    with pytest.raises(ValueError, match="invalid artifact name"):
        run.link_model(model, "my_reg_model", name="my_entity/my_project/my_model_artifact")
    run.log_artifact(model, name="features", type="dataset").wait()
    with pytest.raises(AssertionError, match="substring 'model'"):
        run.link_model(model, "my_reg_model", name="features")
    assert reg.calls("POST", r"/links$") == []
    run.finish()


def test_link_model_keeps_the_type_of_an_existing_model_artifact(
    reg: FakeRegistry, tmp_path: Path
) -> None:
    run = cairn.init()
    run.log_artifact(str(_model(tmp_path, "a")), name="net", type="onnx-model")
    run.link_model(str(_model(tmp_path, "b")), "Reg", name="net")
    assert [c["type"] for c in reg.calls("POST", r"/artifacts$")] == ["onnx-model", "onnx-model"]
    run.finish()


def test_module_link_model_needs_a_run(reg: FakeRegistry, tmp_path: Path) -> None:
    with pytest.raises(CairnError, match=r"cairn.init\(\)"):
        cairn.link_model(str(_model(tmp_path)), "Reg")


def test_a_finished_run_cannot_link(reg: FakeRegistry, tmp_path: Path) -> None:
    run = cairn.init()
    artifact = run.log_artifact(str(_model(tmp_path)), name="m", type="model")
    run.finish()
    with pytest.raises(CairnError, match="has finished"):
        run.link_artifact(artifact, "model-registry/X")


def test_the_registry_answers_errors_as_usual(reg: FakeRegistry, tmp_path: Path) -> None:
    run = cairn.init()
    artifact = run.log_artifact(str(_model(tmp_path)), name="m", type="model")
    reg.fail("/links", error(400, "bad_request", "the artifact 'x' is not in entity 'alice'"))
    with pytest.raises(CairnError, match="not in entity"):
        run.link_artifact(artifact, "model-registry/X")
    run.finish()
