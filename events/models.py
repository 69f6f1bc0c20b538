"""Outbound event tables: endpoints, the events (the outbox), deliveries and their attempts."""

from __future__ import annotations

import peewee as pw

from gateway.db import BaseModel, JSONField, utcnow
from gateway.models import Account

CONTACT_TYPES = ("contact.created", "contact.updated", "contact.confirmed",
                 "contact.unsubscribed", "contact.blacklisted", "contact.deleted")
TYPES = (*CONTACT_TYPES, "import.finished")
TEST_TYPE = "endpoint.test"  # sent by "send test event" only; no endpoint subscribes to it
# pending: due at next_at (a claimed one is leased: next_at moved forward while it is sent)
# · delivered · dead: failed for more than a day of retries, or refused (replayable).
DELIVERY_STATUSES = ("pending", "delivered", "dead")


class EventEndpoint(BaseModel):
    """Where an account wants its events POSTed, and which ones.

    The secret is never stored: it is derived from the server secret key and ``secret_salt``
    (as hooks' are). During a rotation the previous salt keeps signing until
    ``previous_expires_at``.
    """

    account = pw.ForeignKeyField(Account, backref="event_endpoints", on_delete="CASCADE")
    url = pw.CharField(max_length=2000)
    events = JSONField(default=list)
    description = pw.CharField(max_length=500, default="")
    enabled = pw.BooleanField(default=True)
    batch = pw.BooleanField(default=False)  # up to 100 events per POST, a JSON array
    secret_salt = pw.CharField(max_length=64)
    previous_salt = pw.CharField(max_length=64, null=True)
    previous_expires_at = pw.DateTimeField(null=True)
    failing_since = pw.DateTimeField(null=True)  # first failure since the last success
    # Unreachable: none of its deliveries is claimed before this (one row held, not each
    # pending delivery moved: an import's 100,000 would be rewritten at every failed wave).
    held_until = pw.DateTimeField(null=True)
    disabled_reason = pw.CharField(max_length=300, null=True)
    created_at = pw.DateTimeField(default=utcnow)
    updated_at = pw.DateTimeField(default=utcnow)


class Event(BaseModel):
    """One thing that happened, written in the transaction of the change it describes."""

    account = pw.ForeignKeyField(Account, on_delete="CASCADE", index=False)
    type = pw.CharField(max_length=40)
    contact_id = pw.IntegerField(null=True)  # no foreign key: contact.deleted outlives it
    data = pw.TextField()  # JSON, written by SQL from the contact row (see events.emit)
    created_at = pw.DateTimeField(default=utcnow)

    class Meta:
        # No index on created_at: the 30-day purge walks the oldest events by id.
        indexes = ((("account", "id"), False), (("account", "type", "id"), False))


class EventDelivery(BaseModel):
    """One event owed to one endpoint."""

    # On PostgreSQL without its constraint (schema version 22): each row is written with its
    # event, and the constraint's per-row check was a fifth of the database CPU an import
    # spends on its events. Events are deleted by the purge (their deliveries first) or with
    # their account (whose endpoints take the deliveries along).
    event = pw.ForeignKeyField(Event, on_delete="CASCADE", index=False)
    endpoint = pw.ForeignKeyField(EventEndpoint, on_delete="CASCADE", index=False)
    status = pw.CharField(max_length=16, default="pending")
    attempts = pw.IntegerField(default=0)
    next_at = pw.DateTimeField(default=utcnow)
    last_error = pw.CharField(max_length=300, null=True)
    updated_at = pw.DateTimeField(default=utcnow)
    delivered_at = pw.DateTimeField(null=True)

    class Meta:
        # unique: a fan-out done twice (overlapping ranges, see EventFanout) adds nothing
        indexes = ((("event", "endpoint"), True), (("status", "next_at"), False),
                   (("endpoint", "status", "id"), False))


class EventFanout(BaseModel):
    """Events whose delivery rows a worker writes (``events.jobs.fan_out``): one row per
    statement that wrote contact events, so an import's 100,000 events cost it one row here
    instead of 100,000 deliveries.

    It names the statement's events as the ids ``first_event``..``last_event`` of its account
    and type. On PostgreSQL another transaction's events of that account and type may fall
    in the range too; fanning them out twice is harmless (deliveries are unique per event and
    endpoint), and uncommitted ones are not seen (their own row covers them).
    """

    account = pw.ForeignKeyField(Account, on_delete="CASCADE", index=False)
    type = pw.CharField(max_length=40)
    first_event = pw.IntegerField()
    last_event = pw.IntegerField()
    endpoints = JSONField(default=list)  # ids of the endpoints that wanted them, when written
    created_at = pw.DateTimeField(default=utcnow)


class EventAttempt(BaseModel):
    """One POST to an endpoint: its answer, how long it took, the start of the response."""

    endpoint = pw.ForeignKeyField(EventEndpoint, on_delete="CASCADE", index=False)
    delivery = pw.ForeignKeyField(EventDelivery, on_delete="CASCADE", null=True)
    events = pw.IntegerField(default=1)  # events in the POST (batched endpoints send many)
    status_code = pw.IntegerField(null=True)  # None: no answer (refused, timeout, ...)
    latency_ms = pw.IntegerField(default=0)
    response = pw.CharField(max_length=1024, default="")
    error = pw.CharField(max_length=300, null=True)
    at = pw.DateTimeField(default=utcnow)

    class Meta:
        indexes = ((("endpoint", "at"), False),)


MODELS = [EventEndpoint, Event, EventDelivery, EventAttempt, EventFanout]
