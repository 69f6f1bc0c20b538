"""Accounts (tenants) and their vocabularies: languages, sources, labels, custom fields."""

from __future__ import annotations

import re
from email.utils import formataddr, parseaddr
from urllib.parse import urlsplit

import peewee

from gateway import runtime
from gateway.db import db
from gateway.errors import Conflict, NotFound, ValidationFailed
from gateway.models import FIELD_TYPES, VOCABULARY_KINDS, Account, CustomField, Vocabulary
from gateway.validation import single_line

LABEL_MAX = Vocabulary.name.max_length  # sources, languages, preferences, interests, choices
_LANGUAGE = re.compile(r"^[a-z]{2}$")
_FIELD_NAME = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
_ADDRESS = re.compile(r"^[^@\s<>\",;]{1,64}@[^@\s<>\",;]{1,189}$")
_LOCAL_HOSTS = ("localhost", "127.0.0.1", "::1", "0.0.0.0")  # noqa: S104 (names, no bind)
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
    """Add a label; 422 on a bad name, 409 when it exists or one differing only in case
    does (naming that one)."""
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
    twin = next((v.name for v in list_vocabulary(account_id, kind)
                 if v.name != name and v.name.casefold() == name.casefold()), None)
    if twin is not None:  # "website" beside "Website" is what imports then trip over
        raise Conflict(f"The {kind} {twin!r} exists already; {name!r} differs from it only "
                       f"in upper and lower case. Use {twin!r}.",
                       details=[{"field": "name", "code": "case_duplicate", "value": name,
                                 "existing": twin}])
    try:
        with db.atomic():
            return Vocabulary.create(account=account_id, kind=kind, name=name)
    except peewee.IntegrityError:
        raise Conflict(f"The {kind} {name!r} exists already.") from None


def delete_vocabulary(account_id: int, kind: str, entry_id) -> None:
    """Remove a label of this account (contacts keep what they have); 409 naming every form
    and enabled hook that uses it (removing it would make them refuse their visitors)."""
    row = Vocabulary.get_or_none((Vocabulary.id == _int(entry_id))
                                 & (Vocabulary.account == account_id)
                                 & (Vocabulary.kind == kind))
    if row is None:
        raise NotFound(f"No such {kind}.")
    users = label_users(account_id, kind, row.name)
    if users:
        names = ", ".join(f"{u['type']} {u['name']!r}" for u in users)
        raise Conflict(f"The {kind} {row.name!r} is used by {names}. Change "
                       f"{'it' if len(users) == 1 else 'them'} first, then remove it.",
                       details=[{"field": "name", "code": "in_use", "value": row.name,
                                 "used_by": users}])
    row.delete_instance()


def label_users(account_id: int, kind: str, name: str) -> list[dict]:
    """The forms and enabled hooks of the account that use label ``name`` of ``kind``."""
    from connectors.models import Hook
    from forms.models import Form
    users = [{"type": "form", "id": f.id, "name": f.name}
             for f in Form.select().where(Form.account == account_id).order_by(Form.id)
             if _form_uses(f, kind, name)]
    users += [{"type": "hook", "id": h.id, "name": h.name}
              for h in Hook.select().where((Hook.account == account_id) & Hook.enabled)
              .order_by(Hook.id) if _hook_uses(h, kind, name)]
    return users


def label_usage(account_id: int) -> dict[tuple[str, str], list[str]]:
    """``{(kind, label): ["form 'Newsletter'", "hook 'CRM'"]}`` for every label in use."""
    from connectors.models import Hook
    from forms.models import Form
    users = [("form", f, _form_uses) for f in Form.select().where(Form.account == account_id)]
    users += [("hook", h, _hook_uses) for h in Hook.select().where(
        (Hook.account == account_id) & Hook.enabled)]
    usage: dict[tuple[str, str], list[str]] = {}
    for row in Vocabulary.select().where(Vocabulary.account == account_id):
        for what, user, uses in users:
            if uses(user, row.kind, row.name):
                usage.setdefault((row.kind, row.name), []).append(f"{what} {user.name!r}")
    return usage


