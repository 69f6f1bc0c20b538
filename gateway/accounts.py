"""Accounts (tenants) and their vocabularies: languages, sources, labels, custom fields."""

from __future__ import annotations

import re

import peewee

from gateway.db import db
from gateway.errors import Conflict, NotFound, ValidationFailed
from gateway.models import FIELD_TYPES, VOCABULARY_KINDS, Account, CustomField, Vocabulary
from gateway.validation import single_line

LABEL_MAX = Vocabulary.name.max_length  # sources, languages, preferences, interests, choices
_LANGUAGE = re.compile(r"^[a-z]{2}$")
_FIELD_NAME = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
RESERVED_FIELDS = frozenset({"email", "first_name", "name", "language", "source", "status",
                             "preferences", "interests", "custom_fields", "id", "created_at",
                             "updated_at"})


def create_account(name: str, languages=("nl", "fr", "en")) -> Account:
    """A new tenant with its default languages."""
    with db.atomic():
        account = Account.create(name=name)
        for code in languages:
            Vocabulary.create(account=account, kind="language", name=code)
    return account


def vocabulary_to_dict(row: Vocabulary) -> dict:
    return {"id": row.id, "name": row.name}


def custom_field_to_dict(row: CustomField) -> dict:
    return {"id": row.id, "name": row.name, "type": row.type, "choices": row.choices or []}


def list_vocabulary(account_id: int, kind: str) -> list[Vocabulary]:
    """The account's labels of one kind, oldest first."""
    return list(Vocabulary.select().where((Vocabulary.account == account_id)
                                          & (Vocabulary.kind == kind)).order_by(Vocabulary.id))


def add_vocabulary(account_id: int, kind: str, name) -> Vocabulary:
    """Add a label; 422 on a bad name, 409 when it exists (case-sensitively)."""
    assert kind in VOCABULARY_KINDS
    if isinstance(name, str):
        name = single_line(name)  # a label is one line, as every contact will carry it
    if not isinstance(name, str) or not name or len(name) > LABEL_MAX:
        raise ValidationFailed(f"A name of 1 to {LABEL_MAX} characters is required.",
                               details=[{"field": "name", "code": "invalid",
                                         "value": name if isinstance(name, str) else None}])
    if kind == "language":
        name = name.lower()
        if not _LANGUAGE.match(name):
            raise ValidationFailed("A language is a two-letter ISO 639-1 code, such as 'de'.",
                                   details=[{"field": "name", "code": "invalid_language",
                                             "value": name}])
    try:
        with db.atomic():
            return Vocabulary.create(account=account_id, kind=kind, name=name)
    except peewee.IntegrityError:
        raise Conflict(f"The {kind} {name!r} exists already.") from None


def delete_vocabulary(account_id: int, kind: str, entry_id) -> None:
    """Remove a label of this account (contacts keep what they have)."""
    deleted = Vocabulary.delete().where((Vocabulary.id == _int(entry_id))
                                        & (Vocabulary.account == account_id)
                                        & (Vocabulary.kind == kind)).execute()
    if not deleted:
        raise NotFound(f"No such {kind}.")


def list_custom_fields(account_id: int) -> list[CustomField]:
    """The account's custom fields."""
    return list(CustomField.select().where(CustomField.account == account_id)
                .order_by(CustomField.id))


def add_custom_field(account_id: int, data: dict) -> CustomField:
    """Define a typed custom field."""
    name, ftype, choices = data.get("name"), data.get("type"), data.get("choices") or []
    details = []
    if not isinstance(name, str) or not _FIELD_NAME.match(name) or name in RESERVED_FIELDS:
        details.append({"field": "name", "code": "invalid", "value": name,
                        "message": "Use lower-case letters, digits and _, not a built-in "
                                   "field name."})
    if ftype not in FIELD_TYPES:
        details.append({"field": "type", "code": "invalid", "value": ftype,
                        "message": f"type must be one of {', '.join(FIELD_TYPES)}."})
    needs_choices = ftype in ("choice", "multiple_choice")
    if needs_choices and isinstance(choices, list):
        choices = [single_line(c) if isinstance(c, str) else c for c in choices]
    if needs_choices and (not isinstance(choices, list) or not 0 < len(choices) <= 500
                          or not all(isinstance(c, str) and 0 < len(c) <= LABEL_MAX
                                     for c in choices)):
        details.append({"field": "choices", "code": "invalid",
                        "message": f"A choice field needs a list of 1 to 500 choices of 1 to "
                                   f"{LABEL_MAX} characters each."})
    if details:
        raise ValidationFailed(details=details)
    try:
        with db.atomic():
            return CustomField.create(account=account_id, name=name, type=ftype,
                                      choices=choices if needs_choices else [])
    except peewee.IntegrityError:
        raise Conflict(f"The custom field {name!r} exists already.") from None


def delete_custom_field(account_id: int, field_id) -> None:
    """Remove a custom field definition."""
    deleted = CustomField.delete().where((CustomField.id == _int(field_id))
                                         & (CustomField.account == account_id)).execute()
    if not deleted:
        raise NotFound("No such custom field.")


def _int(value) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        raise NotFound() from None
