"""From a delivery's payload to contact writes: shared by the job and the dry run.

``plan(ctx, payload)`` turns a payload into one ``Step`` per record (what it maps to, its
validation errors, what the merge would do; ``plan_record`` for one record, ``preload`` to
read the contacts of many records at once); ``connectors.batch`` writes the steps through
``gateway.contacts.upsert_many`` — the one merge path — or blacklists for Efficy deletes.

With ``ctx.wait`` (the job's attempts before the last), an Efficy record that cannot be
applied until the Create of its key is — an Update without an e-mail address, or a
blacklisting Delete, whose key is not linked to a contact yet — plans as ``wait``.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from types import SimpleNamespace

from connectors import efficy, mapping
from connectors.models import MAX_EFFICY_KEY, EfficyKey, Hook
from gateway import contacts, i18n
from gateway.contacts import Provenance
from gateway.db import db
from gateway.errors import BadRequest
from gateway.i18n import N_, _
from gateway.imports import texts
from gateway.merge import CLEAR, is_empty, merge
from gateway.models import Contact
from gateway.validation import AccountVocabulary, clean_contact, normalise_email

MAX_RECORDS = 1000
LOOKUP_CHUNK = 500  # values per IN (...) (under SQLite's bound-variable limit)


@dataclass
class Context:
    """A hook and its account's vocabulary, loaded once per delivery."""

    hook: Hook
    vocab: AccountVocabulary
    provenance: Provenance | None = None
    wait: bool = False  # unlinked keys plan as "wait" (the Create may still come)
    # Preloaded (``preload``): contacts (id, email, status) by e-mail and by Efficy key;
    # None: asked one by one.
    contacts: dict | None = None
    links: dict | None = None

    @classmethod
    def load(cls, hook: Hook, provenance: Provenance | None = None) -> Context:
        """Snapshot the account vocabulary for ``hook``."""
        return cls(hook, AccountVocabulary.load(hook.account_id), provenance)


@dataclass
class Step:
    """One record: its action (upsert, blacklist, ignore, fail, wait) and its data."""

    index: int
    action: str
    data: dict = field(default_factory=dict)
    clean: dict = field(default_factory=dict)
    status: str | None = None
    existing: Contact | None = None
    errors: list = field(default_factory=list)
    efficy_key: str | None = None
    operation: str | None = None
    outcome: str | None = None  # once written (``connectors.batch``)
    contact_id: int | None = None


WAITING = N_("Waiting for the Create of Efficy key %(key)s: it is not linked to a contact "
             "yet and the record has no e-mail address. Retried for at most %(minutes)s "
             "minutes, then a dead letter.")
UNLINKED = N_("Efficy key %(key)s is not linked to a contact yet and the record has no e-mail "
              "address.")
KEY_TOO_LONG = N_("An Efficy key has at most %(max)s characters; this one has %(num)s.")


class Waiting(Exception):
    """A record waits for the Create of its Efficy key (not linked to a contact yet)."""

    def __init__(self, key: str, minutes: int):
        super().__init__(key)
        # Stored with the delivery (in English): ``i18n.stored`` translates it when shown.
        self.message = WAITING % {"key": key, "minutes": minutes}


def records_of(kind: str, payload) -> tuple[list, int]:
    """The records of a payload and how many were skipped (other Efficy tables); 400/413."""
    if kind == "efficy":
        found, skipped = efficy.split(payload)
        total = len(found)
    else:
        if isinstance(payload, dict):
            found = [payload]
        elif isinstance(payload, list) and all(isinstance(r, dict) for r in payload):
            found = payload
        else:
            raise BadRequest(N_("The body must be a JSON object or an array of objects."))
        total, skipped = len(found), 0
    if total + skipped > MAX_RECORDS:
        from gateway.errors import PayloadTooLarge
        raise PayloadTooLarge(_("At most %(num)s records per request; split the batch.")
                              % {"num": MAX_RECORDS})
    return found, skipped


def plan(ctx: Context, payload) -> tuple[Iterator[Step], int]:
    """Steps for the records of ``payload`` and the count of skipped records (no writes).

    Steps are planned lazily, so a caller executing each one before taking the next sees
    earlier records' effects (an Efficy Create then an Update of the same key).
    """
    found, skipped = records_of(ctx.hook.kind, payload)
    return _steps(ctx, found), skipped


