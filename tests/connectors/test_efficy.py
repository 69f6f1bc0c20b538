"""The Efficy connector: real-looking Efficy Enterprise payloads, every operation."""

from __future__ import annotations

import pytest

from connectors import efficy
from gateway.errors import BadRequest
from gateway.models import Contact


def payload(*records) -> dict:
    return {"database": "ACME_PROD", "version": "11.3.1420", "records": list(records)}


def record(operation: str, key: int, fields: dict, table: int = 11000) -> dict:
    return {"table": table, "key": key, "operation": operation, "user": "JDOE",
            "subject": f"{fields.get('FIRSTNAME', '')} {fields.get('NAME', '')}".strip(),
            "fields": fields, "date": "2026-11-25T09:14:03+01:00"}


ANN = {"K_CONTACT": 4711, "NAME": "Peeters", "FIRSTNAME": "Ann",
       "EMAIL1": "Ann.Peeters@Example.be", "LANGUAGE": "N", "PHONE1": "+32 9 123 45 67"}


def test_split_keeps_contact_records_and_counts_the_rest():
    found, skipped = efficy.split(payload(record("Create", 1, ANN),
                                          record("Create", 9, {"NAME": "Acme"}, table=10000),
                                          record("update", 2, {"NAME": "X"})))
    assert [(r.key, r.operation) for r in found] == [("1", "Create"), ("2", "Update")]
    assert skipped == 1


@pytest.mark.parametrize("bad", [[], {"records": "x"}, {"records": [1]},
                                 {"records": [{"table": 11000, "key": 1}]},
                                 {"records": [{"table": 11000, "operation": "Create"}]}])
def test_split_refuses_malformed_payloads(bad):
    with pytest.raises(BadRequest):
        efficy.split(bad)


@pytest.fixture
def efficy_hook(hooks):
    return hooks.create(kind="efficy", name="Efficy CRM", mapping={}, source="Fair",
                        language=None)


def _ann(client, tenant):
    r = client.get("/api/contacts?email=ann.peeters@example.be", headers=tenant.headers)
    return r.json()["items"][0] if r.json()["items"] else None


def test_create_update_without_email_and_ignored_delete(client, tenant, hooks, work,
                                                        efficy_hook):
    hook, secret = efficy_hook
    assert hook["url"].endswith(f"/hooks/efficy/{hook['id']}")
    r = hooks.post(hook, secret, payload(record("Create", 4711, ANN)))
    assert r.status_code == 202 and r.json()["records"] == 1
    work()
    ann = _ann(client, tenant)
    assert (ann["first_name"], ann["name"], ann["language"], ann["source"], ann["status"]) == (
        "Ann", "Peeters", "nl", "Fair", "confirmed")
    # Efficy sends only the changed fields on Update: the key finds the contact
    hooks.post(hook, secret, payload(record("Update", 4711, {"NAME": "Peeters-Janssens"})))
    work()
    assert _ann(client, tenant)["name"] == "Peeters-Janssens"
    hooks.post(hook, secret, payload(record("Delete", 4711, {})))
    work()
    assert _ann(client, tenant)["status"] == "confirmed"  # Delete is ignored by default
    last = client.get(f"/api/hooks/{hook['id']}/deliveries",
                      headers=tenant.headers).json()["items"][0]
    assert last["result"]["counts"]["ignored"] == 1


def test_delete_blacklists_when_configured(client, tenant, hooks, work, efficy_hook):
    hook, secret = efficy_hook
    client.patch(f"/api/hooks/{hook['id']}", json={"on_delete": "blacklist"},
                 headers=tenant.headers)
    hooks.post(hook, secret, payload(record("Create", 4711, ANN)))
    hooks.post(hook, secret, payload(record("Delete", 4711, {})))
    work()
    assert _ann(client, tenant)["status"] == "blacklisted"
    # and a later Update never re-activates or changes it
    hooks.post(hook, secret, payload(record("Update", 4711, {"FIRSTNAME": "Anna"})))
    work()
    assert (_ann(client, tenant)["status"], _ann(client, tenant)["first_name"]) == (
        "blacklisted", "Ann")


