"""AWS Signature V4 query presigning with signed headers.

minio-py presigns with ``host`` as the only signed header. A PUT that must carry
``x-amz-checksum-sha256`` (so that S3 itself refuses a body whose SHA-256 differs) needs that
header signed too: strict S3 services (AWS, versitygw) refuse unsigned ``x-amz-*`` headers on a
presigned request. This is the algorithm of the AWS SigV4 reference, nothing more.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from urllib.parse import quote, urlsplit

ALGORITHM = "AWS4-HMAC-SHA256"


def _encode(value: str) -> str:
    return quote(value, safe="-_.~")


def _hmac(key: bytes, message: str) -> bytes:
    return hmac.new(key, message.encode(), hashlib.sha256).digest()


def presign(
    *,
    method: str,
    endpoint: str,
    bucket: str,
    key: str,
    access_key: str,
    secret_key: str,
    region: str,
    expires: timedelta,
    headers: Mapping[str, str],
    query: Mapping[str, str] | None = None,
    now: datetime | None = None,
) -> str:
    """A path-style presigned URL whose signature covers ``host`` and ``headers``; the client
    must send exactly these headers with the request."""
    url = urlsplit(endpoint)
    when = (now or datetime.now(UTC)).astimezone(UTC)
    amz_date, day = when.strftime("%Y%m%dT%H%M%SZ"), when.strftime("%Y%m%d")
    scope = f"{day}/{region}/s3/aws4_request"
    signed = {"host": url.netloc, **{k.lower(): v.strip() for k, v in headers.items()}}
    signed_names = ";".join(sorted(signed))
    params = {
        **(query or {}),
        "X-Amz-Algorithm": ALGORITHM,
        "X-Amz-Credential": f"{access_key}/{scope}",
        "X-Amz-Date": amz_date,
        "X-Amz-Expires": str(int(expires.total_seconds())),
        "X-Amz-SignedHeaders": signed_names,
    }
    canonical_query = "&".join(f"{_encode(k)}={_encode(v)}" for k, v in sorted(params.items()))
    path = "/" + _encode(bucket) + "/" + quote(key, safe="-_.~/")
    canonical_headers = "".join(f"{name}:{signed[name]}\n" for name in sorted(signed))
    canonical_request = "\n".join(
        [method, path, canonical_query, canonical_headers, signed_names, "UNSIGNED-PAYLOAD"]
    )
    string_to_sign = "\n".join(
        [ALGORITHM, amz_date, scope, hashlib.sha256(canonical_request.encode()).hexdigest()]
    )
    signing_key = _hmac(
        _hmac(_hmac(_hmac(f"AWS4{secret_key}".encode(), day), region), "s3"), "aws4_request"
    )
    signature = hmac.new(signing_key, string_to_sign.encode(), hashlib.sha256).hexdigest()
    return f"{url.scheme}://{url.netloc}{path}?{canonical_query}&X-Amz-Signature={signature}"
