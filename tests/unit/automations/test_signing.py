"""Standard Webhooks signatures, checked with the reference library's own verifier."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from cairn_automations.domain.signing import (
    check_signing_secret,
    generate_secret,
    secret_hint,
    webhook_headers,
)
from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError

BODY = '{"event_type":"model.alias.added","alias":"production"}'


def test_a_signed_message_verifies_with_the_standardwebhooks_library() -> None:
    secret = generate_secret()
    headers = webhook_headers([secret], "msg_1", datetime.now(UTC), BODY)

    assert Webhook(secret).verify(BODY, headers) == {
        "event_type": "model.alias.added",
        "alias": "production",
    }
    assert headers["webhook-id"] == "msg_1"
    assert headers["webhook-signature"].startswith("v1,")


def test_during_rotation_each_secret_signs_and_either_verifies() -> None:
    old, new = generate_secret(), generate_secret()
    headers = webhook_headers([old, new], "msg_2", datetime.now(UTC), BODY)

    assert len(headers["webhook-signature"].split(" ")) == 2
    Webhook(old).verify(BODY, headers)
    Webhook(new).verify(BODY, headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(generate_secret()).verify(BODY, headers)


def test_a_tampered_body_fails_verification() -> None:
    secret = generate_secret()
    headers = webhook_headers([secret], "msg_3", datetime.now(UTC), BODY)
    with pytest.raises(WebhookVerificationError):
        Webhook(secret).verify(BODY.replace("production", "staging"), headers)


def test_generated_secrets_are_valid_and_distinct() -> None:
    a, b = generate_secret(), generate_secret()
    assert a != b
    assert check_signing_secret(a) == a


@pytest.mark.parametrize(
    ("secret", "message"),
    [
        ("plain-secret", "starts with 'whsec_'"),
        ("whsec_!!!", "not valid base64"),
        ("whsec_c2hvcnQ=", "holds 5 bytes"),
    ],
)
def test_malformed_secrets_are_refused(secret: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        check_signing_secret(secret)


def test_hints_reveal_almost_nothing() -> None:
    secret = generate_secret()
    assert secret_hint(secret) == secret[:10] + "…"
    assert secret_hint("short") == "…"
    assert secret_hint("a-long-api-token-1234") == "…1234"
