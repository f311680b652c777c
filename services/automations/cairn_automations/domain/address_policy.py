"""Where webhooks may go: the SSRF policy, checked on the URL and again on every resolved IP.

By default only https and globally routable addresses: no loopback, private, link-local,
carrier-grade NAT, multicast, reserved or unspecified address, including the IPv4 addresses
hidden in IPv4-mapped, NAT64, 6to4 and Teredo IPv6 addresses. An operator allowlists networks
(``CAIRN_WEBHOOK_ALLOW_NETWORKS``) and plain http (``CAIRN_WEBHOOK_ALLOW_HTTP``).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass

from yarl import URL

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
MAX_URL_LENGTH = 2048


class TargetRefusedError(ValueError):
    """The URL or the address it resolves to is not allowed as a webhook target."""


@dataclass(frozen=True)
class Target:
    url: str
    scheme: str
    host: str
    port: int
    ip: IPAddress | None  # the host is an IP literal

    @property
    def key(self) -> str:
        """Concurrency limits apply per ``host:port``."""
        return f"{self.host}:{self.port}"


@dataclass(frozen=True)
class AddressPolicy:
    allow_networks: tuple[IPNetwork, ...] = ()
    allow_http: bool = False

    @classmethod
    def of(cls, networks: Iterable[str], *, allow_http: bool) -> AddressPolicy:
        parsed = []
        for cidr in networks:
            try:
                parsed.append(ipaddress.ip_network(cidr.strip(), strict=False))
            except ValueError as exc:
                raise ValueError(f"webhook_allow_networks: {cidr!r} is not a CIDR: {exc}") from None
        return cls(tuple(parsed), allow_http)

    def check_url(self, url: str) -> Target:
        """The parsed target, or ``TargetRefusedError`` saying why it may not be called."""
        if len(url) > MAX_URL_LENGTH:
            raise TargetRefusedError(f"the URL is longer than {MAX_URL_LENGTH} characters")
        try:
            parsed = URL(url)
        except (ValueError, TypeError) as exc:
            raise TargetRefusedError(f"{url!r} is not a valid URL: {exc}") from None
        scheme = (parsed.scheme or "").lower()
        if scheme not in {"https", "http"}:
            raise TargetRefusedError(f"{url!r}: a webhook URL starts with https://")
        if scheme == "http" and not self.allow_http:
            raise TargetRefusedError(
                f"{url!r}: only https webhooks are allowed (an operator may allow http with "
                "CAIRN_WEBHOOK_ALLOW_HTTP)"
            )
        if not parsed.host:
            raise TargetRefusedError(f"{url!r} has no host")
        if parsed.user is not None or parsed.password is not None:
            raise TargetRefusedError(
                f"{url!r} carries credentials: put them in a header from a stored secret instead"
            )
        if parsed.fragment:
            raise TargetRefusedError(f"{url!r}: a webhook URL has no #fragment")
        host = parsed.host.lower().rstrip(".")
        ip = _ip_literal(host)
        if ip is not None:
            self.check_ip(ip, host=host)
        port = parsed.port or (443 if scheme == "https" else 80)
        return Target(url=str(parsed), scheme=scheme, host=host, port=port, ip=ip)

    def allows(self, ip: IPAddress) -> bool:
        if any(ip in net for net in self.allow_networks if net.version == ip.version):
            return True
        return all(_is_public(inner) for inner in _embedded(ip))

    def check_ip(self, ip: IPAddress | str, *, host: str = "") -> IPAddress:
        address = ipaddress.ip_address(ip) if isinstance(ip, str) else ip
        if not self.allows(address):
            where = f"{host} resolves to {address}" if host and host != str(address) else address
            raise TargetRefusedError(
                f"{where}, which is not a public address; an operator may allowlist its "
                "network with CAIRN_WEBHOOK_ALLOW_NETWORKS"
            )
        return address


def _ip_literal(host: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return None


def _embedded(ip: IPAddress) -> list[IPAddress]:
    """``ip`` and every IPv4 address it carries (which is what a packet may really reach)."""
    found: list[IPAddress] = [ip]
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            found.append(ip.ipv4_mapped)
        if ip.sixtofour is not None:
            found.append(ip.sixtofour)
        if ip.teredo is not None:
            found.extend(ip.teredo)
        if ip in NAT64:
            found.append(ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF))
    return found


def _is_public(ip: IPAddress) -> bool:
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return _is_public(ip.ipv4_mapped)
    return ip.is_global and not ip.is_multicast and not ip.is_reserved
