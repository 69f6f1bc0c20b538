"""Writing events: the transactional outbox.

``on_changes`` is the events area's listener (``Area.on_changes``): the contact store calls
it inside the transaction of every write, so an event row commits or rolls back with the
change it describes. The rows are written set-based: one ``INSERT … SELECT`` from the contact
rows per kind of change, the contact's snapshot built by the database (an import of 100,000
rows costs a few statements). Their delivery rows are left to the workers: each statement
adds one ``EventFanout`` row naming its events and the endpoints that want them
(``events.jobs.fan_out``), so the writer pays one row per statement, not one per event and
endpoint.

Nothing is written for an account without an enabled endpoint wanting the type: that check
reads a per-process cache (``SUBSCRIPTIONS_TTL`` seconds; changes made here clear it). The
delivery rows join the endpoint table when they are written, so an endpoint deleted or
disabled by another process within that time is skipped, never a reason for the contact's
write to fail.
"""

from __future__ import annotations

import json
import time
from collections import defaultdict

import peewee as pw

from events import jobs
from events.models import Event, EventDelivery, EventEndpoint, EventFanout
from gateway.db import db, is_postgres, utcnow

SUBSCRIPTIONS_TTL = 2.0  # seconds another process may take to see a new endpoint
_subscriptions: dict[int, tuple[float, dict[str, tuple[int, ...]]]] = {}
_ID_BATCH = 900  # ids per statement: under SQLite's bound-variable limit

KIND_TYPES = {"created": "contact.created", "updated": "contact.updated",
              "confirmed": "contact.confirmed", "blacklisted": "contact.blacklisted",
              "deleted": "contact.deleted"}


def subscriptions(account_id: int) -> dict[str, tuple[int, ...]]:
    """{event type: ids of the account's enabled endpoints that want it} (cached)."""
    now = time.monotonic()
    hit = _subscriptions.get(account_id)
    if hit is not None and hit[0] > now:
        return hit[1]
    wanted: dict[str, list[int]] = defaultdict(list)
    for endpoint_id, types in (EventEndpoint.select(EventEndpoint.id, EventEndpoint.events)
                               .where((EventEndpoint.account == account_id)
                                      & EventEndpoint.enabled).tuples()):
        for kind in types or ():
            wanted[kind].append(endpoint_id)
    found = {kind: tuple(ids) for kind, ids in wanted.items()}
    _subscriptions[account_id] = (now + SUBSCRIPTIONS_TTL, found)
    return found


def forget(account_id: int) -> None:
    """Drop the cached subscriptions of an account (its endpoints changed)."""
    _subscriptions.pop(account_id, None)


def event_type(kind: str, provenance) -> str:
    """The event type of a change: an unsubscribe link's blacklisting is an unsubscribe."""
    if kind == "blacklisted" and getattr(provenance, "reference", "") == "unsubscribe":
        return "contact.unsubscribed"
    return KIND_TYPES[kind]


def on_changes(changes: list) -> None:
    """Listener: write the events (and deliveries) of contact changes, set-based."""
    wanted = subscriptions(changes[0].account_id)
    if not wanted:
        return
    groups: dict[tuple, list[int]] = defaultdict(list)
    for change in changes:
        kind = event_type(change.kind, change.provenance)
        if kind in wanted:
            channel = getattr(change.provenance, "channel", "") or ""
            groups[(kind, change.changed, channel)].append(change.contact_id)
    for (kind, changed, channel), ids in groups.items():
        _write_contact_events(changes[0].account_id, kind, changed, channel, ids, wanted[kind])
    if groups:
        jobs.kick()


def emit(account_id: int, kind: str, data: dict, endpoint_ids: tuple[int, ...] | None = None
         ) -> Event | None:
    """Write one event that is not a contact's (``import.finished``, a test), in the
    caller's transaction; ``endpoint_ids``: whom to send it to (default: its subscribers)."""
    targets = subscriptions(account_id).get(kind, ()) if endpoint_ids is None else endpoint_ids
    if not targets:
        return None
    now = utcnow()
    event = Event.create(account=account_id, type=kind, data=json.dumps(data), created_at=now)
    # only endpoints that still exist: another process may have deleted one since
    EventDelivery.insert_from(
        EventEndpoint.select(pw.Value(event.id), EventEndpoint.id, pw.Value("pending"),
                             pw.Value(0), pw.Value(now), pw.Value(now))
        .where(EventEndpoint.id.in_(list(targets))),
        fields=[EventDelivery.event, EventDelivery.endpoint, EventDelivery.status,
                EventDelivery.attempts, EventDelivery.next_at, EventDelivery.updated_at]
    ).execute()
    jobs.kick()
    return event


