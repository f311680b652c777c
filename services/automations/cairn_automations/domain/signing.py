"""Standard Webhooks signing: ``whsec_`` secrets, and the ``webhook-*`` headers of a message.

During a key rotation an integration has several secrets; the ``webhook-signature`` header then
lists one ``v1,<signature>`` per secret, space-separated, so a receiver that knows either key
verifies the message.
"""

from __future__ import annotations

import base64
import binascii
import secrets
from collections.abc import Sequence
from datetime import datetime

from standardwebhooks import Webhook

SECRET_PREFIX = "whsec_"  # noqa: S105 - the scheme's prefix, not a secret
MIN_SECRET_BYTES = 24
MAX_SECRET_BYTES = 64


def generate_secret() -> str:
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()


def check_signing_secret(secret: str) -> str:
    """A ``whsec_`` secret whose base64 body holds 24 to 64 bytes, as the spec recommends."""
    if not secret.startswith(SECRET_PREFIX):
        raise ValueError("a signing secret starts with 'whsec_' followed by base64")
    body = secret[len(SECRET_PREFIX) :]
    try:
        raw = base64.b64decode(body + "=" * (-len(body) % 4), validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("the signing secret after 'whsec_' is not valid base64") from None
    if not MIN_SECRET_BYTES <= len(raw) <= MAX_SECRET_BYTES:
        raise ValueError(
            f"the signing secret holds {len(raw)} bytes; use {MIN_SECRET_BYTES} to "
            f"{MAX_SECRET_BYTES} random bytes"
        )
    return secret


def secret_hint(secret: str) -> str:
    """Enough to tell two secrets apart, far too little to guess one."""
    if secret.startswith(SECRET_PREFIX) and len(secret) >= len(SECRET_PREFIX) + 16:
        return secret[: len(SECRET_PREFIX) + 4] + "…"
    if len(secret) >= 16:
        return "…" + secret[-4:]
    return "…"


def signature(secrets_: Sequence[str], msg_id: str, timestamp: datetime, body: str) -> str:
    """The ``webhook-signature`` value: ``v1,<base64 HMAC-SHA256>`` per secret."""
    if not secrets_:
        raise ValueError("a webhook needs at least one signing secret")
    return " ".join(Webhook(s).sign(msg_id, timestamp, body) for s in secrets_)


def webhook_headers(
    secrets_: Sequence[str], msg_id: str, timestamp: datetime, body: str
) -> dict[str, str]:
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(int(timestamp.timestamp())),
        "webhook-signature": signature(secrets_, msg_id, timestamp, body),
    }