def _steps(ctx: Context, found: list) -> Iterator[Step]:
    for index, record in enumerate(found):
        yield plan_record(ctx, index, record)


def plan_record(ctx: Context, index: int, record) -> Step:
    """The step of one record of ``records_of`` (no writes: it may be planned again)."""
    if ctx.hook.kind == "efficy":
        return _plan_efficy(ctx, index, record)
    return _plan_contact(ctx, index, _mapped(ctx, record))


def _mapped(ctx: Context, record) -> dict:
    if ctx.hook.kind == "efficy":
        return mapping.apply(efficy.mapping_for(ctx.hook.mapping), record.record,
                             efficy.language_map_for(ctx.hook.language_map))
    return mapping.apply(ctx.hook.mapping, record, ctx.hook.language_map)


def preload(ctx: Context, found: list) -> None:
    """Read the contacts ``found`` records (of ``records_of``) may touch, in two queries,
    so planning them asks the store nothing; ``Context.contacts``/``links`` stay current as
    the batch writes."""
    emails: set[str] = set()
    for record in found:
        email = _mapped(ctx, record).get("email")
        if not is_empty(email):
            normal, error = normalise_email(email)
            if error is None:
                emails.add(normal)
    ctx.contacts = dict(_known(_SELECT_BY_EMAIL, ctx.hook.account_id, sorted(emails)))
    keys = sorted({r.key for r in found} if ctx.hook.kind == "efficy" else set())
    ctx.links = dict(_known(_SELECT_BY_KEY, ctx.hook.id, keys))


# What planning reads of a known contact (``Step.existing``): its id, address and status.
_SELECT_BY_EMAIL = ("SELECT email, id, email, status FROM contact "
                    "WHERE account_id = {p} AND email IN ({marks})")
_SELECT_BY_KEY = ("SELECT k.efficy_key, c.id, c.email, c.status FROM efficy_key k "
                  "JOIN contact c ON c.id = k.contact_id "
                  "WHERE k.hook_id = {p} AND k.efficy_key IN ({marks})")


def _known(sql: str, owner: int, values: list[str]) -> Iterator[tuple[str, SimpleNamespace]]:
    """(value, contact) for the contacts ``sql`` finds, ``LOOKUP_CHUNK`` values a query."""
    for start in range(0, len(values), LOOKUP_CHUNK):
        chunk = values[start:start + LOOKUP_CHUNK]
        query = sql.format(p=db.param, marks=", ".join([db.param] * len(chunk)))
        for value, contact_id, email, status in db.execute_sql(query, [owner, *chunk]):
            yield value, SimpleNamespace(id=contact_id, email=email, status=status)


def _plan_efficy(ctx: Context, index: int, rec: efficy.EfficyRecord) -> Step:
    hook = ctx.hook
    if len(rec.key) > MAX_EFFICY_KEY:
        return Step(index, "fail", efficy_key=rec.key, operation=rec.operation, errors=[
            {"field": "key", "code": "too_long", "message": _(KEY_TOO_LONG) % {
                "max": MAX_EFFICY_KEY, "num": len(rec.key)}}])
    data = _mapped(ctx, rec)
    linked = _linked_contact(ctx, rec.key)
    if rec.operation == "Delete":
        target = linked or _by_email(ctx, data.get("email"))
        action = "blacklist" if hook.on_delete == "blacklist" and target else "ignore"
        if hook.on_delete == "blacklist" and target is None and ctx.wait:
            action = "wait"  # its Create may be waiting for a retry: blacklist it after
        return Step(index, action, data, existing=target, efficy_key=rec.key,
                    operation=rec.operation)
    if is_empty(data.get("email")) and linked is not None:
        data["email"] = linked.email  # an Update carries only the changed fields
    step = _plan_contact(ctx, index, data)
    step.efficy_key, step.operation = rec.key, rec.operation
    if step.action == "fail" and is_empty(data.get("email")):
        step.errors = [{"field": "email", "code": "unknown_key",
                        "message": _(UNLINKED) % {"key": rec.key}}]
        if ctx.wait:
            step.action = "wait"
    return step


