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

from gateway.errors import ValidationFailed
from gateway.i18n import N_, gettext  # not ``_``: the name of unused loop values here

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
# Cloud metadata services that are not in a private or link-local range.
METADATA = (ipaddress.ip_network("fd00:ec2::254/128"), ipaddress.ip_network("100.100.100.200/32"))
# Why an address is refused: stored with the attempt in English, in the reader's language when
# shown (gateway.admin.event_endpoints).
REFUSALS = {
    "is_loopback": N_("%(address)s is a loopback address (INLET_ALLOW_PRIVATE_TARGETS can "
                      "allow it)"),
    "is_link_local": N_("%(address)s is a link-local address (INLET_ALLOW_PRIVATE_TARGETS can "
                        "allow it)"),
    "is_private": N_("%(address)s is a private address (INLET_ALLOW_PRIVATE_TARGETS can allow "
                     "it)"),
    "is_multicast": N_("%(address)s is a multicast address (INLET_ALLOW_PRIVATE_TARGETS can "
                       "allow it)"),
    "is_reserved": N_("%(address)s is a reserved address (INLET_ALLOW_PRIVATE_TARGETS can "
                      "allow it)"),
    "is_unspecified": N_("%(address)s is an unspecified address (INLET_ALLOW_PRIVATE_TARGETS "
                         "can allow it)"),
}
METADATA_REFUSAL = N_("%(address)s is a cloud metadata address")


class TargetRefused(ConnectionError):
    """The target resolves only to addresses events may not be sent to."""


def refused_reason(address: str, allowed: Iterable[Network] = ()) -> str | None:
    """Why ``address`` may not be reached (None: it may)."""
    ip = ipaddress.ip_address(address.split("%")[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
        ip = ip.ipv4_mapped
    if any(ip in network for network in allowed):
        return None
    for flag, text in REFUSALS.items():
        if getattr(ip, flag):
            return text % {"address": address}
    if any(ip in network for network in METADATA):
        return METADATA_REFUSAL % {"address": address}
    return None


def check_url(url: str) -> str:
    """``url`` if it can be an endpoint (http or https, a host, no credentials), else 422."""
    def refuse(message: str) -> ValidationFailed:
        return ValidationFailed(details=[{"field": "url", "code": "invalid_url",
                                          "message": message, "value": url}])
    if not isinstance(url, str) or not url.strip():
        raise refuse(gettext("url is required: the address events are POSTed to."))
    url = url.strip()
    if len(url) > 2000:
        raise refuse(gettext("url is longer than %(num)s characters.") % {"num": 2000})
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 (raises on a bad port)
    except ValueError:
        raise refuse(gettext("url is not a valid URL.")) from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise refuse(gettext("url must start with https:// (or http://) and name a host."))
    if parts.username or parts.password:
        raise refuse(gettext("url must not carry a user name or password."))
    if any(ord(ch) < 33 for ch in url):
        raise refuse(gettext("url must not contain spaces or control characters."))
    return url


def connect(host: str, port: int, allowed: tuple[Network, ...] = (),
            timeout: float | None = None) -> socket.socket:
    """A TCP connection to ``host``: resolved once, every address checked by
    ``refused_reason``, the socket opened to an allowed one."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError as exc:
        raise ConnectionError(f"{host} could not be resolved ({exc})") from None
    reasons, addresses = [], []
    for _, _, _, _, sockaddr in infos:
        reason = refused_reason(sockaddr[0], allowed)
        (reasons if reason else addresses).append(reason or sockaddr)
    if not addresses:
        raise TargetRefused(f"refused: {reasons[0]}" if reasons else f"{host}: no address")
    # The checked address itself: a second resolution could answer differently.
    return socket.create_connection(addresses[0][:2], timeout=timeout)
