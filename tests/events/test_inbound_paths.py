"""Every inbound path emits its events through the one store path (not per path)."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from tests.connectors.conftest import Hooks
from tests.forms.conftest import aged_ts, confirm_link
from tests.gateway.admin.conftest import PASSWORD, csrf_of, login_client
from tests.gateway.imports.conftest import Importer, csv_bytes


def _by_type(receiver) -> dict[str, list[dict]]:
    found: dict[str, list[dict]] = {}
    for event in receiver.events():
        found.setdefault(event["type"], []).append(event)
    return found


def test_import_emits_created_updated_and_finished(client, tenant, receiver, subscribe,
                                                   deliver, run_jobs):
    subscribe(["contact.created", "contact.updated", "import.finished"], batch=True)
    client.post("/api/contacts", headers=tenant.headers, json={
        "email": "old@example.com", "language": "nl", "source": "Fair"})
    importer = Importer(client, tenant, run_jobs)
    rows = [["email", "first_name", "language", "source"],
            ["old@example.com", "Olga", "nl", "Fair"],
            *[[f"new{i}@example.com", f"N{i}", "en", "Website"] for i in range(30)]]
    imp = importer.validate(csv_bytes(rows))
    imp = importer.finalise(imp["id"])
    assert imp["step"] == "done"
    deliver()
    events = _by_type(receiver)
    assert len(events["contact.created"]) == 31  # one by the API, thirty by the import
    created = [e["data"] for e in events["contact.created"] if e["data"]["channel"] == "import"]
    assert sorted(d["contact"]["email"] for d in created) == sorted(
        f"new{i}@example.com" for i in range(30))
    [updated] = events["contact.updated"]
    assert updated["data"]["changed"] == ["first_name", "status"] or \
        updated["data"]["changed"] == ["first_name"]
    [finished] = events["import.finished"]
    assert finished["data"]["import"]["id"] == imp["id"]
    assert finished["data"]["import"]["counts"]["created"] == 30
    # batched: far fewer POSTs than events, each a JSON array
    assert len(receiver.requests) < len(receiver.events())
    assert all(r["body"].startswith(b"[") for r in receiver.requests)


def test_form_confirm_link_and_unsubscribe_link(client, tenant, settings, receiver, subscribe,
                                                deliver, run_jobs, mailbox):
    subscribe()
    r = client.post("/api/forms", headers=tenant.headers, json={
        "name": "Newsletter", "source": "Website", "fields": ["first_name"], "welcome": True})
    form = r.json()
    r = client.post(f"/f/{form['slug']}", data={
        "_ts": aged_ts(settings, form["id"]), "_lang": "en", "_embed": "hosted",
        "email": "vis@example.com", "first_name": "Vis"}, follow_redirects=False)
    assert r.status_code == 200, r.text
    run_jobs()
    [mail] = mailbox.to("vis@example.com")
    assert "confirmed" in client.get(urlsplit(confirm_link(mail)).path).text
    run_jobs()
    welcome = [m for m in mailbox.to("vis@example.com") if m["List-Unsubscribe"]][0]
    unsubscribe = urlsplit(welcome["List-Unsubscribe"].strip().strip("<>")).path
    assert client.post(unsubscribe, data={"List-Unsubscribe": "One-Click"}).status_code == 200
    run_jobs()
    deliver()
    assert receiver.types() == ["contact.created", "contact.confirmed",
                                "contact.unsubscribed"]
    created, confirmed, unsubscribed = receiver.events()
    assert created["data"]["channel"] == "form"
    assert created["data"]["contact"]["status"] == "unconfirmed"
    assert confirmed["data"]["changed"] == ["status"]
    assert unsubscribed["data"]["contact"]["status"] == "blacklisted"


def test_hook_deliveries_emit_events(client, tenant, receiver, subscribe, deliver, run_jobs):
    subscribe(["contact.created", "contact.updated"])
    hooks = Hooks(client, tenant)
    hook, secret = hooks.create()
    assert hooks.post(hook, secret, [{"email": "crm@example.com", "first_name": "C"}]
                      ).status_code == 202
    run_jobs()
    assert hooks.post(hook, secret, {"email": "crm@example.com", "first_name": "Cee"}
                      ).status_code == 202
    run_jobs()
    deliver()
    assert receiver.types() == ["contact.created", "contact.updated"]
    assert {e["data"]["channel"] for e in receiver.events()} == {"connector"}


def test_admin_pages_emit_events(client, tenant, receiver, subscribe, deliver):
    from gateway.auth import create_user
    create_user(tenant.id, "boss@acme.example.com", PASSWORD)
    assert login_client(client, "boss@acme.example.com", PASSWORD).status_code == 303
    subscribe()
    token = csrf_of(client.get("/admin/contacts/new").text)
    r = client.post("/admin/contacts/new", data={
        "csrf_token": token, "email": "desk@example.com", "language": "en",
        "source": "Website", "obtained_rightfully": "yes"}, follow_redirects=False)
    assert r.status_code == 303, r.text
    contact_id = int(re.search(r"/admin/contacts/(\d+)", r.headers["location"]).group(1))
    page = client.get(f"/admin/contacts/{contact_id}").text
    r = client.post(f"/admin/contacts/{contact_id}/blacklist",
                    data={"csrf_token": csrf_of(page), "reason": "asked by phone"},
                    follow_redirects=False)
    assert r.status_code == 303, r.text
    deliver()
    assert receiver.types() == ["contact.created", "contact.blacklisted"]
    assert receiver.events()[0]["data"]["channel"] == "admin"
