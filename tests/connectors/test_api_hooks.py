"""/api/hooks: create (secret once), read, change, delete, dry run, deliveries, OpenAPI."""

from __future__ import annotations

from gateway.models import Contact


def test_create_shows_the_secret_once(client, tenant):
    r = client.post("/api/hooks", json={"kind": "generic", "name": "Zapier",
                                        "auth": "standard-webhooks", "source": "Website",
                                        "language": "nl", "mapping": {"email": "email"}},
                    headers=tenant.headers)
    assert r.status_code == 201, r.text
    hook = r.json()
    assert hook["secret"].startswith("whsec_")
    assert hook["url"] == f"http://testserver/hooks/{hook['id']}"
    assert r.headers["location"].endswith(f"/api/hooks/{hook['id']}")
    got = client.get(f"/api/hooks/{hook['id']}", headers=tenant.headers).json()
    assert "secret" not in got and got["name"] == "Zapier"
    listed = client.get("/api/hooks", headers=tenant.headers).json()["items"]
    assert [h["id"] for h in listed] == [hook["id"]] and "secret" not in listed[0]
    assert (got["contact_status"], got["on_delete"], got["enabled"]) == (
        "confirmed", "ignore", True)


def test_invalid_hooks_are_refused_with_every_problem(client, tenant):
    r = client.post("/api/hooks", json={"kind": "generic", "name": "", "auth": "basic",
                                        "source": "website", "language": "xx",
                                        "mapping": {"mail": "email"}, "colour": "red",
                                        "contact_status": "unconfirmed"},
                    headers=tenant.headers)
    assert r.status_code == 422
    details = {d["field"]: d for d in r.json()["error"]["details"]}
    assert set(details) == {"colour", "name", "auth", "mapping.mail", "mapping.email",
                            "source", "language", "form_id"}
    assert details["source"]["code"] == "unknown_source"
    r = client.post("/api/hooks", json={"name": "x", "source": {"a": 1}, "language": [],
                                        "mapping": {"email": "email"}},
                    headers=tenant.headers)
    assert r.status_code == 422
    assert {d["field"] for d in r.json()["error"]["details"]} == {"source", "language"}
    r = client.post("/api/hooks", json={"kind": "salesforce", "name": "x"},
                    headers=tenant.headers)
    assert r.status_code == 422 and r.json()["error"]["details"][0]["field"] == "kind"
    r = client.post("/api/hooks", content=b"{", headers=tenant.headers | {
        "content-type": "application/json"})
    assert r.status_code == 400
    assert client.get("/api/hooks", headers=tenant.headers).json()["items"] == []


def test_a_mapped_source_makes_the_default_optional(client, tenant):
    r = client.post("/api/hooks", json={"name": "n8n", "mapping": {
        "email": "email", "source": {"value": "Fair"}}}, headers=tenant.headers)
    assert r.status_code == 201, r.text
    assert r.json()["source"] is None and r.json()["language"] == "nl"


def test_patch_and_delete(client, tenant, hooks):
    hook, _ = hooks.create()
    r = client.patch(f"/api/hooks/{hook['id']}", json={"name": "Make", "source": "Fair",
                                                       "language_map": {"Dutch": "nl"}},
                     headers=tenant.headers)
    assert r.status_code == 200
    assert (r.json()["name"], r.json()["source"], r.json()["language_map"]) == (
        "Make", "Fair", {"Dutch": "nl"})
    r = client.patch(f"/api/hooks/{hook['id']}", json={"kind": "efficy"},
                     headers=tenant.headers)
    assert r.status_code == 422
    r = client.patch(f"/api/hooks/{hook['id']}", json={"source": "Nope"},
                     headers=tenant.headers)
    assert r.status_code == 422
    assert client.get(f"/api/hooks/{hook['id']}", headers=tenant.headers).json()[
        "source"] == "Fair"
    assert client.delete(f"/api/hooks/{hook['id']}", headers=tenant.headers).status_code == 204
    assert client.get(f"/api/hooks/{hook['id']}", headers=tenant.headers).status_code == 404
    assert client.post(f"/hooks/{hook['id']}", json={}).status_code == 404
    # a new hook answers at once, even where SQLite reuses the id just found missing
    again, secret = hooks.create()
    assert hooks.post(again, secret, {"email": "ann@example.com"}).status_code == 202


