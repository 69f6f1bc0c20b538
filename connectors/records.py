"""From a delivery's payload to contact writes: shared by the job and the dry run.

``plan(ctx, payload)`` turns a payload into one ``Step`` per record (what it maps to, its
validation errors, what the merge would do); ``execute(ctx, step)`` writes one step through
``gateway.contacts.upsert`` — the one merge path — or blacklists for Efficy deletes.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

from connectors import efficy, mapping
from connectors.models import MAX_EFFICY_KEY, EfficyKey, Hook
from gateway import contacts
from gateway.contacts import Provenance
from gateway.db import utcnow
from gateway.errors import BadRequest
from gateway.merge import CLEAR, is_empty, merge
from gateway.models import Contact
from gateway.validation import AccountVocabulary, clean_contact

MAX_RECORDS = 1000


@dataclass
class Context:
    """A hook and its account's vocabulary, loaded once per delivery."""

    hook: Hook
    vocab: AccountVocabulary
    provenance: Provenance | None = None

    @classmethod
    def load(cls, hook: Hook, provenance: Provenance | None = None) -> Context:
        """Snapshot the account vocabulary for ``hook``."""
        return cls(hook, AccountVocabulary.load(hook.account_id), provenance)


@dataclass
class Step:
    """One record: its action (upsert, blacklist, ignore, skip, fail) and its data."""

    index: int
    action: str
    data: dict = field(default_factory=dict)
    clean: dict = field(default_factory=dict)
    status: str | None = None
    existing: Contact | None = None
    errors: list = field(default_factory=list)
    efficy_key: str | None = None
    operation: str | None = None


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
            raise BadRequest("The body must be a JSON object or an array of objects.")
        total, skipped = len(found), 0
    if total + skipped > MAX_RECORDS:
        from gateway.errors import PayloadTooLarge
        raise PayloadTooLarge(f"At most {MAX_RECORDS} records per request; split the batch.")
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
        if ctx.hook.kind == "efficy":
            yield _plan_efficy(ctx, index, record)
        else:
            yield _plan_contact(ctx, index, mapping.apply(ctx.hook.mapping, record,
                                                          ctx.hook.language_map))


def _plan_efficy(ctx: Context, index: int, rec: efficy.EfficyRecord) -> Step:
    hook = ctx.hook
    if len(rec.key) > MAX_EFFICY_KEY:
        return Step(index, "fail", efficy_key=rec.key, operation=rec.operation, errors=[
            {"field": "key", "code": "too_long", "message": f"An Efficy key has at most "
             f"{MAX_EFFICY_KEY} characters; this one has {len(rec.key)}."}])
    data = mapping.apply(efficy.mapping_for(hook.mapping), rec.record,
                         efficy.language_map_for(hook.language_map))
    linked = _linked_contact(hook, rec.key)
    if rec.operation == "Delete":
        target = linked or _by_email(ctx, data.get("email"))
        action = "blacklist" if hook.on_delete == "blacklist" and target else "ignore"
        return Step(index, action, data, existing=target, efficy_key=rec.key,
                    operation=rec.operation)
    if is_empty(data.get("email")) and linked is not None:
        data["email"] = linked.email  # an Update carries only the changed fields
    step = _plan_contact(ctx, index, data)
    step.efficy_key, step.operation = rec.key, rec.operation
    if step.action == "fail" and is_empty(data.get("email")):
        step.errors = [{"field": "email", "code": "unknown_key",
                        "message": f"Efficy key {rec.key} is not linked to a contact yet and "
                                   "the record has no e-mail address."}]
    return step


def _plan_contact(ctx: Context, index: int, data: dict) -> Step:
    status = data.pop("status", None) or ctx.hook.contact_status
    clean, errors = clean_contact(ctx.vocab, data, creating=False)
    existing = None if errors else Contact.get_or_none(
        (Contact.account == ctx.hook.account_id) & (Contact.email == clean["email"]))
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


def _linked_contact(hook: Hook, key: str) -> Contact | None:
    link = EfficyKey.get_or_none((EfficyKey.hook == hook.id) & (EfficyKey.efficy_key == key))
    return Contact.get_or_none(Contact.id == link.contact_id) if link else None


def _by_email(ctx: Context, email) -> Contact | None:
    if is_empty(email):
        return None
    return Contact.get_or_none((Contact.account == ctx.hook.account_id)
                               & (Contact.email == str(email).strip().lower()))


def predict(ctx: Context, step: Step) -> str:
    """What ``execute`` would do: created, updated, unchanged, blacklisted, ignored..."""
    if step.action == "blacklist":
        return "ignored" if step.existing.status == "blacklisted" else "blacklisted"
    if step.action != "upsert":
        return {"ignore": "ignored", "fail": "failed"}[step.action]
    stored = contacts.stored_values(step.existing) if step.existing else None
    result = merge(stored, step.clean, ctx.vocab.field_types, step.status)
    return _outcome(result.outcome, step.existing, result.values)


def _outcome(outcome: str, before: Contact | None, values: dict) -> str:
    if outcome == "blacklisted":
        return "ignored"  # rule 5: a blacklisted contact is silently left alone
    if values.get("status") == "blacklisted" and (before is None
                                                  or before.status != "blacklisted"):
        return "blacklisted"
    return outcome


def execute(ctx: Context, step: Step) -> tuple[str, Contact | None]:
    """Write one step; returns (outcome, contact)."""
    if step.action == "blacklist":
        outcome = predict(ctx, step)
        contact = contacts.blacklist(ctx.hook.account_id, step.existing.id, ctx.provenance)
        return outcome, contact
    if step.action != "upsert":
        return predict(ctx, step), step.existing
    before = step.existing
    contact, result = contacts.upsert(ctx.hook.account_id, step.clean, status=step.status,
                                      provenance=ctx.provenance,
                                      field_types=ctx.vocab.field_types)
    if step.efficy_key:
        link(ctx.hook, step.efficy_key, contact.id)
    return _outcome(result.outcome, before, result.values), contact


def link(hook: Hook, key: str, contact_id: int) -> None:
    """Remember which contact an Efficy key stands for (the latest wins)."""
    (EfficyKey.insert(hook=hook.id, efficy_key=key, contact=contact_id, updated_at=utcnow())
     .on_conflict(conflict_target=[EfficyKey.hook, EfficyKey.efficy_key],
                  update={EfficyKey.contact: contact_id, EfficyKey.updated_at: utcnow()})
     .execute())


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


def reasons(result: dict) -> list[str]:
    """Why records failed, in words: ``record 1: email: an e-mail address is required``."""
    lines = []
    for view in (result or {}).get("records", []):
        for error in view.get("errors", []):
            message = str(error.get("message") or error.get("code") or "not valid")
            message = message[:1].lower() + message[1:] if message[1:2].islower() else message
            lines.append(f"record {view.get('index', 0) + 1}: {error.get('field')}: "
                         f"{message.rstrip('.')}")
    return lines
