"""Building the signed request of one attempt (also used by the "test" calls)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime

from cairn_automations.adapters.secret_box import SecretBox
from cairn_automations.domain.records import Integration
from cairn_automations.domain.signing import webhook_headers
from cairn_automations.domain.templates import references, render_text

MASK = "********"


class EntitySecrets(Mapping[str, str]):
    """An entity's secrets, decrypted one by one when a template asks for them."""

    def __init__(self, ciphertexts: Mapping[str, str], box: SecretBox) -> None:
        self._ciphertexts = ciphertexts
        self._box = box

    def __getitem__(self, name: str) -> str:
        return self._box.decrypt(self._ciphertexts[name])

    def __iter__(self) -> Iterator[str]:
        return iter(self._ciphertexts)

    def __len__(self) -> int:
        return len(self._ciphertexts)


class MaskedSecrets(Mapping[str, str]):
    """Every secret reads as a mask: what the API shows of a rendered payload."""

    def __getitem__(self, name: str) -> str:
        return MASK

    def __iter__(self) -> Iterator[str]:
        return iter(())

    def __len__(self) -> int:
        return 0


@dataclass(frozen=True)
class PreparedRequest:
    url: str
    headers: dict[str, str]
    body: str


def prepare_request(
    integration: Integration,
    *,
    msg_id: str,
    body: str,
    content_type: str,
    now: datetime,
    secrets: Mapping[str, str],
    box: SecretBox,
) -> PreparedRequest:
    """Headers (the integration's, with secrets substituted) and Standard Webhooks signatures.

    Raises ``MissingSecretError``, ``SecretUnreadableError`` or ``ValueError`` when the request
    cannot be built; the caller logs that as a failed attempt.
    """
    headers = {"Content-Type": content_type}
    for name, template in integration.headers:
        value = render_text(template, {}, secrets)
        if any(c in value for c in "\r\n\x00"):
            raise ValueError(f"header {name!r}: a secret it uses holds a line break")
        headers[name] = value
    signing = [box.decrypt(s.ciphertext) for s in integration.secrets_at(now)]
    if not signing:
        raise ValueError(f"integration {integration.name!r} has no active signing secret")
    headers.update(webhook_headers(signing, msg_id, now, body))
    return PreparedRequest(url=integration.url, headers=headers, body=body)


def shown_headers(integration: Integration, headers: Mapping[str, str]) -> dict[str, str]:
    """``headers`` with the value of every header built from a secret masked."""
    secret_headers = {
        name.lower()
        for name, template in integration.headers
        if references(template, secrets_only=True).secrets
    }
    return {k: MASK if k.lower() in secret_headers else v for k, v in headers.items()}
