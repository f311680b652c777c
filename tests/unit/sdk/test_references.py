"""References: tracked by checksum or ETag, never uploaded, fetched and verified on download."""

from __future__ import annotations

import hashlib
import sys
from pathlib import Path

import pytest

import cairn
from cairn.artifacts import s3
from cairn.artifacts.references import file_uri, local_path
from cairn.errors import ArtifactVerificationError, CairnError, DependencyError
from tests.unit.sdk.fakes import FakeCairn, FileServer


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def test_a_file_reference_has_its_sha256(tmp_path: Path) -> None:
    (tmp_path / "my data.csv").write_bytes(b"a,b\n")
    artifact = cairn.Artifact("a", "t")
    (entry,) = artifact.add_reference(file_uri(tmp_path / "my data.csv"))
    assert (entry.path, entry.digest, entry.size) == ("my data.csv", _sha(b"a,b\n"), 4)
    assert entry.ref == f"file://{tmp_path.as_posix()}/my%20data.csv"
    assert local_path(entry.ref) == tmp_path / "my data.csv"


def test_a_folder_reference_adds_each_file_under_the_name(tmp_path: Path) -> None:
    (tmp_path / "d" / "sub").mkdir(parents=True)
    (tmp_path / "d" / "x").write_bytes(b"x")
    (tmp_path / "d" / "sub" / "y").write_bytes(b"yy")
    artifact = cairn.Artifact("a", "t")
    entries = artifact.add_reference(f"file://{tmp_path / 'd'}", name="data")
    assert [(e.path, e.size) for e in entries] == [("data/sub/y", 2), ("data/x", 1)]
    with pytest.raises(ValueError, match="more than max_objects=1"):
        artifact.add_reference(f"file://{tmp_path / 'd'}", name="again", max_objects=1)


def test_without_checksum_only_the_uri_is_kept(tmp_path: Path) -> None:
    artifact = cairn.Artifact("a", "t")
    (entry,) = artifact.add_reference(f"file://{tmp_path / 'later.bin'}", checksum=False)
    assert entry.digest == entry.ref == file_uri(tmp_path / "later.bin")
    with pytest.raises(FileNotFoundError, match="does not exist"):
        artifact.add_reference(f"file://{tmp_path / 'missing'}")


def test_an_http_reference_has_its_etag_and_size(files: FileServer) -> None:
    url = files.put("/models/model.bin", b"weights", etag="v1-etag")
    artifact = cairn.Artifact("a", "t")
    (entry,) = artifact.add_reference(url)
    assert (entry.path, entry.digest, entry.size, entry.ref) == ("model.bin", "v1-etag", 7, url)
    assert entry.extra == {"etag": "v1-etag"}
    assert files.gets == []  # a HEAD, not a download
    with pytest.raises(CairnError, match="HTTP 404"):
        artifact.add_reference(f"{files.url}/nope.bin")
    with pytest.raises(ValueError, match="pass name="):
        artifact.add_reference(f"{files.url}/")


@pytest.mark.parametrize("uri", ["ftp://host/x", "gs://bucket/x", "/plain/path"])
def test_unknown_schemes_are_refused(uri: str) -> None:
    with pytest.raises(ValueError, match="unsupported reference"):
        cairn.Artifact("a", "t").add_reference(uri)


def _log(fake: FakeCairn, artifact: cairn.Artifact) -> cairn.Artifact:
    with cairn.init() as run:
        run.log_artifact(artifact)
    return artifact


def test_references_are_not_uploaded_and_download_verified(
    fake: FakeCairn, files: FileServer, tmp_path: Path
) -> None:
    local = tmp_path / "local.txt"
    local.write_bytes(b"local")
    url = files.put("/remote.txt", b"remote")
    artifact = cairn.Artifact("refs", "t")
    artifact.add_reference(file_uri(local))
    artifact.add_reference(url)
    _log(fake, artifact)
    (asked,) = fake.calls("POST", r"/uploads$")
    assert [b["digest"] for b in asked["blobs"]] == [artifact.digest]  # the manifest only
    root = Path(artifact.download(tmp_path / "out"))
    assert (root / "local.txt").read_bytes() == b"local"
    assert (root / "remote.txt").read_bytes() == b"remote"
    artifact.verify(root)


def test_a_changed_file_reference_fails_the_download(fake: FakeCairn, tmp_path: Path) -> None:
    local = tmp_path / "local.txt"
    local.write_bytes(b"before")
    artifact = cairn.Artifact("refs", "t")
    artifact.add_reference(file_uri(local))
    _log(fake, artifact)
    local.write_bytes(b"after!")
    with pytest.raises(ArtifactVerificationError, match="changed since it was logged"):
        artifact.download(tmp_path / "out")
    assert not (tmp_path / "out" / "local.txt").exists()


def test_a_changed_http_reference_fails_the_download(
    fake: FakeCairn, files: FileServer, tmp_path: Path
) -> None:
    url = files.put("/m.bin", b"v1", etag="one")
    artifact = cairn.Artifact("refs", "t")
    artifact.add_reference(url)
    _log(fake, artifact)
    files.put("/m.bin", b"v2", etag="two")
    with pytest.raises(ArtifactVerificationError, match="ETag two, logged one"):
        artifact.download(tmp_path / "out")
    assert list((tmp_path / "out").iterdir()) == []


def test_s3_needs_minio(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "minio", None)  # as if not installed
    with pytest.raises(DependencyError, match=r"pip install 'cairn\[s3\]'"):
        cairn.Artifact("a", "t").add_reference("s3://bucket/key.csv")


def test_s3_needs_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AWS_ACCESS_KEY_ID", raising=False)
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY", raising=False)
    with pytest.raises(CairnError, match="AWS_ACCESS_KEY_ID"):
        cairn.Artifact("a", "t").add_reference("s3://bucket/key.csv")


def test_s3_without_checksum_records_the_uri_only() -> None:
    (entry,) = cairn.Artifact("a", "t").add_reference("s3://bucket/dir/key.csv", checksum=False)
    assert (entry.path, entry.digest, entry.ref) == (
        "key.csv",
        "s3://bucket/dir/key.csv",
        entry.ref,
    )


@pytest.mark.parametrize(
    ("uri", "parts"),
    [("s3://b/k/e/y", ("b", "k/e/y")), ("s3://b", ("b", "")), ("s3://b/", ("b", ""))],
)
def test_s3_uris_split(uri: str, parts: tuple[str, str]) -> None:
    assert s3.split_uri(uri) == parts
