"""Form definitions, their submissions and the links (confirm, unsubscribe) sent for them.

Every link row carries a random ``nonce`` that its signed token repeats: a link acts on its
own row only, and dies with it (a deleted contact's links die with the contact).
"""

from __future__ import annotations

import peewee as pw

from forms.tokens import new_nonce
from gateway.db import BaseModel, JSONField, utcnow
from gateway.models import Account, Contact, OutgoingMail


class Form(BaseModel):
    """An account's opt-in form; the public paths use ``slug``."""

    account = pw.ForeignKeyField(Account, backref="forms", on_delete="CASCADE")
    name = pw.CharField(max_length=200)
    slug = pw.CharField(max_length=64, unique=True)
    source = pw.CharField(max_length=100)
    # Shown besides email: first_name, name, language, preferences, interests, custom fields.
    fields = JSONField(default=list)
    preferences = JSONField(default=list)  # the labels offered, in order (empty: none)
    interests = JSONField(default=list)
    # {label: {lang: text}}: what a visitor reads for a label; the contact keeps the label.
    label_texts = JSONField(default=dict)
    languages = JSONField(default=list)  # languages the form speaks, first is the default
    texts = JSONField(default=dict)  # {lang: {key: text}} overrides of forms.texts.DEFAULTS
    mails = JSONField(default=dict)  # {"confirm"|"welcome": {lang: {"subject", "body"}}}
    double_opt_in = pw.BooleanField(default=True)
    welcome = pw.BooleanField(default=False)
    redirect_urls = JSONField(default=list)  # exact-match allow-list for ?redirect=
    after_submit_url = pw.CharField(max_length=2000, null=True)
    after_confirm_url = pw.CharField(max_length=2000, null=True)
    allowed_origins = JSONField(default=list)
    min_fill_seconds = pw.IntegerField(default=2)
    created_at = pw.DateTimeField(default=utcnow)
    updated_at = pw.DateTimeField(default=utcnow)


class Submission(BaseModel):
    """One accepted submission, written by its job: makes the job idempotent."""

    id = pw.CharField(max_length=36, primary_key=True)
    form = pw.ForeignKeyField(Form, backref="submissions", on_delete="CASCADE")
    contact = pw.ForeignKeyField(Contact, null=True, on_delete="CASCADE")
    outcome = pw.CharField(max_length=16)
    mail_sent = pw.BooleanField(default=False)
    created_at = pw.DateTimeField(default=utcnow)


class Confirmation(BaseModel):
    """A confirmation link sent to a contact; the proof of double opt-in once used."""

    form = pw.ForeignKeyField(Form, backref="confirmations", on_delete="CASCADE")
    contact = pw.ForeignKeyField(Contact, backref="confirmations", on_delete="CASCADE")
    nonce = pw.CharField(max_length=32, default=new_nonce)
    language = pw.CharField(max_length=8)
    mail = pw.ForeignKeyField(OutgoingMail, null=True, on_delete="SET NULL")
    created_at = pw.DateTimeField(default=utcnow)
    used_at = pw.DateTimeField(null=True)
    used_ip = pw.CharField(max_length=64, null=True)
    used_user_agent = pw.CharField(max_length=500, null=True)
    confirmed = pw.BooleanField(default=False)  # this link moved the contact to confirmed
    welcome_sent = pw.BooleanField(default=False)

    class Meta:
        indexes = ((("contact", "created_at"), False),)


class UnsubscribeLink(BaseModel):
    """The unsubscribe link of one welcome mail: its token names this row and its nonce."""

    contact = pw.ForeignKeyField(Contact, backref="unsubscribe_links", on_delete="CASCADE")
    form = pw.ForeignKeyField(Form, null=True, on_delete="SET NULL")
    nonce = pw.CharField(max_length=32, default=new_nonce)
    created_at = pw.DateTimeField(default=utcnow)
    used_at = pw.DateTimeField(null=True)


class RefusedOrigin(BaseModel):
    """A site that tried to use a form without being in its allowed origins (the last few)."""

    form = pw.ForeignKeyField(Form, backref="refused_origins", on_delete="CASCADE")
    origin = pw.CharField(max_length=200)
    attempts = pw.IntegerField(default=1)
    first_seen = pw.DateTimeField(default=utcnow)
    last_seen = pw.DateTimeField(default=utcnow)

    class Meta:
        indexes = ((("form", "origin"), True),)


MODELS = [Form, Submission, Confirmation, UnsubscribeLink, RefusedOrigin]
