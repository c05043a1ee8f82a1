"""Refusing webhook targets inside the network (SSRF).

A URL is accepted only for http(s), without credentials in it, when every address its host
resolves to is public (or inside an explicitly allowed network). The check runs at
registration and again before every attempt, and the attempt connects to the very address
that was checked, so a name that re-resolves elsewhere in between (DNS rebinding) never
redirects a delivery.

Names are looked up through a `Lookup` (the system resolver unless another is given), so
what a name answers at check time and at any later time can be scripted and shown not to
matter.

Numeric spellings of an address (`2130706433`, `0x7f.1`, `017700000001`) are read the way
the C resolver would read them, then checked like any other address; IPv4-mapped IPv6
addresses (`::ffff:127.0.0.1`) are checked as the IPv4 address they carry.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from urllib.parse import SplitResult, urlsplit

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network

METADATA_ADDRESSES = frozenset(
    {ipaddress.ip_address("169.254.169.254"), ipaddress.ip_address("fd00:ec2::254")}
)


Lookup = Callable[[str, int], Awaitable[Sequence[str]]]
"""A name and port → the addresses it resolves to now, as text (an empty list: none)."""


class TargetRefused(Exception):
    """The URL may not be called; the message says why, for the caller to fix."""


@dataclass(frozen=True)
class Target:
    """A checked URL: where to connect (`address`) and what to ask for there."""

    url: str
    scheme: str
    host: str
    port: int
    address: IPAddress
    path: str

    @property
    def connect_url(self) -> str:
        literal = f"[{self.address}]" if self.address.version == 6 else str(self.address)
        return f"{self.scheme}://{literal}:{self.port}{self.path}"

    @property
    def host_header(self) -> str:
        default = 443 if self.scheme == "https" else 80
        shown = f"[{self.host}]" if ":" in self.host else self.host
        return shown if self.port == default else f"{shown}:{self.port}"


def parse_networks(cidrs: Sequence[str]) -> tuple[Network, ...]:
    return tuple(ipaddress.ip_network(cidr, strict=False) for cidr in cidrs)


def split(url: str) -> SplitResult:
    """The URL's parts, refusing what no webhook target needs before any lookup."""
    if len(url) > 2000:
        raise TargetRefused("The URL is longer than 2000 characters.")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as error:
        raise TargetRefused(f"The URL is not valid: {error}.") from error
    if parts.scheme not in ("http", "https"):
        raise TargetRefused("Only http and https URLs can receive webhooks.")
    if not parts.hostname:
        raise TargetRefused("The URL has no host.")
    if parts.username is not None or parts.password is not None:
        raise TargetRefused("Credentials in the URL are not allowed; use the signing secret.")
    if port == 0:
        raise TargetRefused("Port 0 cannot receive webhooks.")
    return parts


def literal_address(host: str) -> IPAddress | None:
    """The address a host spelled as a number stands for, in any of the resolver's forms."""
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        pass
    try:
        # inet_aton accepts the historical forms: 2130706433, 0x7f000001, 0177.1, 127.1 …
        return ipaddress.IPv4Address(socket.inet_aton(host))
    except OSError:
        return None


def refusal(address: IPAddress, allowed: Sequence[Network]) -> str | None:
    """Why `address` may not be called, or None when it may."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    if any(address in network for network in allowed):
        return None
    if address in METADATA_ADDRESSES:
        return f"{address} is a cloud metadata address"
    if address.is_unspecified:
        return f"{address} is the unspecified address"
    if address.is_loopback:
        return f"{address} is a loopback address"
    if address.is_link_local:
        return f"{address} is a link-local address"
    if address.is_private:
        return f"{address} is a private address"
    if address.is_multicast or address.is_reserved or not address.is_global:
        return f"{address} is not a public address"
    return None


async def system_lookup(host: str, port: int) -> list[str]:
    """The C resolver's answer (`getaddrinfo`), as the operating system configures it."""
    loop = asyncio.get_running_loop()
    try:
        infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as error:
        raise TargetRefused(f"The host {host!r} does not resolve: {error.strerror}.") from error
    return [str(sockaddr[0]) for _family, _type, _proto, _name, sockaddr in infos]


async def resolve(host: str, port: int, lookup: Lookup = system_lookup) -> list[IPAddress]:
    literal = literal_address(host)
    if literal is not None:
        return [literal]
    addresses: list[IPAddress] = []
    for answer in await lookup(host, port):
        try:
            address = ipaddress.ip_address(answer.split("%", 1)[0])
        except ValueError as error:
            raise TargetRefused(f"The host {host!r} resolves to {answer!r}.") from error
        if address not in addresses:
            addresses.append(address)
    if not addresses:
        raise TargetRefused(f"The host {host!r} has no address.")
    return addresses


async def check(url: str, allowed: Sequence[Network], lookup: Lookup = system_lookup) -> Target:
    """Resolve once and check every address; the first one is where the attempt connects, so
    nothing resolves the name again between the check and the connection."""
    parts = split(url)
    host = parts.hostname or ""
    scheme = parts.scheme
    port = parts.port or (443 if scheme == "https" else 80)
    addresses = await resolve(host, port, lookup)
    for address in addresses:
        reason = refusal(address, allowed)
        if reason is not None:
            raise TargetRefused(f"The URL's host {host!r} is refused: {reason}.")
    path = parts.path or "/"
    if parts.query:
        path = f"{path}?{parts.query}"
    return Target(url, scheme, host, port, addresses[0], path)


@dataclass(frozen=True)
class Guard:
    """The check as one service runs it: its allow-list and its way of looking names up."""

    allowed: tuple[Network, ...] = ()
    lookup: Lookup = system_lookup

    @classmethod
    def of(cls, cidrs: Sequence[str], lookup: Lookup = system_lookup) -> Guard:
        return cls(parse_networks(cidrs), lookup)

    async def check(self, url: str) -> Target:
        return await check(url, self.allowed, self.lookup)
