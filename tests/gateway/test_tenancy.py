"""Every API route, called with one account's token and another account's ids.

Expected: 403/404 (or, for listings, nothing of the other account), and the other account's
data unchanged. New routes are picked up automatically; a route whose path parameter has no
victim resource below fails the test, so coverage cannot silently shrink.
"""

import re

import pytest

from gateway.models import Contact
from gateway.schema import all_models
from tests.gateway.test_openapi import expand, served_operations

# Routes that are public by design (no account data) or act on the caller's own account.
PUBLIC = {("/api/openapi.json", "get")}


def victim_resources(client, tenant) -> dict:
    """One resource of each kind in the victim account, keyed by path parameter name."""
    h = tenant.headers
    contact = client.post("/api/contacts", json={"email": "victim@example.com", "language": "nl",
                                                 "source": "Website", "first_name": "Vic"},
                          headers=h).json()
    source = client.get("/api/sources", headers=h).json()["items"][0]
    field = client.post("/api/custom-fields", json={"name": "city", "type": "text"},
                        headers=h).json()
    params = {"contact_id": contact["id"], "email": contact["email"], "entry_id": source["id"],
              "_field_id": field["id"]}
    params.update(area_resources(client, tenant))
    return params


def area_resources(client, tenant) -> dict:
    """Resources of the other areas (imports, forms, hooks) when they are installed."""
    found = {}
    for name, fn in AREA_FACTORIES.items():
        value = fn(client, tenant)
        if value is not None:
            found[name] = value
    return found


def _import(client, tenant) -> int:
    r = client.post("/api/imports", headers=tenant.headers, json={"contacts": [
        {"email": "imported@example.com", "language": "nl", "source": "Website"}]})
    assert r.status_code == 202, r.text
    return r.json()["id"]


def _form(client, tenant) -> int:
    r = client.post("/api/forms", headers=tenant.headers,
                    json={"name": "Victim form", "source": "Website", "languages": ["nl"]})
    assert r.status_code == 201, r.text
    return r.json()["id"]


def _hook(client, tenant) -> int:
    r = client.post("/api/hooks", headers=tenant.headers, json={
        "kind": "generic", "name": "victim", "auth": "bearer", "source": "Website",
        "language": "nl", "mapping": {"email": "email"}})
    assert r.status_code == 201, r.text
    return r.json()["id"]


def _delivery(client, tenant) -> str:
    """A dead letter of the victim's newest hook, as a worker leaves it."""
    from connectors.models import Delivery, Hook
    hook = Hook.select().where(Hook.account == tenant.id).order_by(Hook.id.desc()).first()
    return Delivery.create(id="dlv_victim", hook=hook.id, account=tenant.id, status="dead",
                           payload={"email": "victim@example.com"}, attempts=3).id


def _event_endpoint(client, tenant) -> int:
    r = client.post("/api/event-endpoints", headers=tenant.headers, json={
        "url": "https://crm.example.com/events", "events": ["contact.created"]})
    assert r.status_code == 201, r.text
    return r.json()["id"]


def _event_delivery(client, tenant) -> int:
    """A dead event delivery of the victim's newest endpoint."""
    from events.models import Event, EventDelivery, EventEndpoint
    endpoint = (EventEndpoint.select().where(EventEndpoint.account == tenant.id)
                .order_by(EventEndpoint.id.desc()).first())
    event = Event.create(account=tenant.id, type="contact.created",
                         data='{"contact": {"email": "victim@example.com"}}')
    return EventDelivery.create(event=event.id, endpoint=endpoint.id, status="dead").id


# Order matters: a delivery needs the hook (or endpoint) made just before it.
AREA_FACTORIES: dict = {"import_id": _import, "form_id": _form, "hook_id": _hook,
                        "delivery_id": _delivery, "endpoint_id": _event_endpoint,
                        "event_delivery_id": _event_delivery}


def snapshot(account_id: int) -> list:
    """Every row that belongs to the account, for a before/after comparison."""
    contact_ids = [c.id for c in Contact.select(Contact.id).where(Contact.account == account_id)]
    rows = []
    for model in all_models():
        fields = model._meta.fields
        if "account" in fields:
            query = model.select().where(model.account == account_id)
        elif "contact" in fields:
            query = model.select().where(model.contact.in_(contact_ids or [0]))
        else:
            continue
        for row in query.order_by(model._meta.primary_key):
            data = row.__data__.copy()
            data.pop("last_used_at", None)
            rows.append((model.__name__, data))
    return rows


def fill(path: str, params: dict) -> str:
    def value(match):
        name = match.group(1)
        if name not in params:
            pytest.fail(f"no victim resource for path parameter {{{name}}} in {path}")
        return str(params[name])
    return re.sub(r"\{(\w+)\}", value, path)


def test_no_route_reaches_another_account(client, app, tenant, other_tenant):
    victim = victim_resources(client, tenant)
    before = snapshot(tenant.id)
    attacker = other_tenant.headers
    checked = 0
    for template, method in served_operations(app.routes):
        if not template.startswith("/api/") or (template, method) in PUBLIC:
            continue
        for concrete in expand(template):
            path = fill(concrete, victim)
            kwargs = {"json": {}} if method in ("post", "put", "patch") else {}
            r = client.request(method.upper(), path, headers=attacker, **kwargs)
            checked += 1
            assert r.status_code < 500, f"{method} {path}: {r.status_code}"
            if "{" not in concrete or concrete.endswith("{email}"):
                # listings and own-account actions: the victim's data must not show up
                assert "victim@example.com" not in r.text, f"{method} {path} leaks"
            elif r.status_code in (400, 422):
                # the body was refused before the id was looked up: that must say nothing
                # about the victim, so a missing id gets the very same answer
                missing = fill(concrete, {k: 2_000_000_000 if isinstance(v, int) else
                                          "dlv_missing" for k, v in victim.items()})
                same = client.request(method.upper(), missing, headers=attacker, **kwargs)
                assert same.status_code == r.status_code, f"{method} {path}"
            else:
                assert r.status_code in (403, 404, 405), f"{method} {path}: {r.status_code}"
    assert checked > 20
    assert snapshot(tenant.id) == before


def test_basic_auth_with_another_accounts_id_is_refused(client, tenant, other_tenant):
    import base64
    raw = base64.b64encode(f"{tenant.id}:{other_tenant.token}".encode()).decode()
    r = client.get("/api/contacts", headers={"Authorization": f"Basic {raw}"})
    assert r.status_code == 401


def test_owned_gives_another_accounts_row_the_answer_of_a_missing_one(tenant, other_tenant):
    from gateway.contacts import Provenance, upsert
    from gateway.errors import NotFound
    from gateway.tenancy import owned
    contact, _ = upsert(tenant.id, {"email": "own@example.com", "language": "nl",
                                    "source": "Website"}, status="confirmed",
                        provenance=Provenance("api"), field_types={})
    assert owned(Contact, tenant.id, str(contact.id), "contact").id == contact.id
    answers = []
    for account, ref in ((other_tenant.id, contact.id), (tenant.id, 999_999), (tenant.id, "x")):
        with pytest.raises(NotFound) as info:
            owned(Contact, account, ref, "contact")
        answers.append(info.value.to_dict())
    assert answers[0] == answers[1] == answers[2]
