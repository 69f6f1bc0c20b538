"""Suppression: an erased address that was blacklisted or unsubscribed stays refused.

Only a keyed hash is kept (HMAC-SHA256 under INLET_SECRET_KEY, per account), so the table
reveals no address; a new record is refused when its address hashes to a kept entry. The
store path (``gateway.contacts``) and the import's validation call ``check``/``suppressed``.
"""

from __future__ import annotations

import hashlib
import hmac

from gateway import runtime
from gateway.errors import InletError
from gateway.i18n import N_
from privacy.models import Suppression

_BATCH = 900  # stays under SQLite's bound-variable limit


class Suppressed(InletError):
    """422: the address was erased and may not come back; the answer does not repeat it."""

    status = 422
    code = "suppressed"
    message = N_("This address was erased at the person's request and is suppressed: it "
                 "cannot be added again.")


def digest(account_id: int, email: str) -> str:
    """The keyed hash of an account's address (normalised: trimmed, lower-case)."""
    key = runtime.settings().secret_key.encode()
    message = f"{account_id}:{email.strip().lower()}".encode()
    return hmac.new(key, message, hashlib.sha256).hexdigest()


def suppressed(account_id: int, emails: list[str]) -> set[str]:
    """Which of ``emails`` are suppressed for the account (one lookup per 900)."""
    by_digest = {digest(account_id, email): email for email in emails if email}
    if not by_digest:
        return set()
    found: set[str] = set()
    keys = list(by_digest)
    for start in range(0, len(keys), _BATCH):
        batch = keys[start:start + _BATCH]
        found.update(by_digest[row.digest] for row in Suppression.select(Suppression.digest)
                     .where((Suppression.account == account_id)
                            & Suppression.digest.in_(batch)))
    return found


def check(account_id: int, email: str) -> None:
    """Raise ``Suppressed`` when the address may not come back."""
    if email and suppressed(account_id, [email]):
        raise Suppressed()


def add(account_id: int, email: str, reason: str) -> None:
    """Keep the address's hash (idempotent)."""
    (Suppression.insert(account=account_id, digest=digest(account_id, email), reason=reason)
     .on_conflict_ignore().execute())