def test_other_accounts_and_scopes(client, tenant, other_tenant, hooks):
    from tests.conftest import make_tenant
    hook, _ = hooks.create()
    for method, path in (("GET", ""), ("PATCH", ""), ("DELETE", ""), ("POST", "/test"),
                         ("POST", "/rotate-secret"), ("GET", "/deliveries"),
                         ("GET", "/dead-letters"), ("POST", "/dead-letters/replay")):
        r = client.request(method, f"/api/hooks/{hook['id']}{path}", json={},
                           headers=other_tenant.headers)
        assert r.status_code == 404, (method, path)
    assert client.get("/api/hooks", headers=other_tenant.headers).json()["items"] == []
    reader = make_tenant("Reader", scopes=("contacts:read", "contacts:write"))
    assert client.get("/api/hooks", headers=reader.headers).status_code == 403
    assert client.get("/api/hooks").status_code == 401


def test_dry_run_shows_what_records_would_become_and_writes_nothing(client, tenant, hooks):
    client.post("/api/contacts", json={"email": "bob@example.com", "language": "fr",
                                       "source": "Fair"}, headers=tenant.headers)
    hook, _ = hooks.create(mapping={"email": "contact.email", "first_name": "contact.first",
                                    "language": "contact.lang"},
                           language_map={"Dutch": "nl"})
    sample = [{"contact": {"email": "Ann@Example.com", "first": "Ann", "lang": "Dutch"}},
              {"contact": {"email": "bob@example.com", "first": "Bob"}},
              {"contact": {"email": "nope", "lang": "Klingon"}}]
    r = client.post(f"/api/hooks/{hook['id']}/test", json=sample, headers=tenant.headers)
    assert r.status_code == 200, r.text
    preview = r.json()
    assert preview["counts"] == {"created": 1, "updated": 1, "unchanged": 0,
                                 "blacklisted": 0, "ignored": 0, "failed": 1, "skipped": 0}
    first, second, third = preview["records"]
    assert first["outcome"] == "created"
    assert first["contact"] == {"email": "ann@example.com", "first_name": "Ann",
                                "language": "nl", "source": "Website",
                                "status": "confirmed"}
    assert second["outcome"] == "updated" and second["contact_id"]
    assert {e["code"] for e in third["errors"]} == {"invalid_email", "unknown_language"}
    assert Contact.select().count() == 1  # nothing written
    r = client.post(f"/api/hooks/{hook['id']}/test", json="x", headers=tenant.headers)
    assert r.status_code == 400


def test_deliveries_listing(client, tenant, hooks, work):
    hook, secret = hooks.create()
    ids = [hooks.post(hook, secret, {"email": f"u{i}@example.com"}).json()["delivery_id"]
           for i in range(3)]
    work()
    items = client.get(f"/api/hooks/{hook['id']}/deliveries?limit=2",
                       headers=tenant.headers).json()["items"]
    assert [d["id"] for d in items] == ids[::-1][:2]
    one = client.get(f"/api/hooks/{hook['id']}/deliveries/{ids[0]}", headers=tenant.headers)
    assert one.json()["payload"] == {"email": "u0@example.com"}
    assert client.get(f"/api/hooks/{hook['id']}/deliveries?status=dead",
                      headers=tenant.headers).json()["items"] == []
    assert client.get(f"/api/hooks/{hook['id']}/deliveries?status=lost",
                      headers=tenant.headers).status_code == 400
    assert client.get(f"/api/hooks/{hook['id']}/deliveries?limit=0",
                      headers=tenant.headers).status_code == 400
    assert client.get(f"/api/hooks/{hook['id']}/deliveries/dlv_nope",
                      headers=tenant.headers).status_code == 404


def test_openapi_describes_the_hook_routes(client):
    doc = client.get("/api/openapi.json").json()
    for path in ("/hooks/{hook_id}", "/hooks/efficy/{hook_id}", "/api/hooks",
                 "/api/hooks/{hook_id}", "/api/hooks/{hook_id}/test",
                 "/api/hooks/{hook_id}/rotate-secret", "/api/hooks/{hook_id}/deliveries",
                 "/api/hooks/{hook_id}/dead-letters",
                 "/api/hooks/{hook_id}/dead-letters/{delivery_id}/replay"):
        assert path in doc["paths"], path
    assert "HookWithSecret" in doc["components"]["schemas"]
