"""Signed tokens of the forms area: one itsdangerous salt per purpose, never interchangeable.

* confirm: the double opt-in link, ``[confirmation id, nonce]``, expiring.
* rendered: when a form was rendered, for the minimum fill time (a bare timestamp
  signature over the form id: it is checked on every submission).
* unsubscribe: the List-Unsubscribe link of a welcome mail, ``[unsubscribe link id, nonce]``.

A link that acts on a row names it by ``[row id, nonce]``: the nonce is random, stored on the
row and checked, so a link dies with its row even if its id ever recurred. Unsubscribe links
mailed before nonces existed carried ``[contact id, account id]`` (``LegacyUnsubscribe``).

Tests freeze the clock by passing ``now`` (seconds since the epoch) instead of sleeping.
"""

from __future__ import annotations

import functools
import secrets
import time
from dataclasses import dataclass

from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from itsdangerous.timed import TimestampSigner

SALTS = {
    "confirm": "inlet.forms.confirm",
    "rendered": "inlet.forms.rendered",
    "unsubscribe": "inlet.forms.unsubscribe",
}
RENDER_MAX_AGE = 24 * 3600  # a form left open for a day must be reloaded


class InvalidToken(Exception):
    """The token is tampered with, for another purpose, or garbage."""


class ExpiredToken(InvalidToken):
    """The signature is good but the token is too old; ``payload`` is still usable."""

    def __init__(self, payload):
        super().__init__("expired")
        self.payload = payload


def _signer_at(now: float | None) -> type[TimestampSigner]:
    """A signer whose clock reads ``now`` (the real clock when None)."""
    if now is None:
        return TimestampSigner

    class FrozenSigner(TimestampSigner):
        def get_timestamp(self) -> int:
            return int(now)
    return FrozenSigner


def serializer(secret: str, purpose: str, now: float | None = None) -> URLSafeTimedSerializer:
    """The serializer for one purpose (``SALTS`` key), optionally with a frozen clock."""
    if now is None:
        return _live_serializer(secret, purpose)
    return URLSafeTimedSerializer(secret, salt=SALTS[purpose], signer=_signer_at(now))


@functools.lru_cache(maxsize=64)
def _live_serializer(secret: str, purpose: str) -> URLSafeTimedSerializer:
    # Built once per secret and purpose (confirm and unsubscribe links): building one costs
    # more than the check itself. It keeps no state between calls.
    return URLSafeTimedSerializer(secret, salt=SALTS[purpose], signer=_signer_at(None))


def sign(secret: str, purpose: str, payload, now: float | None = None) -> str:
    """A URL-safe signed token carrying ``payload`` and the time it was made."""
    return serializer(secret, purpose, now).dumps(payload)


def verify(secret: str, purpose: str, token: str, max_age: int | None,
           now: float | None = None):
    """``(payload, issued_at)``; raises ``ExpiredToken`` or ``InvalidToken``."""
    s = serializer(secret, purpose, now)
    try:
        return s.loads(token, max_age=max_age, return_timestamp=True)
    except SignatureExpired as exc:
        if exc.payload is None:
            raise InvalidToken("expired") from None
        try:
            payload = s.load_payload(exc.payload)
        except BadSignature:
            raise InvalidToken("bad payload") from None
        raise ExpiredToken(payload) from None
    except BadSignature:
        raise InvalidToken("bad signature") from None


def new_nonce() -> str:
    """A random link nonce (128 bits): what binds a link to its row, never derived from ids."""
    return secrets.token_hex(16)


def confirm_token(secret: str, confirmation_id: int, nonce: str,
                  now: float | None = None) -> str:
    """The token of a confirmation link."""
    return sign(secret, "confirm", [confirmation_id, nonce], now)


def read_confirm_token(secret: str, token: str, max_age: int,
                       now: float | None = None) -> tuple[int, str]:
    """``(confirmation id, nonce)``; ``ExpiredToken`` (carrying them) or ``InvalidToken``."""
    try:
        payload, _ = verify(secret, "confirm", token, max_age, now)
    except ExpiredToken as exc:
        raise ExpiredToken(_row_link(exc.payload)) from None
    return _row_link(payload)


def _row_link(payload) -> tuple[int, str]:
    """``[row id, nonce]`` checked for shape (links signed before nonces are refused)."""
    if (not isinstance(payload, list) or len(payload) != 2 or type(payload[0]) is not int
            or not isinstance(payload[1], str) or not payload[1]):
        raise InvalidToken("bad payload")
    return payload[0], payload[1]


def render_token(secret: str, form_id: int, now: float | None = None) -> str:
    """A signed "this form was rendered at" stamp for the minimum fill time."""
    return _render_signer(secret, now).sign(str(form_id)).decode()


def fill_seconds(secret: str, token: str, form_id: int, now: float | None = None) -> float:
    """Seconds since ``token`` was rendered for ``form_id``; ``InvalidToken`` when unusable."""
    try:
        value, issued = _render_signer(secret, now).unsign(
            token, max_age=RENDER_MAX_AGE, return_timestamp=True)
    except BadSignature:  # SignatureExpired included: a day-old page is simply reloaded
        raise InvalidToken("bad or expired stamp") from None
    if value != str(form_id).encode():
        raise InvalidToken("another form")
    current = time.time() if now is None else now
    return current - issued.timestamp()


def _render_signer(secret: str, now: float | None) -> TimestampSigner:
    # A bare timestamp signer over the form id: every submission checks one, and the
    # serializer's JSON and base64 payload layers cost more than the signature itself.
    if now is None:
        return _live_render_signer(secret)
    return _signer_at(now)(secret, salt=SALTS["rendered"])


@functools.lru_cache(maxsize=16)
def _live_render_signer(secret: str) -> TimestampSigner:
    return TimestampSigner(secret, salt=SALTS["rendered"])


def unsubscribe_token(secret: str, link_id: int, nonce: str) -> str:
    """The token of an unsubscribe link (does not expire: old mails must keep working)."""
    return sign(secret, "unsubscribe", [link_id, nonce])


@dataclass(frozen=True)
class LegacyUnsubscribe:
    """An unsubscribe token signed before links carried nonces: ``[contact id, account id]``."""

    contact_id: int
    account_id: int
    issued_at: int  # seconds since the epoch, whole (the signature's own timestamp)


def read_unsubscribe_token(secret: str, token: str) -> tuple[int, str] | LegacyUnsubscribe:
    """``(link id, nonce)``, a ``LegacyUnsubscribe``, or ``InvalidToken``."""
    payload, issued = verify(secret, "unsubscribe", token, None)
    if (isinstance(payload, list) and len(payload) == 2
            and all(type(x) is int for x in payload)):
        return LegacyUnsubscribe(payload[0], payload[1], int(issued.timestamp()))
    return _row_link(payload)
