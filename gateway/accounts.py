"""Accounts (tenants) and their vocabularies: languages, sources, labels, custom fields."""

from __future__ import annotations

import json
import re
from email.utils import formataddr, parseaddr
from urllib.parse import urlsplit

import peewee

from gateway import i18n, runtime
from gateway.db import db, is_sqlite
from gateway.errors import Conflict, NotFound, ValidationFailed
from gateway.i18n import N_, _
from gateway.models import (
    FIELD_TYPES,
    VOCABULARY_KINDS,
    Account,
    Contact,
    CustomField,
    User,
    Vocabulary,
)
from gateway.validation import single_line

LABEL_MAX = Vocabulary.name.max_length  # sources, languages, preferences, interests, choices
FIELD_LABEL_MAX = CustomField.label.max_length
# What the API says about a label, one text per kind (each language names a kind its own way).
_LABEL_TEXTS = {
    "language": {
        "twin": N_("The language '%(twin)s' exists already; '%(name)s' differs from it only in "
                   "upper and lower case. Use '%(twin)s'."),
        "exists": N_("The language '%(name)s' exists already."),
        "used_1": N_("The language '%(name)s' is used by %(users)s. Change it first, then "
                     "remove it."),
        "used_n": N_("The language '%(name)s' is used by %(users)s. Change them first, then "
                     "remove it."),
        "missing": N_("No such language.")},
    "source": {
        "twin": N_("The source '%(twin)s' exists already; '%(name)s' differs from it only in "
                   "upper and lower case. Use '%(twin)s'."),
        "exists": N_("The source '%(name)s' exists already."),
        "used_1": N_("The source '%(name)s' is used by %(users)s. Change it first, then "
                     "remove it."),
        "used_n": N_("The source '%(name)s' is used by %(users)s. Change them first, then "
                     "remove it."),
        "missing": N_("No such source.")},
    "preference": {
        "twin": N_("The preference '%(twin)s' exists already; '%(name)s' differs from it only "
                   "in upper and lower case. Use '%(twin)s'."),
        "exists": N_("The preference '%(name)s' exists already."),
        "used_1": N_("The preference '%(name)s' is used by %(users)s. Change it first, then "
                     "remove it."),
        "used_n": N_("The preference '%(name)s' is used by %(users)s. Change them first, then "
                     "remove it."),
        "missing": N_("No such preference.")},
    "interest": {
        "twin": N_("The interest '%(twin)s' exists already; '%(name)s' differs from it only "
                   "in upper and lower case. Use '%(twin)s'."),
        "exists": N_("The interest '%(name)s' exists already."),
        "used_1": N_("The interest '%(name)s' is used by %(users)s. Change it first, then "
                     "remove it."),
        "used_n": N_("The interest '%(name)s' is used by %(users)s. Change them first, then "
                     "remove it."),
        "missing": N_("No such interest.")},
}
_USER_KINDS = {"form": N_("form '%(name)s'"), "hook": N_("hook '%(name)s'")}


def _users_text(users: list[dict]) -> str:
    """"form 'Newsletter', hook 'Shop'" in the task's language."""
    return ", ".join(_(_USER_KINDS[u["type"]]) % {"name": u["name"]} for u in users)
CUSTOM_TARGET = "custom_fields."  # a hook mapping's target for a custom field (connectors)
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


def first_language(account_id: int) -> str | None:
    """The account's first language (the one it lists first), or None without any."""
    row = (Vocabulary.select(Vocabulary.name)
           .where((Vocabulary.account == account_id) & (Vocabulary.kind == "language"))
           .order_by(Vocabulary.id).first())
    return row.name if row else None


def vocabulary_to_dict(row: Vocabulary) -> dict:
    return {"id": row.id, "name": row.name}


def custom_field_to_dict(row: CustomField) -> dict:
    return {"id": row.id, "name": row.name, "label": field_label(row), "type": row.type,
            "choices": row.choices or []}