def _plan_contact(ctx: Context, index: int, data: dict) -> Step:
    status = data.pop("status", None) or ctx.hook.contact_status
    clean, errors = clean_contact(ctx.vocab, data, creating=False)
    existing = None if errors else _by_email(ctx, clean["email"])
    if not errors and existing is None:
        # The hook's defaults complete NEW contacts only: they never overwrite stored values.
        data = dict(data)
        for name in ("source", "language"):
            if is_empty(data.get(name)) and getattr(ctx.hook, name):
                data[name] = getattr(ctx.hook, name)
        clean, errors = clean_contact(ctx.vocab, data, creating=True)
    if errors:
        return Step(index, "fail", data, errors=[e.to_dict() for e in errors])
    return Step(index, "upsert", data, clean, status, existing)


def _linked_contact(ctx: Context, key: str) -> Contact | None:
    if ctx.links is not None:
        return ctx.links.get(key)
    link = EfficyKey.get_or_none((EfficyKey.hook == ctx.hook.id)
                                 & (EfficyKey.efficy_key == key))
    return Contact.get_or_none(Contact.id == link.contact_id) if link else None


def _by_email(ctx: Context, email) -> Contact | None:
    if is_empty(email):
        return None
    email = str(email).strip().lower()
    if ctx.contacts is not None:
        return ctx.contacts.get(email)
    return Contact.get_or_none((Contact.account == ctx.hook.account_id)
                               & (Contact.email == email))


def predict(ctx: Context, step: Step) -> str:
    """What ``execute`` would do: created, updated, unchanged, blacklisted, ignored..."""
    if step.action == "blacklist":
        return "ignored" if step.existing.status == "blacklisted" else "blacklisted"
    if step.action != "upsert":
        return {"ignore": "ignored", "fail": "failed", "wait": "failed"}[step.action]
    stored = contacts.stored_values(step.existing) if step.existing else None
    result = merge(stored, step.clean, ctx.vocab.field_types, step.status)
    return outcome_of(result.outcome, step.existing, result.values)


def outcome_of(outcome: str, before: Contact | None, values: dict) -> str:
    """What the delivery log says of a merge outcome (a blacklisting is told as such)."""
    if outcome == "blacklisted":
        return "ignored"  # rule 5: a blacklisted contact is silently left alone
    if values.get("status") == "blacklisted" and (before is None
                                                  or before.status != "blacklisted"):
        return "blacklisted"
    return outcome


def describe(step: Step, outcome: str) -> dict:
    """A JSON-able view of a step for the dry run and the delivery log."""
    view = {"index": step.index, "outcome": outcome}
    if step.operation:
        view.update(efficy_key=step.efficy_key, operation=step.operation)
    if step.action == "upsert":
        view["contact"] = {k: ("." if v is CLEAR else v) for k, v in step.clean.items()
                           if not is_empty(v) or v is CLEAR}
        view["contact"]["status"] = step.status
        if step.existing is not None:
            view["contact_id"] = step.existing.id
    if step.errors:
        view["errors"] = step.errors
    return view


def _field_error(error: dict) -> str:
    """One record's error in the task's language: by its code where it has a generic text
    (the stored message is English and may hold values), else the stored text matched back."""
    stored = str(error.get("message") or error.get("code") or "")
    code, value = str(error.get("code") or ""), error.get("value")
    shown = texts.reason(code, None if value is None else str(value), "") if code else ""
    return shown or i18n.stored(stored, STORED) or _("not valid")


def reasons(result: dict) -> list[str]:
    """Why records failed, in words: ``record 1: email: an e-mail address is required``
    (in the task's language, also what a job stored in English)."""
    lines = []
    for view in (result or {}).get("records", []):
        for error in view.get("errors", []):
            message = _field_error(error)
            message = message[:1].lower() + message[1:] if message[1:2].islower() else message
            lines.append(_("record %(num)s: %(field)s: %(message)s") % {
                "num": view.get("index", 0) + 1, "field": error.get("field"),
                "message": message.rstrip(".")})
    return lines


# Texts a job stores in English with values in them (a delivery's error, a record's reason),
# matched back to their English text when shown so they read in the reader's language; a text
# without values needs no pattern. ``connectors.jobs`` and ``connectors.batch`` store the last
# five.
STORED = i18n.stored_texts(
    WAITING, UNLINKED, KEY_TOO_LONG,
    N_("%(failed)s of %(total)s records were not valid; fix the mapping or the sender, "
       "then replay."),
    N_("An internal error stopped this attempt; the server log has the details "
       "(delivery %(id)s)."),
    N_("The database was unavailable during this attempt."),
    N_("This address was erased at the person's request and is suppressed: it cannot "
       "be added again."),
    N_("A new contact needs a language and a source."))
