"""The store: accounts, users, tokens, vocabularies, contacts and their consent records."""

from __future__ import annotations

import peewee as pw

from gateway.db import BaseModel, JSONField, utcnow

STATUSES = ("unconfirmed", "confirmed", "blacklisted")
VOCABULARY_KINDS = ("language", "source", "preference", "interest")
FIELD_TYPES = ("text", "number", "date", "boolean", "choice", "multiple_choice")
SCOPES = ("contacts:read", "contacts:write", "imports:write", "admin")


class Account(BaseModel):
    name = pw.CharField(max_length=200)
    created_at = pw.DateTimeField(default=utcnow)
    # Mails go from "sender_name <sender_address>" (defaults: the account's name and the
    # address of INLET_MAIL_FROM); visitors' pages link back to website_url.
    sender_name = pw.CharField(max_length=200, null=True)
    sender_address = pw.CharField(max_length=254, null=True)
    website_url = pw.CharField(max_length=2000, null=True)
    # IANA zone for "Today", dates and times in the admin (unset: the browser's on first
    # login, else Europe/Brussels).
    time_zone = pw.CharField(max_length=64, null=True)
    # Shown next to the name on visitors' pages after a form: an http(s) address, or an
    # uploaded image as a data: URI (gateway/admin/logo.py).
    logo = pw.TextField(null=True)
    # Where import reports and operational alerts (an event endpoint disabled) go; unset:
    # the account's first user.
    notification_email = pw.CharField(max_length=254, null=True)
    # The language of errors.csv (nl, fr, en); unset: the browser's.
    report_language = pw.CharField(max_length=8, null=True)


class User(BaseModel):
    account = pw.ForeignKeyField(Account, backref="users", on_delete="CASCADE")
    email = pw.CharField(max_length=254, unique=True)
    password_hash = pw.CharField(max_length=300)
    created_at = pw.DateTimeField(default=utcnow)
    # The admin's language for this user (en, nl, fr); unset: the browser's, then the
    # account's first language (gateway.admin.pages).
    language = pw.CharField(max_length=8, null=True)


class ApiToken(BaseModel):
    account = pw.ForeignKeyField(Account, backref="tokens", on_delete="CASCADE")
    name = pw.CharField(max_length=200, default="")
    prefix = pw.CharField(max_length=16)
    token_hash = pw.CharField(max_length=64, unique=True)
    scopes = JSONField(default=list)
    created_at = pw.DateTimeField(default=utcnow)
    last_used_at = pw.DateTimeField(null=True)
    revoked_at = pw.DateTimeField(null=True)


class Vocabulary(BaseModel):
    """Languages, sources, preferences and interests: one row per label, case-sensitive."""

    account = pw.ForeignKeyField(Account, backref="vocabulary", on_delete="CASCADE")
    kind = pw.CharField(max_length=16)
    name = pw.CharField(max_length=100)
    created_at = pw.DateTimeField(default=utcnow)

    class Meta:
        indexes = ((("account", "kind", "name"), True),)


class CustomField(BaseModel):
    account = pw.ForeignKeyField(Account, backref="custom_fields", on_delete="CASCADE")
    name = pw.CharField(max_length=64)
    type = pw.CharField(max_length=16)
    choices = JSONField(default=list)
    created_at = pw.DateTimeField(default=utcnow)
    # What people see (forms, admin); ``name`` is the stable key the API, imports and hooks
    # use. Null: the name is shown.
    label = pw.CharField(max_length=200, null=True)

    class Meta:
        indexes = ((("account", "name"), True),)


class Contact(BaseModel):
    account = pw.ForeignKeyField(Account, backref="contacts", on_delete="CASCADE", index=False)
    email = pw.CharField(max_length=254)
    first_name = pw.CharField(max_length=200, null=True)
    name = pw.CharField(max_length=200, null=True)
    language = pw.CharField(max_length=8)
    source = pw.CharField(max_length=100)
    status = pw.CharField(max_length=16, default="unconfirmed")
    preferences = JSONField(default=list)
    interests = JSONField(default=list)
    custom_fields = JSONField(default=dict)
    created_at = pw.DateTimeField(default=utcnow)
    updated_at = pw.DateTimeField(default=utcnow)

    class Meta:
        # Keyset pagination walks (account[, status], created_at, id): no OFFSET scans.
        indexes = (
            (("account", "email"), True),
            (("account", "created_at", "id"), False),
            (("account", "status", "created_at", "id"), False),
        )


