"""``s3://`` references through minio-py, an optional dependency (``pip install 'cairn[s3]'``).

Credentials and endpoint come from the usual AWS variables: ``AWS_ACCESS_KEY_ID``,
``AWS_SECRET_ACCESS_KEY``, ``AWS_ENDPOINT_URL`` (default AWS S3), ``AWS_REGION``.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from cairn.errors import ArtifactVerificationError, CairnError, DependencyError

DEFAULT_ENDPOINT = "https://s3.amazonaws.com"


@dataclass(frozen=True)
class S3Object:
    key: str
    etag: str
    size: int
    version_id: str | None = None


def split_uri(uri: str) -> tuple[str, str]:
    """``s3://bucket/key`` into bucket and key (the key may be empty or a prefix)."""
    parsed = urlparse(uri)
    if parsed.scheme != "s3" or not parsed.netloc:
        raise ValueError(f"invalid S3 URI {uri!r}: use s3://bucket/key")
    return parsed.netloc, parsed.path.lstrip("/")


def client() -> Any:
    """A minio client from the AWS variables; a clear error when minio-py is missing."""
    try:
        from minio import Minio  # noqa: PLC0415 - an optional extra, imported only when used
    except ImportError as exc:
        raise DependencyError(
            "s3:// references need minio-py: install the extra with `pip install 'cairn[s3]'`"
        ) from exc
    endpoint = urlparse(os.environ.get("AWS_ENDPOINT_URL") or DEFAULT_ENDPOINT)
    access, secret = os.environ.get("AWS_ACCESS_KEY_ID"), os.environ.get("AWS_SECRET_ACCESS_KEY")
    if not access or not secret:
        raise CairnError(
            "s3:// references need credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY "
            "(and AWS_ENDPOINT_URL for a service other than AWS S3)"
        )
    region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")
    return Minio(
        endpoint.netloc,
        access_key=access,
        secret_key=secret,
        secure=endpoint.scheme != "http",
        region=region or None,
    )


def _etag(raw: str | None) -> str:
    return (raw or "").strip('"')


def stat(minio: Any, bucket: str, key: str) -> S3Object | None:
    """The object at ``key`` (a signed HEAD), or None when there is none."""
    from minio.error import S3Error  # noqa: PLC0415

    if not key:
        return None
    try:
        st = minio.stat_object(bucket, key)
    except S3Error as exc:
        if exc.code in {"NoSuchKey", "NoSuchObject", "ResourceNotFound"}:
            return None
        raise CairnError(f"cannot read s3://{bucket}/{key}: {exc.code}: {exc.message}") from exc
    return S3Object(key, _etag(st.etag), int(st.size), st.version_id)


def list_prefix(minio: Any, bucket: str, prefix: str, limit: int) -> list[S3Object]:
    """The objects under ``prefix`` (as a folder), at most ``limit`` of them."""
    if prefix and not prefix.endswith("/"):
        prefix += "/"
    found: list[S3Object] = []
    for obj in minio.list_objects(bucket, prefix=prefix or None, recursive=True):
        if obj.is_dir:
            continue
        if len(found) == limit:
            raise ValueError(
                f"s3://{bucket}/{prefix} holds more than {limit} objects; pass a larger "
                "max_objects to add_reference"
            )
        found.append(S3Object(obj.object_name, _etag(obj.etag), int(obj.size), obj.version_id))
    return found


def download(uri: str, dest: Path, etag: str, size: int, version_id: str | None) -> None:
    """Fetch the object (the logged version, where the bucket keeps versions) into ``dest``;
    checks the ETag S3 serves (an MD5 is no check under SSE-KMS) and the size."""
    bucket, key = split_uri(uri)
    minio = client()
    response = minio.get_object(bucket, key, version_id=version_id)
    got = 0
    try:
        chunks: Iterator[bytes] = response.stream(1 << 20)
        with dest.open("wb") as out:
            for chunk in chunks:
                out.write(chunk)
                got += len(chunk)
        served = _etag(response.headers.get("ETag"))
    finally:
        response.close()
        response.release_conn()
    if etag and served and served != etag:
        raise ArtifactVerificationError(f"{uri} changed since it was logged (ETag {served})")
    if size and got != size:
        raise ArtifactVerificationError(f"{uri}: got {got} bytes, the manifest says {size}")
