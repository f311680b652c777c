"""The SSRF policy: https and public addresses only, unless allowlisted."""

from __future__ import annotations

import pytest
from cairn_automations.domain.address_policy import AddressPolicy, TargetRefusedError

DEFAULT = AddressPolicy()


@pytest.mark.parametrize(
    "ip",
    [
        "127.0.0.1",
        "10.1.2.3",
        "172.16.0.1",
        "192.168.1.1",
        "169.254.169.254",  # cloud metadata
        "100.64.0.1",  # carrier-grade NAT
        "0.0.0.0",  # noqa: S104 - an address to refuse, not one to bind
        "224.0.0.1",
        "240.0.0.1",
        "255.255.255.255",
        "::1",
        "::",
        "fe80::1",
        "fc00::1",
        "ff02::1",
        "::ffff:10.0.0.1",  # IPv4-mapped
        "64:ff9b::a00:1",  # NAT64 of 10.0.0.1
        "2002:a00:1::",  # 6to4 of 10.0.0.1
    ],
)
def test_non_public_addresses_are_refused(ip: str) -> None:
    with pytest.raises(TargetRefusedError, match="not a public address"):
        DEFAULT.check_ip(ip)


@pytest.mark.parametrize("ip", ["8.8.8.8", "1.1.1.1", "2606:4700:4700::1111"])
def test_public_addresses_are_allowed(ip: str) -> None:
    DEFAULT.check_ip(ip)


def test_allowlisted_networks_are_allowed() -> None:
    policy = AddressPolicy.of(["127.0.0.0/8", "10.0.0.0/8", "fd00::/8"], allow_http=False)

    policy.check_ip("127.0.0.1")
    policy.check_ip("10.200.0.1")
    policy.check_ip("fd12::1")
    with pytest.raises(TargetRefusedError):
        policy.check_ip("192.168.0.1")


def test_a_malformed_allowlist_fails_loudly() -> None:
    with pytest.raises(ValueError, match="not a CIDR"):
        AddressPolicy.of(["10.0.0.0/33"], allow_http=False)


def test_https_urls_with_public_hosts_pass() -> None:
    target = DEFAULT.check_url("https://hooks.example.com/path?q=1")

    assert (target.scheme, target.host, target.port, target.ip) == (
        "https",
        "hooks.example.com",
        443,
        None,
    )
    assert target.key == "hooks.example.com:443"
    assert DEFAULT.check_url("https://8.8.8.8:8443/x").port == 8443


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("http://hooks.example.com/", "only https"),
        ("ftp://hooks.example.com/", "starts with https"),
        ("https:///path", "no host"),
        ("https://user:pw@hooks.example.com/", "credentials"),
        ("https://hooks.example.com/#frag", "fragment"),
        ("https://127.0.0.1/", "not a public address"),
        ("https://[::1]:8443/", "not a public address"),
        ("https://169.254.169.254/latest/meta-data", "not a public address"),
        ("not a url", "starts with https"),
        ("https://x.example.com/" + "a" * 3000, "longer"),
    ],
)
def test_refused_urls_say_why(url: str, message: str) -> None:
    with pytest.raises(TargetRefusedError, match=message):
        DEFAULT.check_url(url)


def test_http_and_private_targets_when_an_operator_allows_them() -> None:
    policy = AddressPolicy.of(["127.0.0.0/8"], allow_http=True)

    target = policy.check_url("http://127.0.0.1:8080/hook")
    assert (target.scheme, target.port, str(target.ip)) == ("http", 8080, "127.0.0.1")
