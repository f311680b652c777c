"""Downloading: only what the cache lacks is fetched, every byte is verified, files land
atomically, and verify/checkout compare a folder with the manifest."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

import cairn
from cairn.artifacts.download import place
from cairn.artifacts.transfer import Slice, fetch_verified, fetch_verified_slices
from cairn.errors import ArtifactVerificationError, TransferError
from cairn.progress import Progress
from cairn.session import Session
from tests.unit.sdk.fakes import FakeCairn, FileServer

FILES = {"a.txt": b"alpha", "sub/b.bin": os.urandom(3000), "sub/deep/c": b"", "same": b"alpha"}


def _logged(fake: FakeCairn, tmp_path: Path) -> cairn.Artifact:
    """An artifact logged with FILES, whose blobs storage serves."""
    src = tmp_path / "src"
    for rel, data in FILES.items():
        (src / rel).parent.mkdir(parents=True, exist_ok=True)
        (src / rel).write_bytes(data)
        fake.hold(data)
    with cairn.init(project="p") as run:
        artifact = cairn.Artifact("data", "dataset")
        artifact.add_dir(src)
        run.log_artifact(artifact)
    return cairn.Api().artifact("p/data:latest")


def _tree(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def test_download_places_every_file_at_the_default_root(fake: FakeCairn, tmp_path: Path) -> None:
    artifact = _logged(fake, tmp_path)
    root = artifact.download()
    assert Path(root) == Path("artifacts") / "data:v0"
    assert _tree(Path(root)) == FILES
    artifact.verify(root)
    assert not [p for p in Path(root).rglob("*") if ".cairn-" in p.name]  # no temp left


def test_cached_blobs_are_not_fetched_again(
    fake: FakeCairn, files: FileServer, tmp_path: Path
) -> None:
    artifact = _logged(fake, tmp_path)
    artifact.download(tmp_path / "one")
    fetched = [g for g in files.gets if g.startswith("/blobs/")]
    assert len(fetched) == 1 + 3  # the manifest, and each distinct content once
    artifact.download(tmp_path / "two")
    assert len([g for g in files.gets if g.startswith("/blobs/")]) == len(fetched)
    assert _tree(tmp_path / "two") == FILES


def test_path_prefix_and_single_entries(fake: FakeCairn, tmp_path: Path) -> None:
    artifact = _logged(fake, tmp_path)
    root = Path(artifact.download(tmp_path / "part", path_prefix="sub/"))
    assert set(_tree(root)) == {"sub/b.bin", "sub/deep/c"}
    path = artifact.get_entry("a.txt").download(str(tmp_path / "one"))
    assert Path(path).read_bytes() == b"alpha"
    with pytest.raises(KeyError, match="not a file of artifact"):
        artifact.get_entry("nope")


def test_corrupted_bytes_are_never_placed(
    fake: FakeCairn, files: FileServer, tmp_path: Path
) -> None:
    artifact = _logged(fake, tmp_path)
    artifact.files()  # the manifest is read before storage goes bad
    digest = artifact.get_entry("sub/b.bin").digest
    files.corrupt.add(f"/blobs/{digest}")
    root = tmp_path / "out"
    with pytest.raises(TransferError, match=f"blob {digest}"):
        artifact.download(root)
    assert not (root / "sub" / "b.bin").exists()
    assert Session().cache.lookup(digest, None) is None
    assert not list(Session().cache.tmp.iterdir())


def test_fetch_verified_checks_size_and_digest(
    files: FileServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("cairn.artifacts.transfer.time.sleep", lambda s: None)
    url = files.put("/x", b"payload")
    dest = tmp_path / "x"
    with Session() as session, Progress(None, "t") as bar:
        fetch_verified(session.objects, url, dest, digest=_sha(b"payload"), size=7, bar=bar)
        assert dest.read_bytes() == b"payload"
        with pytest.raises(TransferError, match="expected 8 bytes"):
            fetch_verified(session.objects, url, dest, digest=_sha(b"payload"), size=8, bar=bar)
        with pytest.raises(TransferError, match="HTTP 404"):
            fetch_verified(session.objects, f"{files.url}/gone", dest, digest="0", size=1, bar=bar)


def test_packed_blobs_come_from_one_get_each_slice_checked(
    files: FileServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("cairn.artifacts.transfer.time.sleep", lambda s: None)
    members = [b"first", b"", b"skipped", b"third" * 1000]
    url = files.put("/pack", b"".join(members))
    wanted = [  # the empty one, and two around a member the cache had already
        Slice(5, 0, _sha(b""), tmp_path / "empty"),
        Slice(12, 5000, _sha(members[3]), tmp_path / "third"),
        Slice(0, 5, _sha(b"first"), tmp_path / "first"),
    ]
    with Session() as session, Progress(None, "t") as bar:
        # This server ignores Range and sends the whole object: the slices are found anyway.
        fetch_verified_slices(session.objects, url, wanted, bar=bar)

        assert [(tmp_path / n).read_bytes() for n in ("first", "empty", "third")] == [
            b"first",
            b"",
            members[3],
        ]
        assert files.gets == ["/pack"]
        files.corrupt.add("/pack")
        with pytest.raises(TransferError, match="packed blobs"):
            fetch_verified_slices(session.objects, url, wanted, bar=bar)


def _sha(data: bytes) -> str:
    import hashlib  # noqa: PLC0415

    return hashlib.sha256(data).hexdigest()


def test_place_replaces_atomically_and_keeps_the_cache_intact(tmp_path: Path) -> None:
    obj = tmp_path / "obj"
    obj.write_bytes(b"new")
    obj.chmod(0o444)
    dest = tmp_path / "root" / "f"
    dest.parent.mkdir()
    dest.write_bytes(b"old content")
    place(obj, dest)
    assert dest.read_bytes() == b"new"
    assert [p.name for p in dest.parent.iterdir()] == ["f"]
    place(obj, dest)  # already the same file: nothing to do
    assert obj.read_bytes() == b"new"


def test_verify_names_missing_changed_and_extra_files(fake: FakeCairn, tmp_path: Path) -> None:
    artifact = _logged(fake, tmp_path)
    root = Path(artifact.download(tmp_path / "v"))
    (root / "a.txt").unlink()
    (root / "same").unlink()
    (root / "same").write_bytes(b"ALPHA")  # same size, other content
    (root / "stray.txt").write_text("?")
    with pytest.raises(ArtifactVerificationError) as caught:
        artifact.verify(root)
    message = str(caught.value)
    assert "missing: a.txt" in message
    assert "changed: same" in message
    assert "extra: stray.txt" in message
    assert isinstance(caught.value, ValueError)


def test_checkout_restores_the_folder_exactly(fake: FakeCairn, tmp_path: Path) -> None:
    artifact = _logged(fake, tmp_path)
    root = tmp_path / "co"
    (root / "old" / "dir").mkdir(parents=True)
    (root / "old" / "dir" / "junk").write_text("junk")
    (root / "a.txt").write_text("edited")
    assert artifact.checkout(root) == str(root)
    assert _tree(root) == FILES
    assert not (root / "old").exists()
    artifact.verify(root)


def test_a_draft_cannot_be_downloaded() -> None:
    with pytest.raises(cairn.errors.ArtifactNotLoggedError, match="log it"):
        cairn.Artifact("a", "t").download()
