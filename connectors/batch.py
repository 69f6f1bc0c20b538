"""Write the records of a batch of deliveries set-based, in rounds, in arrival order.

``Writer.add`` plans each record (``connectors.records``) as it comes; records of distinct
contacts gather in one round, and a record touching a contact (an e-mail address or an
Efficy key) that the round already touches first writes the round, then is planned again on
the result — so an Efficy Create and an Update of its key apply in that order, and each
record sees the ones before it. ``flush`` writes a round through
``gateway.contacts.upsert_many`` (the one merge path; one call per hook and status), links
Efficy keys in one statement and gives each consent record and history row the reference of
its own delivery (``upsert_many`` takes one provenance per call) in one statement each.
Call inside a transaction.
"""

from __future__ import annotations

import secrets
from types import SimpleNamespace

from connectors import records
from connectors.models import EfficyKey
from gateway import contacts
from gateway.contacts import Provenance
from gateway.db import run_many, utcnow

WAIT_MINUTES = 5  # how long an unlinked Efficy key waits for its Create (see connectors.jobs)

# Each contact's consent record and history rows of a round name its own delivery.
RESTAMP = (
    ("UPDATE consent SET reference = {p} WHERE contact_id = {p} AND reference = {p}",
     "UPDATE consent SET reference = v.reference FROM (VALUES %s) "
     "AS v(reference, contact_id, placeholder) "
     "WHERE consent.contact_id = v.contact_id AND consent.reference = v.placeholder"),
    ("UPDATE contact_event SET reference = {p} WHERE contact_id = {p} AND reference = {p}",
     "UPDATE contact_event SET reference = v.reference FROM (VALUES %s) "
     "AS v(reference, contact_id, placeholder) "
     "WHERE contact_event.contact_id = v.contact_id "
     "AND contact_event.reference = v.placeholder"),
)


def provenance(ctx: records.Context, reference: str) -> Provenance:
    """The provenance of a hook's writes for one delivery (or a round's placeholder)."""
    hook = ctx.hook
    return Provenance(channel="connector", reference=reference, actor=hook.name,
                      text=hook.consent_text)


def delivery_reference(ctx: records.Context, delivery_id: str) -> str:
    """What a delivery's consent records and history rows name: its hook and itself."""
    return provenance(ctx, f"hook:{ctx.hook.id}/delivery:{delivery_id}").reference


class Writer:
    """Records of one transaction, written a round of distinct contacts at a time."""

    def __init__(self):
        self.round: list[tuple[records.Context, str, records.Step]] = []
        self.touched: set[tuple[int, str]] = set()

    def add(self, ctx: records.Context, reference: str, index: int, record) -> records.Step:
        """Plan one record; it is written by a later ``flush`` (ignored and failed ones need
        no write). Raises ``records.Waiting`` for a record that must wait for its Create."""
        step = records.plan_record(ctx, index, record)
        if self._touches(ctx, step) & self.touched:
            self.flush()  # it depends on what the round writes: write that first
            step = records.plan_record(ctx, index, record)
        if step.action == "wait":
            raise records.Waiting(step.efficy_key, WAIT_MINUTES)
        if step.action in ("upsert", "blacklist"):
            self.round.append((ctx, reference, step))
        else:
            step.outcome = records.predict(ctx, step)
            step.contact_id = step.existing.id if step.existing else None
        self.touched |= self._touches(ctx, step)
        return step

    @staticmethod
    def _touches(ctx: records.Context, step: records.Step) -> set[tuple[int, str]]:
        keys = set()
        if step.efficy_key:
            keys.add((ctx.hook.id, f"key:{step.efficy_key}"))
        email = step.clean.get("email") or (step.existing.email if step.existing else None)
        if email:
            keys.add((ctx.hook.account_id, f"email:{email}"))
        return keys

    def flush(self) -> None:
        """Write the round: upserts per hook and status, blacklistings, links, references."""
        groups: dict[tuple, list] = {}
        for ctx, reference, step in self.round:
            if step.action == "upsert":
                groups.setdefault((ctx.hook.id, step.status), []).append((ctx, reference, step))
            else:
                self._blacklist(ctx, reference, step)
        links, stamps = [], []
        for group in groups.values():
            placeholder = f"batch:{secrets.token_hex(8)}"
            self._upsert(group, placeholder, links, stamps)
        if links:
            now = utcnow()
            (EfficyKey.insert_many([(hook_id, key, cid, now) for hook_id, key, cid in links],
                                   fields=[EfficyKey.hook, EfficyKey.efficy_key,
                                           EfficyKey.contact, EfficyKey.updated_at])
             .on_conflict(conflict_target=[EfficyKey.hook, EfficyKey.efficy_key],
                          preserve=[EfficyKey.contact, EfficyKey.updated_at]).execute())
        for template, pg_template in RESTAMP:
            run_many(template, stamps, pg_template)
        self.round, self.touched = [], set()

    @staticmethod
    def _upsert(group: list, placeholder: str, links: list, stamps: list) -> None:
        ctx, step = group[0][0], group[0][2]
        results = contacts.upsert_many(ctx.hook.account_id, [s.clean for _, _, s in group],
                                       status=step.status,
                                       provenance=provenance(ctx, placeholder),
                                       field_types=ctx.vocab.field_types)
        for (ctx, reference, step), (contact_id, result) in zip(group, results, strict=True):
            if result.outcome in ("suppressed", "incomplete"):
                step.action, step.outcome = "fail", "failed"
                step.errors = [_refusal(result.outcome)]
                continue
            before = step.existing
            step.outcome = records.outcome_of(result.outcome, before, result.values)
            step.contact_id = contact_id or (before.id if before else None)
            contact = SimpleNamespace(id=step.contact_id, email=result.values["email"],
                                      status=result.values["status"])
            ctx.contacts[contact.email] = contact  # what later records of the batch see
            if step.efficy_key:
                ctx.links[step.efficy_key] = contact
                links.append((ctx.hook.id, step.efficy_key, step.contact_id))
            if result.outcome in ("created", "updated"):
                stamps.append((reference, step.contact_id, placeholder))

    @staticmethod
    def _blacklist(ctx: records.Context, reference: str, step: records.Step) -> None:
        step.outcome = records.predict(ctx, step)
        contact = contacts.blacklist(ctx.hook.account_id, step.existing.id,
                                     provenance(ctx, reference))
        step.contact_id = contact.id
        ctx.contacts[contact.email] = contact


def _refusal(outcome: str) -> dict:
    if outcome == "suppressed":
        return {"field": "email", "code": "suppressed", "message": (
            "This address was erased at the person's request and is suppressed: it cannot "
            "be added again.")}
    return {"field": "language", "code": "required",
            "message": "A new contact needs a language and a source."}
