"""``cairn.init``, ``Run`` and logging an artifact, against a fake of our own API."""

from __future__ import annotations

import json
import re
import sys
import uuid
from pathlib import Path

import httpx
import pytest

import cairn
from cairn.errors import ArtifactFinalizedError, ArtifactRejectedError, CairnError, NotFoundError
from cairn.sdk.state import active_run
from tests.unit.sdk.fakes import FakeCairn, error


def _file(tmp_path: Path, name: str = "data.bin", content: bytes = b"hello") -> Path:
    path = tmp_path / name
    path.write_bytes(content)
    return path


def test_init_starts_a_run_with_w_and_b_defaults(fake: FakeCairn) -> None:
    run = cairn.init(job_type="train", config={"lr": 0.1})
    assert re.fullmatch(r"[a-z0-9]{8}", run.id)
    assert (run.entity, run.project, run.name) == ("alice", "uncategorized", run.id)
    assert cairn.run is run
    assert run.config.lr == 0.1
    assert cairn.config["lr"] == 0.1
    (started,) = fake.calls("POST", r"/ingest/v1/entities/alice/projects/uncategorized/runs$")
    assert started == {"run_id": run.id, "name": "", "job_type": "train", "config": {"lr": 0.1}}
    assert fake.calls("POST", r"/projects$") == [{"name": "uncategorized"}]
    run.finish()
    assert active_run() is None
    assert fake.calls("POST", rf"/runs/{run.id}/finish$") == [{"exit_code": 0}]
    run.finish()  # a second finish does nothing
    assert len(fake.calls("POST", r"/finish$")) == 1


def test_init_takes_the_given_names(fake: FakeCairn) -> None:
    run = cairn.init(project="my proj", entity="team", name="first", id="run-1")
    assert run.path == "team/my proj/run-1"
    assert fake.calls("POST", r"/entities/team/projects/my proj/runs$")[0]["name"] == "first"
    run.finish()


def test_bad_run_ids_and_configs_are_refused(fake: FakeCairn) -> None:
    with pytest.raises(ValueError, match="invalid run id"):
        cairn.init(id="a/b")
    with pytest.raises(ValueError, match="run config must be JSON"):
        cairn.init(config={"f": float("nan")})


def test_a_context_manager_finishes_with_1_on_an_exception(fake: FakeCairn) -> None:
    with pytest.raises(RuntimeError), cairn.init() as run:
        raise RuntimeError("boom")
    assert fake.calls("POST", rf"/runs/{run.id}/finish$") == [{"exit_code": 1}]
    with cairn.init() as other:
        pass
    assert fake.calls("POST", rf"/runs/{other.id}/finish$") == [{"exit_code": 0}]


def test_a_new_init_finishes_the_previous_run(fake: FakeCairn) -> None:
    first = cairn.init()
    second = cairn.init()
    assert fake.calls("POST", rf"/runs/{first.id}/finish$") == [{"exit_code": 0}]
    assert cairn.run is second
    second.finish()


def test_log_artifact_submits_the_canonical_manifest(fake: FakeCairn, tmp_path: Path) -> None:
    run = cairn.init(project="p")
    artifact = cairn.Artifact("mnist", "dataset", description="d", metadata={"rows": 2})
    artifact.add_file(_file(tmp_path), name="train/data.bin")
    digest = artifact.digest
    assert run.log_artifact(artifact, aliases=["best"]) is artifact
    (body,) = fake.calls("POST", r"/projects/p/artifacts$")
    assert body["manifest_digest"] == digest
    assert json.loads(body["manifest_json"]) == {
        "version": 1,
        "contents": {
            "train/data.bin": {"digest": _sha(b"hello"), "size": 5},
        },
    }
    assert (body["name"], body["type"], body["run_id"]) == ("mnist", "dataset", run.id)
    assert (body["aliases"], body["metadata"], body["description"]) == (["best"], {"rows": 2}, "d")
    uuid.UUID(body["client_id"])
    # Storage was asked about the file and the manifest blob, together.
    (asked,) = fake.calls("POST", r"/storage/v1/entities/alice/uploads$")
    assert {b["digest"] for b in asked["blobs"]} == {_sha(b"hello"), digest}
    assert artifact.version == "v0"
    assert artifact.name == "mnist:v0"
    assert artifact.qualified_name == "alice/p/mnist:v0"
    assert artifact.aliases == ["best", "latest"]
    assert artifact.size == 5
    run.finish()


