"""Where the server may send requests that a client chose the address of (subscription callbacks):
never to the city's own network unless the city allows it (server-side request forgery).

An address is *internal* when it is loopback, private (RFC 1918, unique-local), link-local (cloud
metadata services live there), shared, multicast, reserved or unspecified. A callback to an
internal address is refused unless its host name or one of its addresses is in the allow-list
(``PARVIS_SENSORS_NOTIFY_ALLOWED_NETWORKS``: CIDR networks or host names). A host name is resolved
and every address it resolves to is checked, so a public name pointing inside is refused too.

The check is made again where the connection is opened (``guarded_client``): the client connects
to the very addresses it has just checked, never to a second answer of the DNS, so a name whose
answer changes between a first look-up and the connection (DNS rebinding) cannot lead inside.
TLS still verifies the certificate against the host name.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httpcore
import httpx

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
        refusal = self.literal_refusal(url)
        if refusal:
            raise OutboundRefused(refusal)
        self.addresses(host, parts.port or (443 if parts.scheme == "https" else 80), resolver)

    def addresses(self, host: str, port: int, resolver: Resolver = _system_resolver) -> list[str]:
        """The addresses to connect to for ``host``, every one of them checked; raises
        :class:`OutboundRefused` if one is internal and not allowed (or the name does not resolve)."""
        host = host.lower().rstrip(".").strip("[]")
        try:
            literal = ipaddress.ip_address(host)
        except ValueError:
            literal = None
        if literal is not None:
            if is_internal(literal) and not self._allowed(literal) and host not in self.hosts:
                raise OutboundRefused(
                    f"{literal} is an internal address (loopback, private, link-local or reserved); "
                    "the city must allow it first (PARVIS_SENSORS_NOTIFY_ALLOWED_NETWORKS).")
            return [host]
        try:
            addresses = resolver(host, port)
        except OSError as exc:
            raise OutboundRefused(f"The host {host} could not be resolved ({exc}).") from exc
        if not addresses:
            raise OutboundRefused(f"The host {host} has no address.")
        if host in self.hosts:
            return addresses
        for text in addresses:
            address = ipaddress.ip_address(text.split("%", 1)[0])
            if is_internal(address) and not self._allowed(address):
                raise OutboundRefused(
                    f"{host} resolves to {address}, an internal address (loopback, private, link-local "
                    "or reserved); the city must allow it first (PARVIS_SENSORS_NOTIFY_ALLOWED_NETWORKS).")
        return addresses


class _CheckedBackend(httpcore.SyncBackend):
    """Opens connections only to addresses the policy has just checked (no second look-up)."""

    def __init__(self, policy: OutboundPolicy, resolver: Resolver) -> None:
        self.policy, self.resolver = policy, resolver

    def connect_tcp(self, host: str, port: int, timeout: float | None = None,
                    local_address: str | None = None,
                    socket_options: Iterable[Any] | None = None) -> httpcore.NetworkStream:
        failure: Exception | None = None
        for address in self.policy.addresses(host, port, self.resolver):
            try:
                return super().connect_tcp(address, port, timeout, local_address, socket_options)
            except httpcore.ConnectError as exc:  # the next address of the name, as a resolver would
                failure = exc
        assert failure is not None
        raise failure


def guarded_client(policy: OutboundPolicy, *, timeout: float, resolver: Resolver = _system_resolver
                   ) -> httpx.Client:
    """An HTTP client that refuses (:class:`OutboundRefused`) to connect where ``policy`` does not
    allow, checking the addresses it connects to. No proxy from the environment, no redirects."""
    transport = httpx.HTTPTransport(trust_env=False)
    # httpx builds its connection pool without a way to choose how it connects: the same pool,
    # with the checked backend (the TLS context is httpx's, verifying certificates as usual)
    transport._pool = httpcore.ConnectionPool(
        ssl_context=transport._pool._ssl_context,
        max_connections=100, max_keepalive_connections=20, keepalive_expiry=5.0,
        network_backend=_CheckedBackend(policy, resolver))
    return httpx.Client(transport=transport, timeout=timeout, follow_redirects=False, trust_env=False)
