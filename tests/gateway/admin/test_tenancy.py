"""Every admin page and action, used by a logged-in user of one account with another's ids.

Expected: 404 (or, for pages without ids, nothing of the other account) and the other
account's data unchanged. New admin routes are picked up automatically; a path parameter
without a victim resource below fails the test, so coverage cannot silently shrink.
"""

import json

import pytest

from gateway import contacts
from gateway.auth import create_user
from gateway.contacts import Provenance
from tests.gateway.admin.conftest import csrf_of, login_client
from tests.gateway.test_openapi import served_operations
from tests.gateway.test_tenancy import snapshot

VICTIM_EMAIL = "victim@example.com"


def victim_resources(account_id: int, token_id: int) -> dict:
    """One resource of each kind in the victim account, keyed by path parameter name."""
    from gateway.models import Vocabulary
    contact = contacts.create(account_id, {"email": VICTIM_EMAIL, "language": "nl",
                                           "source": "Website"}, Provenance(channel="api"))
    entry = Vocabulary.get(account=account_id, kind="source", name="Website")
    params = {"contact_id": contact.id, "token_id": token_id, "entry_id": entry.id,
              "kind": "sources", "rest": "anything"}
    try:
        from gateway.imports import service as imports
        params["import_id"] = imports.create_from_upload(
            account_id, "victim.csv", [f"email\r\n{VICTIM_EMAIL}\r\n".encode()]).id
    except ImportError:
        pass
    try:
        from forms import definitions as forms
        params["form_id"] = forms.create_form(account_id, {"name": "Victim form",
                                                           "source": "Website"}).id
    except ImportError:
        pass
    try:
        from connectors import service as hooks
        from connectors.models import Delivery
        hook, _ = hooks.create_hook(account_id, {"name": "Victim hook", "source": "Website",
                                                 "mapping": {"email": "email"}})
        params["hook_id"] = hook.id
        params["delivery_id"] = Delivery.create(id="victim-delivery", hook=hook.id,
                                                account=account_id, status="dead",
                                                payload={"email": VICTIM_EMAIL}).id
    except ImportError:
        pass
    try:
        from events import endpoints
        from events.models import Event, EventDelivery
        endpoint, _ = endpoints.create_endpoint(account_id, {
            "url": "https://crm.example.com/events", "events": ["contact.created"],
            "description": "Victim endpoint"})
        event = Event.create(account=account_id, type="contact.created",
                             data=json.dumps({"contact": {"email": VICTIM_EMAIL}}))
        params["endpoint_id"] = endpoint.id
        params["action"] = "delete"  # the most destructive of the endpoint actions
        params["event_delivery_id"] = EventDelivery.create(event=event.id, endpoint=endpoint.id,
                                                           status="dead").id
    except ImportError:
        pass
    return params


def fill(path: str, params: dict) -> str:
    import re

    def value(match):
        if match.group(1) not in params:
            pytest.fail(f"no victim resource for path parameter {{{match.group(1)}}} in {path}")
        return str(params[match.group(1)])
    return re.sub(r"\{(\w+)\}", value, path)


def test_no_admin_page_reaches_another_account(client, app, tenant, other_tenant):
    victim = victim_resources(tenant.id, tenant.token_id)
    before = snapshot(tenant.id)
    create_user(other_tenant.id, "attacker@example.com", "attacker-password")
    assert login_client(client, "attacker@example.com", "attacker-password").status_code == 303
    token = csrf_of(client.get("/admin/contacts").text)
    checked = 0
    for template, method in served_operations(app.routes):
        if not template.startswith("/admin/") or template in (
                "/admin/logout", "/admin/logout/everywhere", "/admin/login"):
            continue
        path = fill(template, victim)
        data = {"csrf_token": token} if method == "post" else None
        r = client.request(method.upper(), path, data=data, follow_redirects=False)
        checked += 1
        assert r.status_code < 500, f"{method} {path}: {r.status_code}"
        assert VICTIM_EMAIL not in r.text and "Victim" not in r.text, f"{method} {path} leaks"
        if "{" in template and template != "/admin/settings/{kind}":
            assert r.status_code == 404, f"{method} {path}: {r.status_code}"
    assert checked > 30
    assert snapshot(tenant.id) == before
