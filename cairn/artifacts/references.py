"""External references: ``file://``, ``http(s)://`` and ``s3://`` entries are tracked by
checksum or ETag, never uploaded, and fetched from where they live on download."""

from __future__ import annotations

import hashlib
import os
import posixpath
import shutil
from pathlib import Path
from urllib.parse import quote, unquote, urlparse

import httpx

from cairn.artifacts import s3
from cairn.artifacts.hashing import DigestCache, hash_files
from cairn.artifacts.manifest import SHA256_HEX, ArtifactManifestEntry
from cairn.errors import ArtifactVerificationError, CairnError
from cairn.names import check_entry_path

DEFAULT_MAX_OBJECTS = 10_000


def _join(prefix: str | None, rel: str) -> str:
    return check_entry_path(f"{prefix}/{rel}" if prefix else rel)


def file_uri(path: Path) -> str:
    """``file://`` and the absolute path, percent-encoded as a URI (``local_path`` decodes)."""
    return "file://" + quote(path.absolute().as_posix())


def local_path(uri: str) -> Path:
    """The absolute path of a ``file://`` URI (``file:///abs`` or ``file://relative``)."""
    raw = unquote(uri[len("file://") :])
    if raw.startswith("localhost/"):
        raw = raw[len("localhost") :]
    return Path(raw).absolute()


def file_entries(
    uri: str, name: str | None, checksum: bool, max_objects: int, digests: DigestCache
) -> list[ArtifactManifestEntry]:
    path = local_path(uri)
    if path.is_dir():
        files = sorted(
            Path(top, f) for top, _, names in os.walk(path, followlinks=True) for f in names
        )
        if len(files) > max_objects:
            raise ValueError(
                f"{path} holds {len(files)} files, more than max_objects={max_objects}; "
                "pass a larger max_objects to add_reference"
            )
        names = [_join(name, f.relative_to(path).as_posix()) for f in files]
    elif path.is_file():
        files, names = [path], [check_entry_path(name or path.name)]
    elif not checksum:
        entry_name = check_entry_path(name or path.name)
        return [ArtifactManifestEntry(entry_name, file_uri(path), 0, ref=file_uri(path))]
    else:
        raise FileNotFoundError(f"reference {uri!r}: {path} does not exist")
    if not checksum:
        return [
            ArtifactManifestEntry(n, file_uri(f), f.stat().st_size, ref=file_uri(f))
            for n, f in zip(names, files, strict=True)
        ]
    return [
        ArtifactManifestEntry(n, d.digest, d.size, ref=file_uri(Path(d.path)))
        for n, d in zip(names, hash_files(files, digests, desc="Hashing references"), strict=True)
    ]


def _etag(response: httpx.Response) -> str:
    etag = response.headers.get("ETag", "")
    return str(etag).removeprefix("W/").strip('"')


def http_entry(
    uri: str, name: str | None, checksum: bool, client: httpx.Client
) -> ArtifactManifestEntry:
    entry_name = name or posixpath.basename(urlparse(uri).path)
    if not entry_name:
        raise ValueError(f"reference {uri!r} names no file: pass name= to add_reference")
    check_entry_path(entry_name)
    if not checksum:
        return ArtifactManifestEntry(entry_name, uri, 0, ref=uri)
    try:
        response = client.head(uri)
    except httpx.HTTPError as exc:
        raise CairnError(f"cannot reach reference {uri!r}: {exc}") from exc
    if not response.is_success:
        raise CairnError(f"reference {uri!r} answered HEAD with HTTP {response.status_code}")
    etag = _etag(response)
    size = int(response.headers.get("Content-Length") or 0)
    extra = {"etag": etag} if etag else {}
    return ArtifactManifestEntry(entry_name, etag or uri, size, ref=uri, extra=extra)