class Consent(BaseModel):
    """How, when and by whom a contact came in (one row per inbound event that created it)."""

    account = pw.ForeignKeyField(Account, on_delete="CASCADE")
    contact = pw.ForeignKeyField(Contact, backref="consents", on_delete="CASCADE")
    channel = pw.CharField(max_length=16)  # api, import, form, connector, admin
    reference = pw.CharField(max_length=200, default="")
    actor = pw.CharField(max_length=200, default="")
    ip = pw.CharField(max_length=64, null=True)
    user_agent = pw.CharField(max_length=500, null=True)
    text = pw.TextField(null=True)
    at = pw.DateTimeField(default=utcnow)


class ContactEvent(BaseModel):
    """A contact's history: created, updated, confirmed, blacklisted…"""

    contact = pw.ForeignKeyField(Contact, backref="events", on_delete="CASCADE")
    kind = pw.CharField(max_length=32)
    channel = pw.CharField(max_length=16, default="")
    reference = pw.CharField(max_length=200, default="")
    at = pw.DateTimeField(default=utcnow)
    reason = pw.TextField(null=True)  # why, when a person gave one (a blacklisting's reason)


class EmbeddedJob(BaseModel):
    """The durable queue used when no Redis is configured (embedded default)."""

    func = pw.CharField(max_length=200)
    args = JSONField(default=list)
    job_key = pw.CharField(max_length=200, null=True, unique=True)
    attempts = pw.IntegerField(default=0)
    run_at = pw.DateTimeField(default=utcnow, index=True)
    status = pw.CharField(max_length=16, default="queued", index=True)
    last_error = pw.TextField(null=True)


MODELS = [Account, User, ApiToken, Vocabulary, CustomField, Contact, Consent, ContactEvent,
              EmbeddedJob]


class OutgoingMail(BaseModel):
    """A mail to send; the row makes sending retryable and never doubled."""

    account = pw.ForeignKeyField(Account, null=True, on_delete="CASCADE")
    to = pw.CharField(max_length=254)
    subject = pw.CharField(max_length=300)
    text = pw.TextField()
    html = pw.TextField(null=True)
    headers = JSONField(default=dict)
    purpose = pw.CharField(max_length=32, default="")
    status = pw.CharField(max_length=16, default="queued", index=True)
    created_at = pw.DateTimeField(default=utcnow)
    sent_at = pw.DateTimeField(null=True)
    claimed_at = pw.DateTimeField(null=True)
    requeued_at = pw.DateTimeField(null=True)
    attempts = pw.IntegerField(default=0)


MODELS.append(OutgoingMail)


class AdminSession(BaseModel):
    """A logged-in admin UI session; the cookie holds its random id, this row its SHA-256."""

    user = pw.ForeignKeyField(User, backref="sessions", on_delete="CASCADE")
    id_hash = pw.CharField(max_length=64, unique=True)
    # The password it was opened with (a digest): any change of the hash ends the session.
    password_stamp = pw.CharField(max_length=64)
    created_at = pw.DateTimeField(default=utcnow)
    last_seen_at = pw.DateTimeField(default=utcnow)
    revoked_at = pw.DateTimeField(null=True)


MODELS.append(AdminSession)


class IdempotencyKey(BaseModel):
    """The first answer to a request sent with an ``Idempotency-Key`` (kept 24 hours).

    The row is inserted before the work runs (``status`` null: in progress), so a concurrent
    duplicate finds it and is refused instead of doing the work a second time.
    """

    account = pw.ForeignKeyField(Account, on_delete="CASCADE", index=False)
    key = pw.CharField(max_length=255)
    request = pw.CharField(max_length=300)  # "POST /api/contacts", for people reading the row
    fingerprint = pw.CharField(max_length=64)  # SHA-256 of method, path and body
    status = pw.IntegerField(null=True)
    response = JSONField(null=True)  # {"body": text, "headers": {...}}
    created_at = pw.DateTimeField(default=utcnow, index=True)

    class Meta:
        indexes = ((("account", "key"), True),)


MODELS.append(IdempotencyKey)