def _sha(data: bytes) -> str:
    import hashlib  # noqa: PLC0415

    return hashlib.sha256(data).hexdigest()


def test_a_logged_artifact_cannot_change(fake: FakeCairn, tmp_path: Path) -> None:
    run = cairn.init()
    artifact = cairn.Artifact("a", "t")
    artifact.add_file(_file(tmp_path))
    run.log_artifact(artifact)
    for mutate in (
        lambda: artifact.add_file(_file(tmp_path, "other")),
        lambda: artifact.add_dir(tmp_path),
        lambda: artifact.add_reference("https://example.com/x"),
        lambda: artifact.remove("data.bin"),
        lambda: setattr(artifact, "description", "new"),
        lambda: run.log_artifact(artifact),
    ):
        with pytest.raises(ArtifactFinalizedError, match=r"new_draft\(\)"):
            mutate()
    draft = artifact.new_draft()
    draft.add_file(_file(tmp_path, "more", b"more"))
    run.log_artifact(draft)
    assert draft.version == "v1"
    run.finish()


def test_identical_content_gives_the_same_version(fake: FakeCairn, tmp_path: Path) -> None:
    run = cairn.init()
    versions = []
    for alias in ("a", "b"):
        artifact = cairn.Artifact("same", "t")
        artifact.add_file(_file(tmp_path))
        run.log_artifact(artifact, aliases=[alias])
        versions.append(artifact.version)
    assert versions == ["v0", "v0"]
    assert fake.aliases[("alice", "uncategorized", "same")] == {"latest": 0, "a": 0, "b": 0}
    run.finish()


def test_retries_reuse_the_client_id(fake: FakeCairn, tmp_path: Path) -> None:
    run = cairn.init()
    fake.fail("/artifacts", error(503, "unavailable", "kafka"), httpx.Response(502, text="bad"))
    artifact = cairn.Artifact("a", "t")
    artifact.add_file(_file(tmp_path))
    run.log_artifact(artifact)
    bodies = fake.calls("POST", r"/projects/uncategorized/artifacts$")
    assert len(bodies) == 3
    assert len({b["client_id"] for b in bodies}) == 1
    run.finish()


def test_wait_polls_until_committed(fake: FakeCairn, tmp_path: Path) -> None:
    fake.pending_polls = 3
    run = cairn.init()
    artifact = cairn.Artifact("a", "t")
    artifact.add_file(_file(tmp_path))
    run.log_artifact(artifact)
    assert artifact.state == "PENDING"
    assert artifact.wait() is artifact
    assert artifact.state == "COMMITTED"
    assert len(fake.calls("GET", r"/submissions/")) == 4
    run.finish()


def test_a_rejected_artifact_raises_the_servers_reason(fake: FakeCairn, tmp_path: Path) -> None:
    fake.reject_reason = "type conflict: 'a' is a model"
    run = cairn.init()
    artifact = cairn.Artifact("a", "t")
    artifact.add_file(_file(tmp_path))
    run.log_artifact(artifact)
    with pytest.raises(ArtifactRejectedError, match="type conflict: 'a' is a model"):
        artifact.wait()
    with pytest.raises(CairnError, match="type conflict"):
        run.finish()
    assert fake.calls("POST", r"/finish$") == [{"exit_code": 0}]