# ---- the set-based write -----------------------------------------------------------------

# The contact as the API shows it (``gateway.contacts.to_dict``), in its order; the stored
# JSON columns, with what stands for an empty one.
SNAPSHOT_FIELDS = ("id", "email", "first_name", "name", "language", "source", "status",
                   "preferences", "interests", "custom_fields", "created_at", "updated_at")
_JSON_COLUMNS = {"preferences": "[]", "interests": "[]", "custom_fields": "{}"}


def _snapshot_sql() -> str:
    """The event's ``data`` as JSON text from a contact row (placeholder: ``_data_tail``)."""
    if is_postgres():
        return _pg_snapshot_sql()
    # SQLite: json_object is the cheapest there (joining json_quote texts costs more)
    return ("'{\"contact\": ' || json_object(" + ", ".join(
        f"'{name}', json(COALESCE({name}, '{_JSON_COLUMNS[name]}'))" if name in _JSON_COLUMNS
        else f"'{name}', {name}" for name in SNAPSHOT_FIELDS) + f") || {db.param}")


def _pg_snapshot_sql() -> str:
    """PostgreSQL: the JSON text joined from each value's own JSON text."""
    # A third less CPU per row than json_build_object (an import of 100,000 rows pays it
    # 100,000 times), for the same JSON: to_json escapes strings and writes timestamps as
    # json_build_object does, and the stored JSON is still cast, so still checked.
    pieces, before = [], '{"contact": {'
    for name in SNAPSHOT_FIELDS:
        value = (f"COALESCE({name}, '{_JSON_COLUMNS[name]}')::json::text"
                 if name in _JSON_COLUMNS else f"COALESCE(to_json({name})::text, 'null')")
        pieces += [f"'{before}\"{name}\": '", value]
        before = ", "
    return " || ".join([*pieces, "'}'", db.param])


def _data_tail(changed: tuple, channel: str) -> str:
    """What follows the contact in an event's ``data``: ``, "changed": […], "channel": …}``."""
    return ", " + json.dumps({"changed": list(changed), "channel": channel},
                             ensure_ascii=False)[1:]


def _id_conditions(ids: list[int]):
    """(SQL condition on ``id``, its values) per statement: a range for a run of
    consecutive ids (an import's new contacts), else lists under the variable limit."""
    p = db.param
    ids = sorted(set(ids))
    if ids[-1] - ids[0] + 1 == len(ids):
        yield f"id BETWEEN {p} AND {p}", [ids[0], ids[-1]]
        return
    for start in range(0, len(ids), _ID_BATCH):
        batch = ids[start:start + _ID_BATCH]
        yield f"id IN ({', '.join([p] * len(batch))})", batch


# Statements below hold fixed text and driver placeholders only (values are bound).
def _write_contact_events(account_id: int, kind: str, changed: tuple, channel: str,
                          contact_ids: list[int], endpoint_ids: tuple[int, ...]) -> None:
    """The events, and per statement one fan-out row for the workers (their deliveries)."""
    p, now = db.param, utcnow()
    insert = (f"INSERT INTO event (account_id, type, contact_id, data, created_at) "  # noqa: S608
              f"SELECT account_id, {p}, id, {_snapshot_sql()}, {p} FROM contact "
              f"WHERE account_id = {p} AND ")
    head = [kind, _data_tail(changed, channel), now, account_id]
    fanout = [account_id, kind, json.dumps(sorted(endpoint_ids)), now]  # as JSONField stores
    for condition, values in _id_conditions(contact_ids):
        if is_postgres():
            # one statement: the range of the new events' ids feeds the fan-out row
            db.execute_sql(
                f"WITH e AS ({insert}{condition} RETURNING id) INSERT INTO event_fanout "  # noqa: S608
                f"(account_id, type, endpoints, created_at, first_event, last_event) "
                f"SELECT {p}, {p}, {p}, {p}, min(id), max(id) FROM e HAVING count(*) > 0",
                [*head, *values, *fanout])
            continue
        cursor = db.execute_sql(insert + condition, [*head, *values])
        # SQLite: this transaction holds the write lock, so the statement's rows got the
        # consecutive ids ending at the last one inserted.
        last, count = cursor.lastrowid, cursor.rowcount
        if count > 0:
            EventFanout.insert(account=account_id, type=kind, endpoints=sorted(endpoint_ids),
                               created_at=now, first_event=last - count + 1,
                               last_event=last).execute()