def _form_uses(form, kind: str, name: str) -> bool:
    if kind == "source":
        return form.source == name
    if kind == "language":
        return name in (form.languages or ())
    return name in ((form.preferences if kind == "preference" else form.interests) or ())


def _hook_uses(hook, kind: str, name: str) -> bool:
    if kind == "source" and hook.source == name:
        return True
    if kind == "language" and (hook.language == name
                               or name in (hook.language_map or {}).values()):
        return True
    target = {"source": "source", "language": "language", "preference": "preferences",
              "interest": "interests"}[kind]
    rule = (hook.mapping or {}).get(target)
    if not isinstance(rule, dict):
        return False
    constant = rule.get("value")
    mapped = rule.get("map") if isinstance(rule.get("map"), dict) else {}
    values = [*(constant if isinstance(constant, list) else [constant]), *mapped.values()]
    return name in values


def default_sender_address() -> str:
    """The address mails go from unless an account sets its own: INLET_MAIL_FROM's, or
    ``no-reply@`` the public host when that setting still names localhost."""
    settings = runtime.settings()
    address = parseaddr(settings.mail_from)[1] or "no-reply@localhost"
    host = urlsplit(settings.base_url).hostname or ""
    if address.endswith("@localhost") and host and host not in _LOCAL_HOSTS:
        return f"no-reply@{host}"
    return address


def sender_of(account: Account) -> str:
    """The From header of the account's mails: ``"Name <address>"``."""
    return formataddr((account.sender_name or account.name,
                       account.sender_address or default_sender_address()))


def update_profile(account_id: int, data: dict) -> Account:
    """Set the account's mail sender (name, address) and website; blank means the default."""
    account = Account.get_by_id(account_id)
    values, details = {}, []
    for key, limit, check, hint in (
            ("sender_name", 200, None, "A name of at most 200 characters on one line."),
            ("sender_address", 254, _ADDRESS.match, "An e-mail address such as "
             "news@example.com."),
            ("website_url", 2000, _is_site_url, "A web address such as "
             "https://www.example.com.")):
        value = single_line(str(data.get(key) or "")).strip()
        if value and (len(value) > limit or (check and not check(value))):
            details.append({"field": key, "code": "invalid", "value": value, "message": hint})
        values[key] = value or None
    if details:
        raise ValidationFailed(details=details)
    Account.update(**values).where(Account.id == account_id).execute()
    for key, value in values.items():
        setattr(account, key, value)
    return account


def _is_site_url(value: str) -> bool:
    parts = urlsplit(value)
    return parts.scheme in ("http", "https") and bool(parts.hostname) and " " not in value


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
                        "message": _field_name_problem(name)})
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


def _field_name_problem(name) -> str:
    """Why ``name`` cannot name a custom field, in words."""
    shown = repr(name) if isinstance(name, str) and name else "An empty name"
    if isinstance(name, str) and name in RESERVED_FIELDS:
        return f"{shown} is a built-in field of every contact: choose another name."
    return (f"{shown} cannot be a field name: start with a lower-case letter and use only "
            "lower-case letters, digits and _ (no spaces or capitals), such as shoe_size.")


def delete_custom_field(account_id: int, field_id) -> None:
    """Remove a custom field definition; 409 naming the forms that show it."""
    from forms.models import Form
    row = CustomField.get_or_none((CustomField.id == _int(field_id))
                                  & (CustomField.account == account_id))
    if row is None:
        raise NotFound("No such custom field.")
    users = [{"type": "form", "id": f.id, "name": f.name}
             for f in Form.select().where(Form.account == account_id).order_by(Form.id)
             if row.name in (f.fields or ())]
    if users:
        names = ", ".join(f"form {u['name']!r}" for u in users)
        raise Conflict(f"The custom field {row.name!r} is shown by {names}. Take it off "
                       "the form first, then remove it.",
                       details=[{"field": "name", "code": "in_use", "value": row.name,
                                 "used_by": users}])
    row.delete_instance()


def _int(value) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        raise NotFound() from None
