"""Where the server may send requests that a client chose the address of (subscription callbacks):
never to the city's own network unless the city allows it (server-side request forgery).

An address is *internal* when it is loopback, private (RFC 1918, unique-local), link-local (cloud
metadata services live there), shared, multicast, reserved or unspecified. A callback to an
internal address is refused unless its host name or one of its addresses is in the allow-list
(``PARVIS_SENSORS_NOTIFY_ALLOWED_NETWORKS``: CIDR networks or host names). A host name is resolved
and every address it resolves to is checked, so a public name pointing inside is refused too.

Limit, stated: the HTTP client resolves the name again when it connects; a name whose DNS answer
changes between the two lookups (DNS rebinding) could still reach inside. Receivers on internal
networks should be reached through an allowed name, and the hub's outbound traffic filtered by the
host's firewall where that matters.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from urllib.parse import urlsplit

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Resolver = Callable[[str, int], list[str]]


class OutboundRefused(Exception):
    """The destination is internal and not allowed; the message says which address and why."""


def is_internal(address: Address) -> bool:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return (address.is_private or address.is_loopback or address.is_link_local or address.is_multicast
            or address.is_reserved or address.is_unspecified
            or (isinstance(address, ipaddress.IPv4Address) and address in _SHARED))


_SHARED = ipaddress.ip_network("100.64.0.0/10")  # carrier-grade NAT: not "private" for Python < 3.13


def _system_resolver(host: str, port: int) -> list[str]:
    return sorted({info[4][0] for info in socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)})


@dataclass(frozen=True)
class OutboundPolicy:
    """The allow-list: networks and host names (lower case) that may be reached although internal."""

    networks: tuple[Network, ...] = ()
    hosts: frozenset[str] = frozenset()

    @classmethod
    def from_entries(cls, entries: Iterable[str]) -> OutboundPolicy:
        """``["10.1.0.0/16", "127.0.0.1", "receiver.internal"]``: what is not an address or a
        network is taken as a host name."""
        networks: list[Network] = []
        hosts: set[str] = set()
        for entry in entries:
            text = entry.strip()
            if not text:
                continue
            try:
                networks.append(ipaddress.ip_network(text, strict=False))
            except ValueError:
                hosts.add(text.lower().rstrip("."))
        return cls(tuple(networks), frozenset(hosts))

    def _allowed(self, address: Address) -> bool:
        return any(address in network for network in self.networks
                   if network.version == address.version)

    def literal_refusal(self, url: str) -> str | None:
        """Why a URL whose host is an address literal is refused, or None (names are checked when
        sending, since their addresses can change)."""
        host = (urlsplit(url).hostname or "").lower()
        try:
            address = ipaddress.ip_address(host)
        except ValueError:
            return None
        if is_internal(address) and not self._allowed(address) and host not in self.hosts:
            return (f"{address} is an internal address (loopback, private, link-local or reserved); "
                    "the city must allow it first (PARVIS_SENSORS_NOTIFY_ALLOWED_NETWORKS).")
        return None

    def check(self, url: str, resolver: Resolver = _system_resolver) -> None:
        """Raise :class:`OutboundRefused` unless every address of the URL's host may be reached."""
        parts = urlsplit(url)
        host = (parts.hostname or "").lower().rstrip(".")
        if not host:
            raise OutboundRefused("The URL has no host.")
        if host in self.hosts:
            return
        refusal = self.literal_refusal(url)
        if refusal:
            raise OutboundRefused(refusal)
        try:
            ipaddress.ip_address(host)
            return  # a public address literal
        except ValueError:
            pass
        port = parts.port or (443 if parts.scheme == "https" else 80)
        try:
            addresses = resolver(host, port)
        except OSError as exc:
            raise OutboundRefused(f"The host {host} could not be resolved ({exc}).") from exc
        for text in addresses:
            address = ipaddress.ip_address(text.split("%", 1)[0])
            if is_internal(address) and not self._allowed(address):
                raise OutboundRefused(
                    f"{host} resolves to {address}, an internal address (loopback, private, link-local "
                    "or reserved); the city must allow it first (PARVIS_SENSORS_NOTIFY_ALLOWED_NETWORKS).")
