"""The privacy tables: suppression entries (keyed hashes, never an address) and erasures."""

from __future__ import annotations

import peewee as pw

from gateway.db import BaseModel, utcnow
from gateway.models import Account


class Suppression(BaseModel):
    """An erased address that must stay refused: HMAC-SHA256 of the address under the
    server's secret key (``privacy.suppression.digest``); the address itself is not kept."""

    account = pw.ForeignKeyField(Account, on_delete="CASCADE", index=False)
    digest = pw.CharField(max_length=64)
    reason = pw.CharField(max_length=16)  # what the person was: blacklisted | unsubscribed
    created_at = pw.DateTimeField(default=utcnow)

    class Meta:
        indexes = ((("account", "digest"), True),)


class Erasure(BaseModel):
    """One erasure request: queued until the job removed the person everywhere (a rerun of
    a done one does nothing). Keeps the contact id only, never the address."""

    account = pw.ForeignKeyField(Account, on_delete="CASCADE", index=False)
    contact_id = pw.IntegerField()
    status = pw.CharField(max_length=16, default="queued")  # queued | done
    requested_by = pw.CharField(max_length=200, default="")
    requested_at = pw.DateTimeField(default=utcnow)
    done_at = pw.DateTimeField(null=True)
    suppressed = pw.BooleanField(default=False)

    class Meta:
        indexes = ((("account", "contact_id"), True), (("status", "requested_at"), False))


MODELS = [Suppression, Erasure]
