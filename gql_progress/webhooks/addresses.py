"""Which addresses a webhook may reach: public ones, plus what the operator allows.

An admin chooses the URL and sees each delivery's outcome, so an endpoint on an internal
address would make the worker a probe of the internal network (and of cloud metadata
services). Every address a host resolves to is checked, at registration and again when a
connection is made (connections.py): DNS may answer differently the second time.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Iterable
from dataclasses import dataclass
from ipaddress import IPv4Address, IPv6Address, ip_address, ip_network

from gql_progress.formats.allowed_hosts import IPNetwork, normal_host, parse_allowed_hosts

IPAddress = IPv4Address | IPv6Address

# Instance metadata services (AWS, ECS, EKS, GCP, Azure, Alibaba, Oracle): credentials live
# there, so no allow-list entry ever opens them.
METADATA_ADDRESSES = frozenset(
    ip_address(a)
    for a in (
        "169.254.169.254",
        "169.254.170.2",
        "169.254.170.23",
        "fd00:ec2::254",
        "fd00:ec2::23",
        "100.100.100.200",
        "192.0.0.192",
    )
)

# Special-purpose ranges (RFC 6890 and successors), listed here as well as asked of
# ``is_global``: what that property covers has changed between Python versions (3.11 calls
# 192.0.0.0/24 and multicast global).
_NOT_PUBLIC = tuple(
    ip_network(n)
    for n in (
        "0.0.0.0/8",
        "10.0.0.0/8",
        "100.64.0.0/10",
        "127.0.0.0/8",
        "169.254.0.0/16",
        "172.16.0.0/12",
        "192.0.0.0/24",
        "192.0.2.0/24",
        "192.88.99.0/24",
        "192.168.0.0/16",
        "198.18.0.0/15",
        "198.51.100.0/24",
        "203.0.113.0/24",
        "224.0.0.0/4",
        "240.0.0.0/4",
        "::/8",
        "64:ff9b:1::/48",
        "100::/64",
        "2001::/23",
        "2001:db8::/32",
        "fc00::/7",
        "fe80::/10",
        "fec0::/10",
        "ff00::/8",
    )
)

RESOLVE_TIMEOUT_SECONDS = 5.0


class AddressNotAllowed(Exception):
    """The host is not one a webhook may reach; the message says no more than that."""


class Unresolvable(Exception):
    """The host has no address (or the resolver did not answer in time)."""


def plain(address: IPAddress) -> IPAddress:
    """An IPv4-mapped IPv6 address (``::ffff:127.0.0.1``) is the IPv4 address it maps: a socket
    connecting to it reaches that address."""
    if isinstance(address, IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def is_public(address: IPAddress) -> bool:
    address = plain(address)
    if address in METADATA_ADDRESSES or not address.is_global:
        return False
    if address.is_multicast or address.is_reserved or address.is_unspecified or address.is_loopback:
        return False
    if any(address in network for network in _NOT_PUBLIC if network.version == address.version):
        return False
    # 6to4 (2002::/16) routes to the IPv4 address inside it.
    if isinstance(address, IPv6Address) and address.sixtofour is not None:
        return is_public(address.sixtofour)
    return True


@dataclass(frozen=True)
class AllowList:
    """The operator's exceptions (GQL_PROGRESS_WEBHOOKS_ALLOWED_HOSTS), for on-premise receivers.

    A listed name may resolve anywhere and may use plain http; a listed range admits the
    addresses in it, and plain http to an address literal in it. Metadata addresses stay shut.
    """

    names: frozenset[str] = frozenset()
    networks: tuple[IPNetwork, ...] = ()

    @classmethod
    def parse(cls, entries: Iterable[str]) -> AllowList:
        """Host names and CIDR ranges (a bare address is a range of one); ValueError names a bad one."""
        return cls(*parse_allowed_hosts(entries))

    def names_host(self, host: str) -> bool:
        return normal_host(host) in self.names

    def contains(self, address: IPAddress) -> bool:
        address = plain(address)
        return any(address in network for network in self.networks if network.version == address.version)

    def permits(self, address: IPAddress) -> bool:
        if plain(address) in METADATA_ADDRESSES:
            return False
        return self.contains(address) or is_public(address)

    def permits_plain_http(self, host: str) -> bool:
        """Plain http leaves the body and its signature readable on the way: only to hosts the
        operator listed, by name or as an address literal in a listed range."""
        if self.names_host(host):
            return True
        literal = _literal(host)
        return literal is not None and plain(literal) not in METADATA_ADDRESSES and self.contains(literal)


def _literal(host: str) -> IPAddress | None:
    try:
        return ip_address(normal_host(host))
    except ValueError:
        return None


async def resolve(host: str, port: int) -> list[IPAddress]:
    """Every address the system resolver gives for ``host`` (hosts file, DNS…), in its order.

    Tests replace socket.getaddrinfo (asyncio looks it up on each call) to play DNS.
    """
    loop = asyncio.get_running_loop()
    try:
        async with asyncio.timeout(RESOLVE_TIMEOUT_SECONDS):
            infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, TimeoutError, UnicodeError):
        raise Unresolvable(host) from None
    found: list[IPAddress] = []
    for info in infos:
        try:
            address = plain(ip_address(str(info[4][0]).partition("%")[0]))
        except ValueError:
            continue
        if address not in found:
            found.append(address)
    if not found:
        raise Unresolvable(host)
    return found


async def checked_addresses(host: str, port: int, allow: AllowList) -> list[IPAddress]:
    """The addresses to connect to for ``host``: resolved once, each one allowed.

    One refused address refuses the host: a name answering both a public and an internal
    address would otherwise reach the internal one whenever the public one is down.
    """
    literal = _literal(host)
    addresses = [plain(literal)] if literal is not None else await resolve(host, port)
    if allow.names_host(host):
        permitted = all(address not in METADATA_ADDRESSES for address in addresses)
    else:
        permitted = all(allow.permits(address) for address in addresses)
    if not permitted:
        raise AddressNotAllowed("address not allowed")
    return addresses


async def may_register(host: str, port: int, allow: AllowList) -> bool:
    """Whether an endpoint on ``host`` may be registered: a listed name is the operator's word
    (it may not resolve from here, or not yet); any other host must resolve, to allowed
    addresses only. Deliveries check again, when they connect."""
    if allow.names_host(host):
        return True
    try:
        await checked_addresses(host, port, allow)
    except (AddressNotAllowed, Unresolvable):
        return False
    return True
