"""Secrets at rest: Fernet (AES-128-CBC and HMAC-SHA256) with keys from the settings.

``CAIRN_SECRETS_KEY`` holds one or more Fernet keys, comma-separated: the first encrypts, all
decrypt, so a key is rotated by putting the new one first. Without it, a key is derived from
``CAIRN_ADMIN_API_KEY`` (HKDF-SHA256) so that a development stack works out of the box; a
production deployment sets its own key, since changing the admin key would then make the stored
secrets unreadable.
"""

from __future__ import annotations

import base64

import structlog
from cairn_shared.settings import Settings
from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

log = structlog.get_logger(__name__)


class SecretUnreadableError(Exception):
    """A stored secret cannot be decrypted: the key it was written with is gone."""


class NoSecretsKeyError(Exception):
    """Neither a secrets key nor an admin key is configured: secrets cannot be stored."""


class SecretBox:
    def __init__(self, keys: list[bytes]) -> None:
        self._fernet: MultiFernet | None = MultiFernet([Fernet(k) for k in keys]) if keys else None

    @classmethod
    def from_settings(cls, settings: Settings) -> SecretBox:
        configured = settings.secrets_key.get_secret_value()
        if configured:
            keys = [k.strip().encode() for k in configured.split(",") if k.strip()]
            for key in keys:
                Fernet(key)  # a malformed key fails the start, not the first write
            return cls(keys)
        admin = settings.admin_api_key.get_secret_value()
        if not admin:
            log.warning("secrets.no_key", hint="set CAIRN_SECRETS_KEY to store secrets")
            return cls([])
        log.warning("secrets.derived_key", hint="set CAIRN_SECRETS_KEY in production")
        return cls([derive_key(admin)])

    def encrypt(self, plaintext: str) -> str:
        if self._fernet is None:
            raise NoSecretsKeyError("no CAIRN_SECRETS_KEY is configured: secrets cannot be stored")
        return self._fernet.encrypt(plaintext.encode()).decode()

    def decrypt(self, ciphertext: str) -> str:
        if self._fernet is None:
            raise SecretUnreadableError("no CAIRN_SECRETS_KEY is configured")
        try:
            return self._fernet.decrypt(ciphertext.encode()).decode()
        except InvalidToken:
            raise SecretUnreadableError("the secret was encrypted with another key") from None


def derive_key(material: str) -> bytes:
    raw = HKDF(
        algorithm=hashes.SHA256(), length=32, salt=None, info=b"cairn-automations-secrets"
    ).derive(material.encode())
    return base64.urlsafe_b64encode(raw)
