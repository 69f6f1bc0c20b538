"""Standard Webhooks signing (https://www.standardwebhooks.com/), shared by both directions:
``connectors.signatures`` verifies inbound hooks with it, ``events`` signs outbound events.

A secret looks like ``whsec_<base64 key>``. The signed content is
``{webhook-id}.{webhook-timestamp}.{body}``; the ``webhook-signature`` header holds one or
more space-separated ``v1,<base64 HMAC-SHA256>`` entries (several during a key rotation).
"""

from __future__ import annotations

import base64
import binascii
import functools
import hashlib
import hmac
import time
from collections.abc import Iterable

PREFIX = "whsec_"


def derive_secret(server_key: str, salt: str) -> str:
    """The secret for ``salt``: HMAC of the server key, so it is never stored."""
    raw = hmac.new(server_key.encode(), f"inlet-hook:{salt}".encode(), hashlib.sha256).digest()
    return PREFIX + base64.b64encode(raw[:24]).decode()


@functools.lru_cache(maxsize=1024)
def secret_key_bytes(secret: str) -> bytes:
    """The HMAC key inside a ``whsec_`` secret (a bare base64 key is accepted too)."""
    body = secret.removeprefix(PREFIX)
    try:
        return base64.b64decode(body, validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("A webhook secret is whsec_ followed by base64.") from None


def sign(secret: str, msg_id: str, timestamp: int | str, body: bytes) -> str:
    """The ``v1,<base64>`` signature of one message."""
    content = f"{msg_id}.{timestamp}.".encode() + body
    # hmac.digest: the one-shot C path (every delivery checks at least one signature)
    digest = hmac.digest(secret_key_bytes(secret), content, "sha256")
    return "v1," + base64.b64encode(digest).decode()


def signed_headers(secrets: Iterable[str], msg_id: str, body: bytes,
                   timestamp: int | None = None) -> dict:
    """The three Standard Webhooks headers, signed by every one of ``secrets``."""
    stamp = int(time.time()) if timestamp is None else int(timestamp)
    return {"webhook-id": msg_id, "webhook-timestamp": str(stamp),
            "webhook-signature": " ".join(sign(secret, msg_id, stamp, body)
                                          for secret in secrets)}
