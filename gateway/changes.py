"""What changed in the contact store, told to the areas that listen (``Area.on_changes``).

The one store path (``gateway.contacts``) calls ``announce`` once per write — per record or
per batch — inside the transaction of the change, after its history rows. A listener (the
events area writes its outbox there) runs in that same transaction: a rolled-back change
leaves nothing behind. The core never imports a listener: the registry names them.
"""

from __future__ import annotations

import functools
from typing import NamedTuple

from gateway.dotted import resolve


class ContactChange(NamedTuple):
    """One contact written: ``kind`` is created, updated, confirmed, blacklisted or deleted;
    ``changed`` names the stored fields that changed (empty for created and deleted);
    ``provenance`` is the ``gateway.contacts.Provenance`` of the write."""

    account_id: int
    contact_id: int
    kind: str
    changed: tuple[str, ...]
    provenance: object


COMPARED = ("first_name", "name", "language", "source", "status", "preferences",
            "interests", "custom_fields")


def changed_fields(before: dict, after: dict) -> tuple[str, ...]:
    """The stored fields whose value differs between two sets of merge values."""
    return tuple(name for name in COMPARED if before.get(name) != after.get(name))


def update_kind(before: dict, after: dict) -> str:
    """What an update is told as: a confirmation or a blacklisting first, else an update."""
    if after.get("status") != before.get("status"):
        if after.get("status") in ("confirmed", "blacklisted"):
            return after["status"]
    return "updated"


@functools.cache
def listeners() -> tuple:
    """Every area's ``on_changes`` function, resolved once."""
    from gateway.registry import AREAS  # the registry names areas that import this module
    return tuple(resolve(area.on_changes) for area in AREAS if area.on_changes)


def announce(changes: list[ContactChange]) -> None:
    """Tell every listener about ``changes`` (one account's), in the current transaction."""
    if changes:
        for listener in listeners():
            listener(changes)


def announce_batch(account_id: int, results: list, stored: dict, provenance) -> None:
    """``announce`` the outcome of ``upsert_many``: (contact id, MergeResult) per record and
    the stored values by e-mail from before the merge."""
    if not listeners():
        return
    changes = []
    for contact_id, result in results:
        if result.outcome == "created":
            changes.append(ContactChange(account_id, contact_id, "created", (), provenance))
        elif result.outcome == "updated":
            before = stored[result.values["email"]][1]
            changes.append(ContactChange(account_id, contact_id,
                                         update_kind(before, result.values),
                                         changed_fields(before, result.values), provenance))
    announce(changes)
