"""The operator's webhook host exceptions (GQL_PROGRESS_WEBHOOKS_ALLOWED_HOSTS): names and ranges."""

from __future__ import annotations

import re
from collections.abc import Iterable
from ipaddress import IPv4Network, IPv6Network, ip_network

IPNetwork = IPv4Network | IPv6Network

# Host names as DNS spells them (ASCII; an IDN in its xn-- form), without a trailing dot.
_HOST_NAME = re.compile(r"^(?!-)[a-z0-9_-]{1,63}(?<!-)(\.(?!-)[a-z0-9_-]{1,63}(?<!-))*$")


def normal_host(host: str) -> str:
    return host.strip().lower().rstrip(".").removeprefix("[").removesuffix("]")


def parse_allowed_hosts(entries: Iterable[str]) -> tuple[frozenset[str], tuple[IPNetwork, ...]]:
    """Host names and CIDR ranges (a bare address is a range of one); ValueError names a bad one."""
    names: set[str] = set()
    networks: list[IPNetwork] = []
    for entry in entries:
        text = normal_host(entry)
        if not text:
            continue
        if "/" in text or ":" in text or re.fullmatch(r"[0-9.]+", text):
            try:
                networks.append(ip_network(text))
            except ValueError as exc:
                raise ValueError(f"{entry.strip()!r} is not a CIDR range: {exc}") from None
        elif _HOST_NAME.match(text):
            names.add(text)
        else:
            raise ValueError(f"{entry.strip()!r} is neither a host name nor a CIDR range")
    return frozenset(names), tuple(networks)
