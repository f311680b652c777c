from __future__ import annotations

import base64

import pytest
from cairn_shared.auth.keys import generate_key, hash_key, key_from_authorization
from cairn_shared.auth.principal import Principal
from cairn_shared.auth.roles import Role
from cairn_shared.ids import derive_id


def test_derived_ids_are_deterministic_and_distinct_per_purpose() -> None:
    assert derive_id("evt-1", "committed") == derive_id("evt-1", "committed")
    assert derive_id("evt-1", "committed") != derive_id("evt-1", "alias", "latest")
    assert derive_id("evt-1", "committed") != derive_id("evt-2", "committed")


def test_keys_are_random_and_stored_as_hashes() -> None:
    first, second = generate_key(), generate_key()
    assert first != second
    assert first.startswith("cairn_")
    assert len(first) >= 40
    assert hash_key(first) == hash_key(first)
    assert first not in hash_key(first)


@pytest.mark.parametrize(
    ("header", "key"),
    [
        ("Bearer cairn_abc", "cairn_abc"),
        ("bearer   cairn_abc ", "cairn_abc"),
        ("Basic " + base64.b64encode(b"api:cairn_abc").decode(), "cairn_abc"),
        ("Basic not-base64!", None),
        ("Bearer", None),
        ("Token cairn_abc", None),
        ("", None),
    ],
)
def test_keys_come_from_bearer_or_wandb_style_basic_auth(header: str, key: str | None) -> None:
    assert key_from_authorization(header) == key


def test_roles_are_ordered_as_in_wandb() -> None:
    assert Role.RESTRICTED_VIEWER < Role.VIEWER < Role.MEMBER < Role.ADMIN
    assert Role.parse("restricted-viewer") is Role.RESTRICTED_VIEWER
    with pytest.raises(ValueError, match="use one of"):
        Role.parse("owner")


def test_a_principal_has_no_role_outside_its_entities_unless_server_admin() -> None:
    alice = Principal(user="alice", roles={"alice": Role.ADMIN, "team": Role.VIEWER})
    root = Principal(user="admin", is_admin=True)

    assert alice.role_in("team") is Role.VIEWER
    assert alice.role_in("bob") is None
    assert root.role_in("bob") is Role.ADMIN
