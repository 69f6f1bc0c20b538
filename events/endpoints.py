"""Event endpoints as resources, the event list, replays and test events.

Every function takes the caller's ``account_id`` first and never touches another account's
endpoints (404). Call them inside ``db.connection_context()`` (``gateway.web.in_db``).

* ``create_endpoint(account_id, data)`` → ``(endpoint, secret)``: the secret only here.
* ``rotate_secret`` → ``(endpoint, new secret)``; the old one keeps signing (a second
  ``v1`` signature) for ``ROTATION_OVERLAP``.
* ``list_events(account_id, type=, after=, limit=)``: the polling list.
* ``replay``/``replay_all``: dead deliveries due again; ``send_test``: a signed test POST.
"""

from __future__ import annotations

import secrets
from datetime import timedelta

from peewee import fn

from events import delivery, emit, jobs
from events.models import (
    TEST_TYPE,
    TYPES,
    Event,
    EventAttempt,
    EventDelivery,
    EventEndpoint,
)
from events.targets import check_url
from gateway.db import db, utcnow
from gateway.errors import BadRequest, Conflict, NotFound, ValidationFailed
from gateway.i18n import N_, _
from gateway.tenancy import owned
from gateway.validation import single_line

ROTATION_OVERLAP = timedelta(hours=24)
EDITABLE = ("url", "events", "description", "enabled", "batch")


def _refuse(field: str, message: str, value=None) -> ValidationFailed:
    return ValidationFailed(details=[{"field": field, "code": "invalid", "message": message,
                                      "value": value}])


def _checked(data, *, creating: bool) -> dict:
    """The editable values of ``data``, validated; 422 naming the field otherwise."""
    if not isinstance(data, dict):
        raise BadRequest(N_("The body must be a JSON object."))
    unknown = sorted(set(data) - set(EDITABLE))
    if unknown:
        raise _refuse(unknown[0], _("Unknown field '%(field)s'; known: %(known)s.") % {
            "field": unknown[0], "known": ", ".join(EDITABLE)})
    values = {}
    if creating or "url" in data:
        values["url"] = check_url(data.get("url"))
    if creating or "events" in data:
        kinds = data.get("events")
        if (not isinstance(kinds, list) or not kinds
                or not all(isinstance(k, str) for k in kinds)):
            raise _refuse("events", _("events is a non-empty list of event types: %(types)s "
                                      "(or %(all)s for all).")
                          % {"types": ", ".join(TYPES), "all": '"*"'}, kinds)
        kinds = list(TYPES) if "*" in kinds else list(dict.fromkeys(kinds))
        wrong = [k for k in kinds if k not in TYPES]
        if wrong:
            raise _refuse("events", _("Unknown event type '%(type)s'; known: %(known)s.")
                          % {"type": wrong[0], "known": ", ".join(TYPES)}, wrong[0])
        values["events"] = kinds
    if "description" in data:
        text = data["description"]
        if text is not None and not isinstance(text, str):
            raise _refuse("description", _("description is text."), text)
        values["description"] = single_line(text or "")[:500]
    for flag in ("enabled", "batch"):
        if flag in data:
            if not isinstance(data[flag], bool):
                raise _refuse(flag, _("%(field)s is true or false.") % {"field": flag},
                              data[flag])
            values[flag] = data[flag]
    return values


def create_endpoint(account_id: int, data) -> tuple[EventEndpoint, str]:
    """A new endpoint; returns it with its secret (shown once, never stored)."""
    values = _checked(data, creating=True)
    salt = secrets.token_hex(16)
    endpoint = EventEndpoint.create(account=account_id, secret_salt=salt, **values)
    emit.forget(account_id)
    return endpoint, delivery.secret_for(salt)


def list_endpoints(account_id: int) -> list[EventEndpoint]:
    """The account's endpoints, oldest first."""
    return list(EventEndpoint.select().where(EventEndpoint.account == account_id)
                .order_by(EventEndpoint.id))


def get_endpoint(account_id: int, endpoint_id) -> EventEndpoint:
    """One endpoint of this account, or 404."""
    return owned(EventEndpoint, account_id, endpoint_id, "event endpoint")


def update_endpoint(account_id: int, endpoint_id, data) -> EventEndpoint:
    """Change an endpoint; enabling it again clears its failure record."""
    endpoint = get_endpoint(account_id, endpoint_id)
    values = _checked(data, creating=False)
    if values.get("enabled") and not endpoint.enabled:
        values.update(failing_since=None, disabled_reason=None, held_until=None)
    for name, value in values.items():
        setattr(endpoint, name, value)
    endpoint.updated_at = utcnow()
    endpoint.save()
    emit.forget(account_id)
    return endpoint