def test_save_logs_through_the_active_run_or_its_own(fake: FakeCairn, tmp_path: Path) -> None:
    artifact = cairn.Artifact("a", "t")
    artifact.add_file(_file(tmp_path))
    artifact.save()  # no run: one of job type "auto", finished once committed
    (started,) = fake.calls("POST", r"/runs$")
    assert started["job_type"] == "auto"
    assert fake.calls("POST", r"/finish$") == [{"exit_code": 0}]
    assert artifact.version == "v0"
    run = cairn.init()
    other = cairn.Artifact("b", "t")
    other.add_file(_file(tmp_path))
    other.save()
    assert fake.calls("POST", r"/artifacts$")[-1]["run_id"] == run.id
    run.finish()


def test_use_artifact_resolves_and_records_use(fake: FakeCairn, tmp_path: Path) -> None:
    run = cairn.init(project="p")
    for content in (b"one", b"two"):
        artifact = cairn.Artifact("data", "dataset")
        artifact.add_file(_file(tmp_path, content=content))
        run.log_artifact(artifact)
    used = run.use_artifact("data:v0")
    assert (used.version, used.type, used.entity, used.project) == ("v0", "dataset", "alice", "p")
    latest = run.use_artifact("alice/p/data", type="dataset")
    assert latest.version == "v1"
    assert fake.calls("POST", r"/projects/p/artifacts/used$") == [
        {"run_id": run.id, "name": "data", "version_index": 0},
        {"run_id": run.id, "name": "data", "version_index": 1},
    ]
    with pytest.raises(ValueError, match="has type 'dataset', not 'model'"):
        run.use_artifact("data:latest", type="model")
    run.finish()


def test_use_artifact_surfaces_the_servers_404(fake: FakeCairn) -> None:
    run = cairn.init()
    message = (
        "no artifact 'train.csv' in alice/uncategorized; 'train.csv' is a file in artifact 'ds'"
    )
    fake.fail("/versions/latest", error(404, "not_found", message))
    with pytest.raises(NotFoundError) as caught:
        run.use_artifact("train.csv:latest")
    assert str(caught.value) == message
    assert caught.value.status == 404
    run.finish()


def test_log_artifact_of_a_path(fake: FakeCairn, tmp_path: Path) -> None:
    (tmp_path / "model").mkdir()
    _file(tmp_path / "model", "w.bin")
    run = cairn.init()
    artifact = run.log_artifact(tmp_path / "model", type="model")
    assert artifact.name == f"run-{run.id}-model:v0"
    assert [e.path for e in artifact.files()] == ["w.bin"]
    run.finish()


def test_top_level_calls_need_a_run(fake: FakeCairn) -> None:
    with pytest.raises(CairnError, match=r"cairn.init\(\)"):
        cairn.use_artifact("a:latest")
    with pytest.raises(AttributeError, match=r"cairn\.init"):
        _ = cairn.config
    with pytest.raises(CairnError, match=r"cairn.init\(\)"):
        cairn.log({"loss": 1.0})
    with pytest.raises(AttributeError, match=r"cairn\.init"):
        _ = cairn.summary


def test_an_uncaught_exception_finishes_the_run_with_1_at_exit(
    fake: FakeCairn, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[type[BaseException]] = []
    monkeypatch.setattr(sys, "excepthook", lambda kind, value, tb: seen.append(kind))
    run = cairn.init()
    try:
        raise KeyError("boom")
    except KeyError as exc:
        sys.excepthook(type(exc), exc, exc.__traceback__)  # what Python does at top level
    assert seen == [KeyError]  # the previous hook still runs
    run._finish_at_exit()
    assert fake.calls("POST", rf"/runs/{run.id}/finish$") == [{"exit_code": 1}]
    quiet = cairn.init()
    quiet._finish_at_exit()
    assert fake.calls("POST", rf"/runs/{quiet.id}/finish$") == [{"exit_code": 0}]
