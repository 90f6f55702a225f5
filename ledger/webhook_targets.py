"""Where webhooks may be sent (decision 31), checked when an endpoint is saved and again
at every attempt.

Production takes only `https://` URLs to public addresses. The host is resolved when a
delivery is sent, every address it resolves to must be public, and the connection goes
to the address that was checked: no second lookup that a rebinding DNS server could
answer differently. Development also takes `http://` to a loopback host (a receiver on
the developer's machine) and sends to any address.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import SplitResult, urlsplit

from ledger.errors import InvalidInput
from ledger.text import has_control_characters
from models import limits
from settings import Settings

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
DEFAULT_PORTS = {"https": 443, "http": 80}


class TargetRefused(Exception):
    """This attempt may not be sent there (the URL or the address it resolves to)."""


@dataclass(frozen=True)
class PinnedTarget:
    """A URL with the address to connect to: `url` names the address, `host_header` and
    `server_name` (TLS SNI and certificate check) the host the owner gave."""

    url: str
    host_header: str
    server_name: str | None
    address: Address


def _literal(host: str) -> Address | None:
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None


def is_public(address: Address) -> bool:
    """A globally routable unicast address: not private, loopback, link-local (cloud
    metadata services), shared, reserved or multicast, nor one of those inside IPv6."""
    if isinstance(address, ipaddress.IPv6Address):
        embedded = address.ipv4_mapped or address.sixtofour or (address.teredo or (None, None))[1]
        if embedded is not None and not is_public(embedded):
            return False
    return address.is_global and not address.is_multicast


def _is_loopback_host(host: str) -> bool:
    literal = _literal(host)
    if literal is not None:
        return literal.is_loopback
    return host == "localhost" or host.endswith(".localhost")


def _split(url: str, field: str) -> SplitResult:
    if has_control_characters(url) or any(ch.isspace() for ch in url):
        raise InvalidInput(f"{field} contains spaces or control characters", field=[field])
    if len(url) > limits.WEBHOOK_URL:
        raise InvalidInput(
            f"{field} must be at most {limits.WEBHOOK_URL} characters", field=[field]
        )
    parts = urlsplit(url)
    try:
        parts.port  # noqa: B018  (raises ValueError for a port out of range)
    except ValueError:
        raise InvalidInput(f"{field} has an invalid port", field=[field]) from None
    if parts.scheme.lower() not in DEFAULT_PORTS or not parts.hostname:
        raise InvalidInput(f"{field} must be an https:// URL", field=[field])
    if parts.username is not None or parts.password is not None:
        raise InvalidInput(f"{field} must not hold a user name or password", field=[field])
    if parts.fragment:
        raise InvalidInput(f"{field} must not have a #fragment", field=[field])
    return parts


def check_url(url: str, settings: Settings, field: str = "url") -> str:
    """`url`, trimmed, if webhooks may be sent there; INVALID_INPUT naming `field` if not."""
    url = url.strip()
    parts = _split(url, field)
    host = parts.hostname or ""
    if parts.scheme.lower() == "http" and (settings.is_production or not _is_loopback_host(host)):
        raise InvalidInput(
            f"{field} must use https:// (http:// only to a loopback host in development)",
            field=[field],
        )
    literal = _literal(host)
    if settings.is_production and (
        _is_loopback_host(host) or (literal is not None and not is_public(literal))
    ):
        raise InvalidInput(
            f"{field} must not point at a private, loopback or link-local address", field=[field]
        )
    return url


async def _addresses(host: str, port: int) -> list[Address]:
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError as exc:
        raise TargetRefused(f"cannot resolve {host}: {exc}") from exc
    found: list[Address] = []
    for info in infos:
        # An IPv6 sockaddr may carry a zone ("fe80::1%eth0"): that is never public.
        address = ipaddress.ip_address(str(info[4][0]).split("%")[0])
        if address not in found:
            found.append(address)
    return found


async def pin(url: str, settings: Settings) -> PinnedTarget:
    """Resolve `url`'s host once and answer where to connect; `TargetRefused` when the
    URL is no longer allowed or (in production) any address it resolves to is not public."""
    try:
        check_url(url, settings)
    except InvalidInput as exc:
        raise TargetRefused(exc.message) from None
    parts = urlsplit(url.strip())
    host = parts.hostname or ""
    scheme = parts.scheme.lower()
    port = parts.port or DEFAULT_PORTS[scheme]
    addresses = await _addresses(host, port)
    if not addresses:
        raise TargetRefused(f"{host} resolves to no address")
    if settings.is_production:
        refused = [a for a in addresses if not is_public(a)]
        if refused:
            raise TargetRefused(f"{host} resolves to a non-public address ({refused[0]})")
    address = addresses[0]
    shown = f"[{address}]" if address.version == 6 else str(address)
    target = parts._replace(scheme=scheme, netloc=f"{shown}:{port}").geturl()
    default = port == DEFAULT_PORTS[scheme]
    host_header = (f"[{host}]" if ":" in host else host) + ("" if default else f":{port}")
    server_name = host if scheme == "https" and _literal(host) is None else None
    return PinnedTarget(target, host_header, server_name, address)
