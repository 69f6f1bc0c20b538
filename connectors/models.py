"""Connector tables: hooks, their deliveries, and the Efficy key → contact links."""

from __future__ import annotations

import peewee as pw

from gateway.db import BaseModel, JSONField, utcnow
from gateway.models import Account, Contact

KINDS = ("generic", "efficy")
AUTH_MODES = ("standard-webhooks", "bearer")
HOOK_STATUSES = ("confirmed", "unconfirmed")
DELETE_ACTIONS = ("ignore", "blacklist")
# queued: accepted, not yet processed · done: every record written · retrying: failed,
# a retry is scheduled · dead: failed for good (dead letters; replayable).
DELIVERY_STATUSES = ("queued", "done", "retrying", "dead")
MAX_EFFICY_KEY = 64  # characters of an Efficy record key (longer ones fail that record)


class Hook(BaseModel):
    """An inbound webhook endpoint of an account.

    Secrets are never stored: each one is derived from the server secret key and a random
    salt (``secret_salt``), so the database alone reveals nothing. During a rotation the
    previous salt stays valid until ``previous_expires_at``.
    """

    account = pw.ForeignKeyField(Account, backref="hooks", on_delete="CASCADE")
    kind = pw.CharField(max_length=16, default="generic")
    name = pw.CharField(max_length=200)
    auth = pw.CharField(max_length=32, default="standard-webhooks")
    secret_salt = pw.CharField(max_length=64)
    previous_salt = pw.CharField(max_length=64, null=True)
    previous_expires_at = pw.DateTimeField(null=True)
    mapping = JSONField(default=dict)
    language_map = JSONField(default=dict)
    source = pw.CharField(max_length=100, null=True)
    language = pw.CharField(max_length=8, null=True)
    consent_text = pw.TextField(null=True)
    contact_status = pw.CharField(max_length=16, default="confirmed")
    form_id = pw.IntegerField(null=True)  # the form whose opt-in mail unconfirmed contacts get
    on_delete = pw.CharField(max_length=16, default="ignore")
    id_path = pw.CharField(max_length=200, null=True)  # body path deduplicating like webhook-id
    enabled = pw.BooleanField(default=True)
    created_at = pw.DateTimeField(default=utcnow)
    updated_at = pw.DateTimeField(default=utcnow)


class Delivery(BaseModel):
    """One accepted request to a hook, kept for the delivery log, retries and replay."""

    id = pw.CharField(max_length=40, primary_key=True)
    hook = pw.ForeignKeyField(Hook, backref="deliveries", on_delete="CASCADE", index=False)
    account = pw.ForeignKeyField(Account, on_delete="CASCADE")
    webhook_id = pw.CharField(max_length=200, null=True)
    status = pw.CharField(max_length=16, default="queued")
    attempts = pw.IntegerField(default=0)
    replays = pw.IntegerField(default=0)
    payload = JSONField()
    result = JSONField(default=dict)
    error = pw.TextField(null=True)
    received_at = pw.DateTimeField(default=utcnow)
    updated_at = pw.DateTimeField(default=utcnow)
    processed_at = pw.DateTimeField(null=True)

    class Meta:
        indexes = (
            (("hook", "received_at"), False),
            (("hook", "status", "received_at"), False),
            (("status", "updated_at"), False),  # the sweep for replays whose job was lost
        )


class EfficyKey(BaseModel):
    """Which contact an Efficy record key stands for, per hook (Updates may lack the e-mail)."""

    hook = pw.ForeignKeyField(Hook, on_delete="CASCADE", index=False)
    efficy_key = pw.CharField(max_length=MAX_EFFICY_KEY)
    contact = pw.ForeignKeyField(Contact, on_delete="CASCADE")
    updated_at = pw.DateTimeField(default=utcnow)

    class Meta:
        indexes = ((("hook", "efficy_key"), True),)


class Refusal(BaseModel):
    """A request a hook refused (401, 413, 415, 400...): when, why and from where; no body.

    Kept so a wrong secret is debugged from the admin; ``connectors.refusals`` keeps at most
    ``refusals.KEEP`` per hook.
    """

    hook = pw.ForeignKeyField(Hook, on_delete="CASCADE", index=False)
    status = pw.IntegerField()
    reason = pw.CharField(max_length=300)
    ip = pw.CharField(max_length=64)
    received_at = pw.DateTimeField(default=utcnow)

    class Meta:
        indexes = ((("hook", "received_at"), False),)


MODELS = [Hook, Delivery, EfficyKey, Refusal]