def delete_endpoint(account_id: int, endpoint_id) -> None:
    """Remove an endpoint with its deliveries and attempt log (Zapier's unsubscribe)."""
    endpoint = get_endpoint(account_id, endpoint_id)
    with db.atomic():
        endpoint.delete_instance(recursive=True)
    emit.forget(account_id)


def rotate_secret(account_id: int, endpoint_id) -> tuple[EventEndpoint, str]:
    """A new secret; the previous one keeps signing for ``ROTATION_OVERLAP``."""
    endpoint = get_endpoint(account_id, endpoint_id)
    endpoint.previous_salt = endpoint.secret_salt
    endpoint.previous_expires_at = utcnow() + ROTATION_OVERLAP
    endpoint.secret_salt = secrets.token_hex(16)
    endpoint.updated_at = utcnow()
    endpoint.save()
    return endpoint, delivery.secret_for(endpoint.secret_salt)


def counts(endpoint_ids: list[int]) -> dict[int, dict[str, int]]:
    """{endpoint id: {"delivered", "pending", "dead", "failing"}} (failing: pending after
    at least one failed attempt)."""
    found = {i: dict.fromkeys(("delivered", "pending", "dead", "failing"), 0)
             for i in endpoint_ids}
    if not endpoint_ids:
        return found
    rows = (EventDelivery.select(EventDelivery.endpoint, EventDelivery.status,
                                 EventDelivery.attempts > 0, fn.COUNT(EventDelivery.id))
            .where(EventDelivery.endpoint.in_(endpoint_ids))
            .group_by(EventDelivery.endpoint, EventDelivery.status, EventDelivery.attempts > 0)
            .tuples())
    for endpoint_id, status, tried, count in rows:
        found[endpoint_id][status] = found[endpoint_id].get(status, 0) + count
        if status == "pending" and tried:
            found[endpoint_id]["failing"] += count
    return found


def to_dict(endpoint: EventEndpoint, stats: dict | None = None) -> dict:
    """The API shape of an endpoint (never its secret)."""
    rotating = (endpoint.previous_expires_at if endpoint.previous_expires_at
                and endpoint.previous_expires_at > utcnow() else None)
    return {"id": endpoint.id, "url": endpoint.url, "events": list(endpoint.events or []),
            "description": endpoint.description, "enabled": endpoint.enabled,
            "batch": endpoint.batch, "disabled_reason": endpoint.disabled_reason,
            "failing_since": _iso(endpoint.failing_since),
            "previous_secret_valid_until": _iso(rotating),
            "deliveries": stats or counts([endpoint.id])[endpoint.id],
            "created_at": _iso(endpoint.created_at), "updated_at": _iso(endpoint.updated_at)}


def _iso(value) -> str | None:
    return None if value is None else value.isoformat(timespec="seconds") + "Z"


# ---- events, deliveries, attempts --------------------------------------------------------

def _event_id(raw) -> int | None:
    """``evt_12`` or ``12`` as 12; 400 for anything else."""
    if raw in (None, ""):
        return None
    text = str(raw).removeprefix("evt_")
    if not text.isascii() or not text.isdigit() or len(text) > 18:
        raise BadRequest(_("after must be an event id (%(example)s).") % {"example": "evt_123"})
    return int(text)


def list_events(account_id: int, *, kind: str | None = None, after=None,
                limit: int = 50) -> dict:
    """Events in id order after the cursor ``after``; without it, the latest ``limit``."""
    if not 1 <= limit <= 500:
        raise BadRequest(_("limit must be between %(low)s and %(high)s.")
                         % {"low": 1, "high": 500})
    if kind and kind not in (*TYPES, TEST_TYPE):
        raise BadRequest(_("type must be one of %(choices)s.") % {"choices": ", ".join(TYPES)})
    cursor = _event_id(after)
    query = Event.select(Event.id, Event.type, Event.data, Event.created_at).where(
        Event.account == account_id)
    if kind:
        query = query.where(Event.type == kind)
    if cursor is not None:
        rows = list(query.where(Event.id > cursor).order_by(Event.id).limit(limit).tuples())
    else:  # the tail: a poller starts from now, a sample shows the newest
        rows = list(query.order_by(Event.id.desc()).limit(limit).tuples())[::-1]
    items = [delivery.envelope(*row) for row in rows]
    last = items[-1]["id"] if items else (f"evt_{cursor}" if cursor is not None else None)
    return {"items": items, "next_cursor": last}