def field_label(row: CustomField) -> str:
    """What people see for a custom field: its display label, else its name."""
    return row.label or row.name


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
        raise ValidationFailed(_("A name of 1 to %(max)s characters is required.")
                               % {"max": LABEL_MAX},
                               details=[{"field": "name", "code": "invalid",
                                         "value": name if isinstance(name, str) else None}])
    if kind == "language":
        name = name.lower()
        if not _LANGUAGE.match(name):
            raise ValidationFailed(_("A language is a two-letter ISO 639-1 code, such as "
                                     "'de'."),
                                   details=[{"field": "name", "code": "invalid_language",
                                             "value": name}])
    twin = next((v.name for v in list_vocabulary(account_id, kind)
                 if v.name != name and v.name.casefold() == name.casefold()), None)
    if twin is not None:  # "website" beside "Website" is what imports then trip over
        raise Conflict(_(_LABEL_TEXTS[kind]["twin"]) % {"twin": twin, "name": name},
                       details=[{"field": "name", "code": "case_duplicate", "value": name,
                                 "existing": twin}])
    try:
        with db.atomic():
            return Vocabulary.create(account=account_id, kind=kind, name=name)
    except peewee.IntegrityError:
        raise Conflict(_(_LABEL_TEXTS[kind]["exists"]) % {"name": name}) from None


def delete_vocabulary(account_id: int, kind: str, entry_id) -> None:
    """Remove a label of this account (contacts keep what they have); 409 naming every form
    and enabled hook that uses it (removing it would make them refuse their visitors)."""
    row = _own_label(account_id, kind, entry_id)
    users = label_users(account_id, kind, row.name)
    if users:
        text = _LABEL_TEXTS[kind]["used_1" if len(users) == 1 else "used_n"]
        raise Conflict(_(text) % {"name": row.name, "users": _users_text(users)},
                       details=[{"field": "name", "code": "in_use", "value": row.name,
                                 "used_by": users,
                                 "contacts": contacts_with_label(account_id, kind, row.name)}])
    row.delete_instance()


def _own_label(account_id: int, kind: str, entry_id) -> Vocabulary:
    row = Vocabulary.get_or_none((Vocabulary.id == _int(entry_id))
                                 & (Vocabulary.account == account_id)
                                 & (Vocabulary.kind == kind))
    if row is None:
        raise NotFound(_(_LABEL_TEXTS[kind]["missing"]))
    return row


def label_removal(account_id: int, kind: str, entry_id) -> dict:
    """What removing a label touches: how many contacts carry it, which forms and enabled
    hooks use it (those block the removal)."""
    row = _own_label(account_id, kind, entry_id)
    users = label_users(account_id, kind, row.name)
    return {"id": row.id, "kind": kind, "name": row.name,
            "contacts": contacts_with_label(account_id, kind, row.name),
            "forms": [u for u in users if u["type"] == "form"],
            "hooks": [u for u in users if u["type"] == "hook"]}


def contacts_with_label(account_id: int, kind: str, name: str) -> int:
    """How many of the account's contacts carry label ``name`` of ``kind``."""
    mine = Contact.account == account_id
    if kind in ("source", "language"):  # index (account_id, source|language): version 12
        return Contact.select().where(mine & (getattr(Contact, kind) == name)).count()
    column = Contact.preferences if kind == "preference" else Contact.interests
    return Contact.select().where(
        mine & _json_text_contains(column, json.dumps(name, ensure_ascii=False))).count()


