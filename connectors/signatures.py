"""Standard Webhooks signatures (https://www.standardwebhooks.com/) and bearer secrets;
the signing itself is ``gateway.signing``'s, shared with the outbound events.

A secret looks like ``whsec_<base64 key>``. The signed content is
``{webhook-id}.{webhook-timestamp}.{body}``; the ``webhook-signature`` header holds one or
more space-separated ``v1,<base64 HMAC-SHA256>`` entries (several during a key rotation).
The timestamp must be within ``TOLERANCE`` seconds of now, in either direction, so a
captured request cannot be replayed later (Mautic's timestamp-less scheme can be).
"""

from __future__ import annotations

import hmac
import time
from collections.abc import Iterable

from gateway.errors import Unauthorized
from gateway.signing import PREFIX, derive_secret, secret_key_bytes, sign, signed_headers

__all__ = ["PREFIX", "TOLERANCE", "SignatureError", "derive_secret", "headers",
           "secret_key_bytes", "sign", "verify", "verify_bearer"]
TOLERANCE = 5 * 60


class SignatureError(Unauthorized):
    """The request is not signed by a current secret of the hook."""

    code = "invalid_signature"


def headers(secret: str, msg_id: str, body: bytes, timestamp: int | None = None) -> dict:
    """The three Standard Webhooks headers a sender adds (used by tests, CLI and bench)."""
    return signed_headers([secret], msg_id, body, timestamp)


def verify(secrets: Iterable[str], msg_id: str | None, timestamp: str | None,
           signature: str | None, body: bytes, *, now: float | None = None) -> None:
    """Accept the request or raise 401: a fresh timestamp and a matching ``v1`` signature."""
    if not msg_id or not timestamp or not signature:
        raise SignatureError("Missing webhook-id, webhook-timestamp or webhook-signature.")
    try:
        stamp = int(timestamp)
    except ValueError:
        raise SignatureError("webhook-timestamp must be Unix seconds.") from None
    now = time.time() if now is None else now
    if abs(now - stamp) > TOLERANCE:
        raise SignatureError("webhook-timestamp is more than 5 minutes off; check the "
                             "sender's clock or resend.")
    offered = [part.partition(",")[2] for part in signature.split()
               if part.startswith("v1,")]
    matched = False
    for secret in secrets:
        expected = sign(secret, msg_id, stamp, body).partition(",")[2]
        for candidate in offered:
            # compare every pair: no early exit that would leak which one matched
            matched |= hmac.compare_digest(expected.encode(), candidate.encode())
    if not matched:
        raise SignatureError("No webhook-signature matches this hook's secret.")


def verify_bearer(secrets: Iterable[str], header: str | None) -> None:
    """Accept ``Authorization: Bearer <secret>`` or raise 401 (constant-time compare)."""
    scheme, _, value = (header or "").partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        raise Unauthorized("Send the hook secret as Authorization: Bearer <secret>.")
    matched = False
    for secret in secrets:
        matched |= hmac.compare_digest(secret.encode(), value.strip().encode())
    if not matched:
        raise Unauthorized("The bearer secret is not valid for this hook.")
