"""The client's address, as the login throttle counts it."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network, ip_address
from typing import Any

from litestar import Request

__all__ = ["client_address", "forwarded_client"]

Network = IPv4Network | IPv6Network


def _parsed(text: str) -> IPv4Address | IPv6Address | None:
    try:
        return ip_address(text.strip())
    except ValueError:
        return None


def forwarded_client(peer: str, forwarded_for: Iterable[str], trusted: Sequence[Network]) -> str:
    """The address the request came from: the peer, unless it is a trusted proxy; then the
    `X-Forwarded-For` hops are read right to left (each proxy appends the one it saw) up to
    the first address that is not a trusted proxy. A client's own hops to the left of it
    are never believed, and an unreadable hop stops the walk at the last good one."""
    current = _parsed(peer)
    if current is None:
        return peer
    hops = [hop for header in forwarded_for for hop in header.split(",")]
    for hop in reversed(hops):
        if not any(current in network for network in trusted):
            break
        parsed = _parsed(hop)
        if parsed is None:
            break
        current = parsed
    return str(current)


def client_address(request: Request[Any, Any, Any]) -> str:
    """The client address of a request to this service (see `forwarded_client`)."""
    peer = request.client.host if request.client else ""
    trusted: Sequence[Network] = request.app.state.get("trusted_proxies", ())
    return forwarded_client(peer, request.headers.getall("x-forwarded-for", []), trusted)