def _json_text_contains(column, needle: str):
    """``needle`` occurs in the JSON text of ``column`` (case-sensitive, no wildcards).

    Labels live in JSON lists kept as text (gateway.db.JSONField), so no index reaches them:
    this reads the account's rows (by the account-first indexes), which is fine for one value
    on the removal page but not for every value on every page load. The needle is the label
    as JSONField writes it, quotes included, so "Rock" does not count "Rock and roll"; a
    substring test rather than LIKE, which in SQLite ignores case and treats % and _ as
    wildcards.
    """
    fn = peewee.fn
    return (fn.instr(column, needle) if is_sqlite() else fn.strpos(column, needle)) > 0


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
    field = "preferences" if kind == "preference" else "interests"
    # a form lists the labels it offers; they show only while it shows the field
    return field in (form.fields or ()) and name in (getattr(form, field) or ())


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
    """Set the account's mail sender (name, address), notification address and website, as
    far as ``data`` names them; blank means the default."""
    account = Account.get_by_id(account_id)
    values, details = {}, []
    for key, limit, check, hint in (
            ("sender_name", 200, None, N_("A name of at most 200 characters on one line.")),
            ("sender_address", 254, _ADDRESS.match, N_("An e-mail address such as "
                                                        "news@example.com.")),
            ("notification_email", 254, _ADDRESS.match, N_("An e-mail address such as "
                                                           "team@example.com.")),
            # the languages errors.csv has texts in
            ("report_language", 8, i18n.LANGUAGES.__contains__, N_("One of %(languages)s.")),
            ("website_url", 2000, _is_site_url, N_("A web address such as "
                                                   "https://www.example.com."))):
        if key not in data:
            continue
        value = single_line(str(data.get(key) or "")).strip()
        if value and (len(value) > limit or (check and not check(value))):
            message = _(hint) % {"languages": ", ".join(i18n.LANGUAGES)} \
                if key == "report_language" else _(hint)
            details.append({"field": key, "code": "invalid", "value": value,
                            "message": message})
        values[key] = value or None
    if details:
        raise ValidationFailed(details=details)
    Account.update(**values).where(Account.id == account_id).execute()
    for key, value in values.items():
        setattr(account, key, value)
    return account


def notification_address(account_id: int) -> str | None:
    """Where the account's import reports and alerts go: its notification address (Settings),
    else its first user's."""
    chosen = Account.select(Account.notification_email).where(Account.id == account_id).scalar()
    return chosen or first_user_email(account_id)


def first_user_email(account_id: int) -> str | None:
    """The address of the account's first user (its owner), if it has one."""
    first = User.select(User.email).where(User.account == account_id).order_by(User.id).first()
    return first.email if first else None


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
    label, details = _clean_field_label(data.get("label")), []
    if isinstance(label, dict):
        details.append(label)
    if not isinstance(name, str) or not _FIELD_NAME.match(name) or name in RESERVED_FIELDS:
        details.append({"field": "name", "code": "invalid", "value": name,
                        "message": _field_name_problem(name)})
    if ftype not in FIELD_TYPES:
        details.append({"field": "type", "code": "invalid", "value": ftype,
                        "message": _("type must be one of %(types)s.")
                        % {"types": ", ".join(FIELD_TYPES)}})
    needs_choices = ftype in ("choice", "multiple_choice")
    if needs_choices and isinstance(choices, list):
        choices = [single_line(c) if isinstance(c, str) else c for c in choices]
    if needs_choices and (not isinstance(choices, list) or not 0 < len(choices) <= 500
                          or not all(isinstance(c, str) and 0 < len(c) <= LABEL_MAX
                                     for c in choices)):
        details.append({"field": "choices", "code": "invalid",
                        "message": _("A choice field needs a list of 1 to 500 choices of 1 "
                                     "to %(max)s characters each.") % {"max": LABEL_MAX}})
    if details:
        raise ValidationFailed(details=details)
    _label_free(account_id, label or name, None)
    try:
        with db.atomic():
            return CustomField.create(account=account_id, name=name, type=ftype, label=label,
                                      choices=choices if needs_choices else [])
    except peewee.IntegrityError:
        raise Conflict(_("The custom field '%(name)s' exists already.") % {"name": name}) \
            from None


def _field_name_problem(name) -> str:
    """Why ``name`` cannot name a custom field, in words."""
    if isinstance(name, str) and name in RESERVED_FIELDS:
        return _("'%(name)s' is a built-in field of every contact: choose another name.") \
            % {"name": name}
    if not isinstance(name, str) or not name:
        return _("An empty name cannot be a field name: start with a lower-case letter and "
                 "use only lower-case letters, digits and _ (no spaces or capitals), such as "
                 "shoe_size.")
    return _("'%(name)s' cannot be a field name: start with a lower-case letter and use only "
             "lower-case letters, digits and _ (no spaces or capitals), such as "
             "shoe_size.") % {"name": name}


