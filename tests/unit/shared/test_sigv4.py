"""Our SigV4 presigner agrees with minio-py's where both apply, and signs extra headers."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

from cairn_shared import sigv4
from minio.credentials import Credentials
from minio.signer import presign_v4

WHEN = datetime(2026, 5, 24, 12, 0, tzinfo=UTC)
ACCESS, SECRET = "AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"


def ours(headers: dict[str, str], query: dict[str, str] | None = None) -> str:
    return sigv4.presign(
        method="PUT",
        endpoint="http://127.0.0.1:9000",
        bucket="cairn",
        key="entities/team/sha256/ab/abcdef",
        access_key=ACCESS,
        secret_key=SECRET,
        region="us-east-1",
        expires=timedelta(hours=1),
        headers=headers,
        query=query,
        now=WHEN,
    )


def test_without_extra_headers_it_matches_minio_py_byte_for_byte() -> None:
    theirs = presign_v4(
        method="PUT",
        url=urlsplit("http://127.0.0.1:9000/cairn/entities/team/sha256/ab/abcdef"),
        region="us-east-1",
        credentials=Credentials(ACCESS, SECRET),
        date=WHEN,
        expires=3600,
    ).geturl()

    assert ours({}) == theirs


def test_extra_headers_are_signed_so_the_client_must_send_them() -> None:
    url = ours({"X-Amz-Checksum-Sha256": "n4bQgYhMfWWaL+qgxVrQFaO/TxsrC4Is0V1sFbDwCgg="})

    params = parse_qs(urlsplit(url).query)
    assert params["X-Amz-SignedHeaders"] == ["host;x-amz-checksum-sha256"]
    assert params["X-Amz-Signature"] != parse_qs(urlsplit(ours({})).query)["X-Amz-Signature"]


def test_query_parameters_of_a_part_upload_are_kept_and_signed() -> None:
    url = ours({}, {"uploadId": "abc/def", "partNumber": "2"})

    params = parse_qs(urlsplit(url).query)
    assert params["uploadId"] == ["abc/def"]
    assert params["partNumber"] == ["2"]
