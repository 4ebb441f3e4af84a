"""Which address a request came from, believing proxy headers only from trusted proxies.

Sign-in throttling counts failures per client address. Behind a reverse proxy every request
arrives from the proxy, so the client is named by ``X-Forwarded-For`` (or ``X-Real-IP``) —
headers any client can also send itself. They are believed only when the peer that sent the
request is one of the configured trusted proxies (``SIYU_TRUSTED_PROXIES``); otherwise the
peer address is the client, whatever the headers say.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping, Sequence

from siyu.core.config import IPNetwork as Network

Address = ipaddress.IPv4Address | ipaddress.IPv6Address


def _address(text: str | None) -> Address | None:
    if not text:
        return None
    try:
        return ipaddress.ip_address(text.strip())
    except ValueError:
        return None


def _trusted(address: Address, trusted: Sequence[Network]) -> bool:
    return any(address in network for network in trusted)


def client_address(
    *,
    peer: str | None,
    forwarded_for: str | None,
    real_ip: str | None,
    trusted: Sequence[Network],
) -> str | None:
    """The client's address for a request from ``peer`` carrying the given proxy headers.

    When ``peer`` is a trusted proxy, ``X-Forwarded-For`` is read from the right (each proxy
    appends the address it received from) and the first address that is not itself a trusted
    proxy is the client; an entry that is not an IP address stops the walk there (the hop
    that added it is the last one believed). Without ``X-Forwarded-For``, ``X-Real-IP`` is
    taken. From an untrusted peer both headers are ignored.
    """
    peer_address = _address(peer)
    if peer_address is None or not _trusted(peer_address, trusted):
        return peer
    client = peer_address
    if forwarded_for:
        for hop in reversed(forwarded_for.split(",")):
            address = _address(hop)
            if address is None:
                break
            client = address
            if not _trusted(address, trusted):
                break
        return str(client)
    real = _address(real_ip)
    return str(real) if real is not None else peer


def request_address(
    *, peer: str | None, headers: Mapping[str, str], trusted: Sequence[Network]
) -> str | None:
    """:func:`client_address` for a request's peer and headers (any case-insensitive mapping)."""
    return client_address(
        peer=peer,
        forwarded_for=headers.get("x-forwarded-for"),
        real_ip=headers.get("x-real-ip"),
        trusted=trusted,
    )