def _clean_field_label(value) -> str | None | dict:
    """A display label (None: show the name), or the problem with it as an error detail."""
    if value is None:
        return None
    cleaned = single_line(value).strip() if isinstance(value, str) else None
    if cleaned is None or len(cleaned) > FIELD_LABEL_MAX:
        return {"field": "label", "code": "invalid", "value": cleaned,
                "message": _("A label is text of at most %(max)s characters on one line, "
                             "such as Shoe size.") % {"max": FIELD_LABEL_MAX}}
    return cleaned or None


def _label_free(account_id: int, shown: str, field_id: int | None) -> None:
    """409 when another field of the account is shown as ``shown`` (in any case)."""
    for other in list_custom_fields(account_id):
        if other.id != field_id and field_label(other).casefold() == shown.casefold():
            raise Conflict(_("The field '%(name)s' is shown as '%(label)s' already: choose "
                             "another label.") % {"name": other.name, "label": field_label(other)},
                           details=[{"field": "label", "code": "duplicate", "value": shown,
                                     "existing": other.name}])


def _own_field(account_id: int, field_id) -> CustomField:
    row = CustomField.get_or_none((CustomField.id == _int(field_id))
                                  & (CustomField.account == account_id))
    if row is None:
        raise NotFound(_("No such custom field."))
    return row


def rename_custom_field(account_id: int, field_id, data: dict) -> CustomField:
    """Change a field's display label (blank: show its name). Its name is the key contacts,
    imports, the API, forms and hooks use, and stays: 422 when ``data`` changes it."""
    row = _own_field(account_id, field_id)
    if "name" in data and data["name"] != row.name:
        raise ValidationFailed(
            _("A field's name ('%(name)s') is the key contacts, imports, the API, forms and "
              "hooks use, and cannot change: change its label instead.") % {"name": row.name},
            details=[{"field": "name", "code": "immutable", "value": data["name"]}])
    if "label" not in data:
        return row
    label = _clean_field_label(data["label"])
    if isinstance(label, dict):
        raise ValidationFailed(details=[label])
    _label_free(account_id, label or row.name, row.id)
    row.label = label
    row.save(only=[CustomField.label])
    return row


def field_removal(account_id: int, field_id) -> dict:
    """What removing a custom field touches: how many contacts have a value for it, which
    forms show it and which enabled hooks map to it (those block the removal)."""
    from connectors.models import Hook
    from forms.models import Form
    row = _own_field(account_id, field_id)
    forms = [{"type": "form", "id": f.id, "name": f.name}
             for f in Form.select().where(Form.account == account_id).order_by(Form.id)
             if row.name in (f.fields or ())]
    hooks = [{"type": "hook", "id": h.id, "name": h.name}
             for h in Hook.select().where((Hook.account == account_id) & Hook.enabled)
             .order_by(Hook.id) if CUSTOM_TARGET + row.name in (h.mapping or {})]
    # custom_fields is a JSON object kept as text with keys written '"key": ': a key
    # cannot hold a quote, so the needle only matches the key itself (see _json_text_contains)
    contacts = Contact.select().where((Contact.account == account_id) & _json_text_contains(
        Contact.custom_fields, json.dumps(row.name) + ":")).count()
    return {"id": row.id, "name": row.name, "label": field_label(row), "contacts": contacts,
            "forms": forms, "hooks": hooks}


def delete_custom_field(account_id: int, field_id) -> None:
    """Remove a custom field definition; 409 naming the forms that show it and the enabled
    hooks that map to it (contacts keep their values, no longer checked or shown)."""
    usage = field_removal(account_id, field_id)
    users = usage["forms"] + usage["hooks"]
    if users:
        text = _("The custom field '%(name)s' is used by %(users)s. Take it off it first, "
                 "then remove it.") if len(users) == 1 else \
            _("The custom field '%(name)s' is used by %(users)s. Take it off them first, then "
              "remove it.")
        raise Conflict(text % {"name": usage["name"], "users": _users_text(users)},
                       details=[{"field": "name", "code": "in_use", "value": usage["name"],
                                 "used_by": users, "contacts": usage["contacts"]}])
    CustomField.delete().where(CustomField.id == usage["id"]).execute()


def _int(value) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        raise NotFound() from None