def s3_entries(
    uri: str, name: str | None, checksum: bool, max_objects: int
) -> list[ArtifactManifestEntry]:
    bucket, key = s3.split_uri(uri)
    if not checksum:
        entry_name = check_entry_path(name or posixpath.basename(key.rstrip("/")) or bucket)
        return [ArtifactManifestEntry(entry_name, uri, 0, ref=uri)]
    minio = s3.client()
    single = s3.stat(minio, bucket, key)
    if single is not None:
        objects, names = [single], [check_entry_path(name or posixpath.basename(key))]
    else:
        objects = s3.list_prefix(minio, bucket, key, max_objects)
        if not objects:
            raise FileNotFoundError(f"reference {uri!r}: no object or prefix of that name")
        base = key.rstrip("/") + "/" if key else ""
        names = [_join(name, obj.key[len(base) :]) for obj in objects]
    entries = []
    for entry_name, obj in zip(names, objects, strict=True):
        extra = {"etag": obj.etag}
        if obj.version_id:
            extra["versionID"] = obj.version_id
        ref = f"s3://{bucket}/{obj.key}"
        entries.append(ArtifactManifestEntry(entry_name, obj.etag, obj.size, ref=ref, extra=extra))
    return entries


def reference_entries(
    uri: str,
    name: str | None,
    *,
    checksum: bool,
    max_objects: int | None,
    digests: DigestCache,
    client: httpx.Client,
) -> list[ArtifactManifestEntry]:
    """The entries a reference adds, by scheme."""
    limit = max_objects or DEFAULT_MAX_OBJECTS
    if name is not None:
        check_entry_path(name)
    if uri.startswith("file://"):
        return file_entries(uri, name, checksum, limit, digests)
    if uri.startswith(("http://", "https://")):
        return [http_entry(uri, name, checksum, client)]
    if uri.startswith("s3://"):
        return s3_entries(uri, name, checksum, limit)
    raise ValueError(
        f"unsupported reference {uri!r}: use a file://, s3://, http:// or https:// URI"
    )


def fetch(entry: ArtifactManifestEntry, dest: Path, client: httpx.Client) -> None:
    """Write the referenced content to ``dest``, verified by the entry's digest where one can."""
    ref = entry.ref_url()
    if ref.startswith("file://"):
        _fetch_file(entry, local_path(ref), dest)
    elif ref.startswith(("http://", "https://")):
        _fetch_http(entry, ref, dest, client)
    elif ref.startswith("s3://"):
        version = entry.extra.get("versionID")
        s3.download(ref, dest, str(entry.extra.get("etag", "")), entry.size, version)
    else:
        raise ValueError(f"unsupported reference {ref!r}")


def _fetch_file(entry: ArtifactManifestEntry, source: Path, dest: Path) -> None:
    if not source.is_file():
        raise FileNotFoundError(f"referenced file {source} of entry {entry.path!r} is missing")
    hasher = hashlib.sha256()
    with source.open("rb") as src, dest.open("wb") as out:
        while chunk := src.read(1 << 20):
            hasher.update(chunk)
            out.write(chunk)
    shutil.copystat(source, dest)
    if SHA256_HEX.fullmatch(entry.digest) and hasher.hexdigest() != entry.digest:
        raise ArtifactVerificationError(
            f"referenced file {source} changed since it was logged as {entry.path!r}"
        )


def _fetch_http(entry: ArtifactManifestEntry, uri: str, dest: Path, client: httpx.Client) -> None:
    got = 0
    try:
        with client.stream("GET", uri) as response, dest.open("wb") as out:
            if not response.is_success:
                raise CairnError(f"reference {uri!r} answered GET with HTTP {response.status_code}")
            served = _etag(response)
            expected = str(entry.extra.get("etag", ""))
            if expected and served and served != expected:
                raise ArtifactVerificationError(
                    f"reference {uri!r} changed since it was logged (ETag {served}, "
                    f"logged {expected})"
                )
            for chunk in response.iter_bytes(1 << 20):
                out.write(chunk)
                got += len(chunk)
    except httpx.HTTPError as exc:
        raise CairnError(f"cannot fetch reference {uri!r}: {exc}") from exc
    if entry.size and got != entry.size:
        raise ArtifactVerificationError(
            f"reference {uri!r} has {got} bytes, {entry.size} when it was logged"
        )
