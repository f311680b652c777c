"""Secrets at rest: Fernet with configured keys, rotation, and the development fallback."""

from __future__ import annotations

import pytest
from cairn_automations.adapters.secret_box import (
    NoSecretsKeyError,
    SecretBox,
    SecretUnreadableError,
)
from cairn_shared.settings import Settings
from cryptography.fernet import Fernet
from pydantic import SecretStr


def box(*, secrets_key: str = "", admin_api_key: str = "") -> SecretBox:
    # Explicit values: the environment of a developer's shell must not leak in.
    return SecretBox.from_settings(
        Settings(secrets_key=SecretStr(secrets_key), admin_api_key=SecretStr(admin_api_key))
    )


def test_a_secret_round_trips_and_is_not_stored_in_clear() -> None:
    b = box(secrets_key=Fernet.generate_key().decode())

    token = b.encrypt("hunter2")

    assert "hunter2" not in token
    assert b.decrypt(token) == "hunter2"


def test_keys_rotate_the_first_encrypts_all_decrypt() -> None:
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    written = box(secrets_key=old).encrypt("v")

    rotated = box(secrets_key=f"{new},{old}")

    assert rotated.decrypt(written) == "v"
    assert box(secrets_key=new).decrypt(rotated.encrypt("w")) == "w"
    with pytest.raises(SecretUnreadableError):
        box(secrets_key=new).decrypt(written)


def test_without_a_key_one_is_derived_from_the_admin_key() -> None:
    written = box(admin_api_key="cairn_admin").encrypt("v")

    assert box(admin_api_key="cairn_admin").decrypt(written) == "v"
    with pytest.raises(SecretUnreadableError):
        box(admin_api_key="cairn_other").decrypt(written)


def test_without_any_key_secrets_cannot_be_stored() -> None:
    with pytest.raises(NoSecretsKeyError):
        box().encrypt("v")


def test_a_malformed_key_fails_at_start() -> None:
    with pytest.raises(ValueError, match="Fernet key"):
        box(secrets_key="not-a-key")
