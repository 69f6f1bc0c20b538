"""Where events may be sent: the SSRF guard, checked on the address actually connected to.

A name is resolved once per connection, every address it resolves to is checked, and the
socket is opened to a checked address (TLS still verifies and sends SNI for the name, and the
Host header keeps it), so a DNS answer that changes between a check and the connection
(rebinding) cannot slip through. Loopback, private, link-local (cloud metadata included),
multicast, reserved and unspecified addresses are refused unless ``INLET_ALLOW_PRIVATE_TARGETS``
lists them. Redirects are never followed (a 3xx is a failed attempt).
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterable
from urllib.parse import urlsplit

import httpcore2

from gateway.errors import ValidationFailed

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
# Cloud metadata services that are not in a private or link-local range.
METADATA = (ipaddress.ip_network("fd00:ec2::254/128"), ipaddress.ip_network("100.100.100.200/32"))


class TargetRefused(httpcore2.ConnectError):
    """The target resolves only to addresses events may not be sent to."""


def refused_reason(address: str, allowed: Iterable[Network] = ()) -> str | None:
    """Why ``address`` may not be reached (None: it may)."""
    ip = ipaddress.ip_address(address.split("%")[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
        ip = ip.ipv4_mapped
    if any(ip in network for network in allowed):
        return None
    for flag, words in (("is_loopback", "a loopback"), ("is_link_local", "a link-local"),
                        ("is_private", "a private"), ("is_multicast", "a multicast"),
                        ("is_reserved", "a reserved"), ("is_unspecified", "an unspecified")):
        if getattr(ip, flag):
            return f"{address} is {words} address (INLET_ALLOW_PRIVATE_TARGETS can allow it)"
    if any(ip in network for network in METADATA):
        return f"{address} is a cloud metadata address"
    return None


def check_url(url: str) -> str:
    """``url`` if it can be an endpoint (http or https, a host, no credentials), else 422."""
    def refuse(message: str) -> ValidationFailed:
        return ValidationFailed(details=[{"field": "url", "code": "invalid_url",
                                          "message": message, "value": url}])
    if not isinstance(url, str) or not url.strip():
        raise refuse("url is required: the address events are POSTed to.")
    url = url.strip()
    if len(url) > 2000:
        raise refuse("url is longer than 2000 characters.")
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 (raises on a bad port)
    except ValueError:
        raise refuse("url is not a valid URL.") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise refuse("url must start with https:// (or http://) and name a host.")
    if parts.username or parts.password:
        raise refuse("url must not carry a user name or password.")
    if any(ord(ch) < 33 for ch in url):
        raise refuse("url must not contain spaces or control characters.")
    return url


class GuardedBackend(httpcore2.SyncBackend):
    """httpcore's network backend, connecting only to addresses ``refused_reason`` allows."""

    def __init__(self, allowed: tuple[Network, ...] = ()):
        self.allowed = allowed

    def connect_tcp(self, host: str, port: int, timeout: float | None = None,
                    local_address: str | None = None, socket_options=None):
        """Resolve ``host``, refuse forbidden addresses, connect to an allowed one."""
        try:
            infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except OSError as exc:
            raise httpcore2.ConnectError(f"{host} could not be resolved ({exc})") from None
        reasons, addresses = [], []
        for family, _, _, _, sockaddr in infos:
            reason = refused_reason(sockaddr[0], self.allowed)
            (reasons if reason else addresses).append(reason or (family, sockaddr))
        if not addresses:
            raise TargetRefused(f"refused: {reasons[0]}" if reasons else f"{host}: no address")
        family, sockaddr = addresses[0]
        # The checked address itself: a second resolution could answer differently.
        return super().connect_tcp(sockaddr[0], sockaddr[1], timeout=timeout,
                                   local_address=local_address, socket_options=socket_options)
