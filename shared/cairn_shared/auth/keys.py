"""API keys: random, shown once, stored only as a hash."""

from __future__ import annotations

import base64
import binascii
import hashlib
import secrets

KEY_PREFIX = "cairn_"


def generate_key() -> str:
    return KEY_PREFIX + secrets.token_urlsafe(30)


def hash_key(key: str) -> str:
    """SHA-256 is enough: keys carry 240 random bits, so there is nothing to brute-force."""
    return hashlib.sha256(key.encode()).hexdigest()


def key_from_authorization(header: str) -> str | None:
    """The key of ``Bearer <key>``, or of ``Basic base64(api:<key>)`` as W&B clients send it."""
    scheme, _, value = header.strip().partition(" ")
    value = value.strip()
    if scheme.lower() == "bearer" and value:
        return value
    if scheme.lower() == "basic" and value:
        try:
            decoded = base64.b64decode(value, validate=True).decode()
        except (binascii.Error, UnicodeDecodeError):
            return None
        _, _, key = decoded.partition(":")
        return key or None
    return None