def list_deliveries(account_id: int, endpoint_id, *, status: str | None = None,
                    limit: int = 50) -> list[dict]:
    """The endpoint's latest deliveries (newest first) with their event's type."""
    endpoint = get_endpoint(account_id, endpoint_id)
    query = (EventDelivery.select(EventDelivery, Event.id, Event.type).join(Event)
             .where(EventDelivery.endpoint == endpoint.id))
    if status:
        query = query.where(EventDelivery.status == status)
    return [{"id": d.id, "event_id": f"evt_{d.event_id}", "type": d.event.type,
             "status": d.status, "attempts": d.attempts, "last_error": d.last_error,
             "next_at": _iso(d.next_at) if d.status == "pending" else None,
             "delivered_at": _iso(d.delivered_at)}
            for d in query.order_by(EventDelivery.id.desc()).limit(limit)]


def list_attempts(account_id: int, endpoint_id, limit: int = 50) -> list[dict]:
    """The endpoint's latest attempts, newest first."""
    endpoint = get_endpoint(account_id, endpoint_id)
    rows = (EventAttempt.select().where(EventAttempt.endpoint == endpoint.id)
            .order_by(EventAttempt.id.desc()).limit(limit))
    return [{"id": a.id, "delivery_id": a.delivery_id, "events": a.events,
             "status_code": a.status_code, "latency_ms": a.latency_ms,
             "response": a.response, "error": a.error, "at": _iso(a.at)} for a in rows]


def replay(account_id: int, endpoint_id, delivery_id) -> int:
    """Send one dead delivery again (409 unless it is dead); returns its id."""
    endpoint = get_endpoint(account_id, endpoint_id)
    found = EventDelivery.get_or_none((EventDelivery.id == _whole(delivery_id))
                                      & (EventDelivery.endpoint == endpoint.id))
    if found is None:
        raise NotFound(N_("No such delivery."))
    if found.status != "dead":
        raise Conflict(_("This delivery is %(status)s; only dead ones are replayed.")
                       % {"status": found.status})
    _revive([found.id], endpoint)
    return found.id


def replay_all(account_id: int, endpoint_id) -> int:
    """Send every dead delivery of the endpoint again; returns how many."""
    endpoint = get_endpoint(account_id, endpoint_id)
    ids = [d.id for d in EventDelivery.select(EventDelivery.id).where(
        (EventDelivery.endpoint == endpoint.id) & (EventDelivery.status == "dead"))]
    _revive(ids, endpoint)
    return len(ids)


def _whole(raw) -> int:
    try:
        return int(raw)
    except (TypeError, ValueError):
        raise NotFound(N_("No such delivery.")) from None


def _revive(ids: list[int], endpoint: EventEndpoint) -> None:
    if not ids:
        return
    now = utcnow()
    with db.atomic():
        # Someone asked for these now (the receiver is fixed, say): no hold keeps them back.
        EventEndpoint.update(held_until=None).where(EventEndpoint.id == endpoint.id).execute()
        for start in range(0, len(ids), 500):
            EventDelivery.update(status="pending", next_at=now, updated_at=now).where(
                EventDelivery.id.in_(ids[start:start + 500])).execute()
        jobs.kick()


def send_test(account_id: int, endpoint_id) -> dict:
    """POST a signed ``endpoint.test`` event to the endpoint now; returns the attempt."""
    endpoint = get_endpoint(account_id, endpoint_id)
    with db.atomic():
        event = emit.emit(account_id, TEST_TYPE,
                          {"message": "A test event from Inlet.", "endpoint_id": endpoint.id},
                          endpoint_ids=(endpoint.id,))
    row = EventDelivery.get(EventDelivery.event == event.id)
    claimed = jobs.claim(1, ids=[row.id])
    if claimed:
        if endpoint.enabled:
            jobs.send(claimed)
        else:  # a disabled endpoint gets the test all the same: it is how one checks a fix
            events = {event.id: (event.id, event.type, event.data, event.created_at)}
            jobs.deliver_to(endpoint, claimed, events)
    attempt = EventAttempt.select().where(EventAttempt.delivery == row.id).order_by(
        EventAttempt.id.desc()).first()
    return {"event_id": f"evt_{event.id}", "status_code": attempt and attempt.status_code,
            "latency_ms": attempt and attempt.latency_ms,
            "response": attempt.response if attempt else "",
            "error": attempt.error if attempt else _("not sent"), "ok": bool(
                attempt and attempt.status_code and 200 <= attempt.status_code < 300)}