def test_create_then_update_in_one_payload_and_other_tables_skipped(client, tenant, hooks,
                                                                    work, efficy_hook):
    hook, secret = efficy_hook
    r = hooks.post(hook, secret, payload(
        record("Create", 4711, ANN),
        record("Create", 88, {"NAME": "Acme NV", "VAT": "BE0123456789"}, table=10000),
        record("Update", 4711, {"FIRSTNAME": "Anna", "LANGUAGE": "F"})))
    assert r.json() == {"delivery_id": r.json()["delivery_id"], "duplicate": False,
                        "records": 2, "skipped": 1}
    work()
    ann = _ann(client, tenant)
    assert (ann["first_name"], ann["language"]) == ("Anna", "fr")
    counts = client.get(f"/api/hooks/{hook['id']}/deliveries",
                        headers=tenant.headers).json()["items"][0]["result"]["counts"]
    assert (counts["created"], counts["updated"], counts["skipped"]) == (1, 1, 1)


def test_only_other_tables_is_accepted_and_skipped(client, tenant, hooks, work, efficy_hook):
    hook, secret = efficy_hook
    r = hooks.post(hook, secret, payload(record("Update", 5, {"NAME": "x"}, table=10000)))
    assert r.status_code == 202 and (r.json()["records"], r.json()["skipped"]) == (0, 1)
    work()
    assert Contact.select().count() == 0


def test_an_update_for_an_unknown_key_without_email_is_a_dead_letter(client, tenant, hooks,
                                                                     work, efficy_hook):
    hook, secret = efficy_hook
    hooks.post(hook, secret, payload(record("Update", 999, {"NAME": "Nobody"})))
    work()
    dead = client.get(f"/api/hooks/{hook['id']}/dead-letters",
                      headers=tenant.headers).json()["items"]
    assert dead[0]["result"]["records"][0]["errors"][0]["code"] == "unknown_key"


def test_overridden_mapping(client, tenant, hooks, work):
    hook, secret = hooks.create(kind="efficy", name="Efficy", source="Fair",
                                mapping={"email": "fields.EMAIL2",
                                         "custom_fields.city": "fields.CITY"})
    client.post("/api/custom-fields", json={"name": "city", "type": "text"},
                headers=tenant.headers)
    hooks.post(hook, secret, payload(record("Create", 1, {"EMAIL1": "work@example.be",
                                                          "EMAIL2": "home@example.be",
                                                          "CITY": "Gent"})))
    work()
    items = client.get("/api/contacts", headers=tenant.headers).json()["items"]
    assert [(c["email"], c["custom_fields"]) for c in items] == [
        ("home@example.be", {"city": "Gent"})]


def test_the_efficy_url_refuses_a_generic_hook(client, tenant, hooks):
    hook, secret = hooks.create()
    r = client.post(f"/hooks/efficy/{hook['id']}", json=payload())
    assert r.status_code == 404


def test_an_over_long_key_fails_that_record_only_with_a_clean_error(client, tenant, hooks,
                                                                   work, efficy_hook):
    """A 100-character key was a raw DataError on PostgreSQL, dead-lettered whole."""
    hook, secret = efficy_hook
    bob = ANN | {"EMAIL1": "bob@example.com", "FIRSTNAME": "Bob"}
    long_key = "K" * 100
    r = hooks.post(hook, secret, payload(record("Create", long_key, ANN),
                                         record("Create", "k" * 64, bob)))
    assert r.status_code == 202
    work()
    dead = client.get(f"/api/hooks/{hook['id']}/dead-letters",
                      headers=tenant.headers).json()["items"]
    assert len(dead) == 1 and dead[0]["attempts"] == 1  # no retries: it cannot succeed
    assert dead[0]["result"]["counts"]["failed"] == 1
    assert dead[0]["result"]["counts"]["created"] == 1  # the other record is written
    failed = dead[0]["result"]["records"][0]
    assert failed["errors"] == [{"field": "key", "code": "too_long", "message":
                                 "An Efficy key has at most 64 characters; this one has 100."}]
    assert "DataError" not in dead[0]["error"] and "value too long" not in dead[0]["error"]
    assert _ann(client, tenant) is None
    assert Contact.get(Contact.email == "bob@example.com").first_name == "Bob"
