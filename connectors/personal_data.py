"""The connectors' part of the privacy contract (``Area.erase``/``Area.retention``).

Erasure blanks the address in every delivery of the account that names it (payload, result
and error: a delivery may carry other people's records, which stay). Retention empties the
payloads and per-record details of deliveries processed more than INLET_RETENTION_DELIVERIES
days ago (counts, status and dates stay; such a delivery can no longer be replayed).
"""

from __future__ import annotations

from datetime import datetime

from connectors.models import Delivery
from gateway.personal_data import cutoff, mentions, redact, redact_json

PURGED = {"purged": "kept INLET_RETENTION_DELIVERIES days"}


def erase(account_id: int, contact_id: int, email: str) -> None:
    """Blank the address in the account's deliveries."""
    for delivery in Delivery.select().where(
            (Delivery.account == account_id)
            & (mentions(Delivery.payload, email) | mentions(Delivery.result, email)
               | mentions(Delivery.error, email))):
        Delivery.update(payload=redact_json(delivery.payload, email),
                        result=redact_json(delivery.result, email),
                        error=redact(delivery.error, email)
                        ).where(Delivery.id == delivery.id).execute()


def purge_payloads(now: datetime) -> int:
    """Empty old processed deliveries' payloads and record details; returns how many."""
    old = list(Delivery.select(Delivery.id, Delivery.result).where(
        Delivery.status.in_(("done", "dead")) & (Delivery.received_at < cutoff(now, "deliveries"))
        & (Delivery.payload != Delivery.payload.db_value(PURGED))))
    for delivery in old:
        counts = (delivery.result or {}).get("counts", {})
        Delivery.update(payload=PURGED, result={"counts": counts, **PURGED}
                        ).where(Delivery.id == delivery.id).execute()
    return len(old)
