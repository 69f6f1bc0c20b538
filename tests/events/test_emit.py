"""The outbox write: a stale subscription cache never fails the change it rides on."""

from __future__ import annotations


def test_an_endpoint_deleted_by_another_process_does_not_fail_writes(
        client, tenant, receiver, subscribe, deliver, monkeypatch):
    from events import emit
    from events.models import EventDelivery, EventEndpoint
    from gateway.db import db
    monkeypatch.setattr(emit, "SUBSCRIPTIONS_TTL", 3600.0)
    endpoint, _ = subscribe(["contact.created"])
    client.post("/api/contacts", headers=tenant.headers, json={
        "email": "first@example.com", "language": "en", "source": "Website"})
    assert endpoint["id"] in emit.subscriptions(tenant.id)["contact.created"]  # cached
    with db.connection_context():  # as another process would: this one's cache stays
        EventEndpoint.delete().where(EventEndpoint.id == endpoint["id"]).execute()
    r = client.post("/api/contacts", headers=tenant.headers, json={
        "email": "second@example.com", "language": "en", "source": "Website"})
    assert r.status_code == 201, r.text
    assert client.get(f"/api/contacts/{r.json()['id']}", headers=tenant.headers).status_code == 200
    with db.connection_context():
        assert EventDelivery.select().count() == 0
    deliver()
    assert receiver.requests == []


# Values whose JSON needs escaping, and an empty cell (a null first name).
ODD_NAMES = ['Quo"te', "back\\slash", "Chloé ☃ 😀", "</script>", "O'Brien", "", "tab\there"]


def test_set_based_events_carry_the_contact_as_each_change_committed_it(
        client, tenant, receiver, subscribe, deliver, run_jobs):
    """The import's events (one statement per kind of change) hold the API's contact shape,
    as of their own change: a later change never alters an earlier event's payload."""
    from gateway.accounts import add_custom_field
    from tests.gateway.imports.conftest import Importer, csv_bytes
    add_custom_field(tenant.id, {"name": "birthday", "type": "date"})
    add_custom_field(tenant.id, {"name": "topics", "type": "multiple_choice",
                                 "choices": ["News", "Jobs"]})
    add_custom_field(tenant.id, {"name": "note", "type": "text"})
    subscribe(["contact.created", "contact.updated"], batch=True)
    importer = Importer(client, tenant, run_jobs)
    header = ["email", "first_name", "language", "source", "interests", "birthday", "topics",
              "note"]
    rows = [[f"c{i}@example.com", ODD_NAMES[i % len(ODD_NAMES)], "nl", "Fair",
             "Sports,Music" if i % 2 else "", "2001-02-03" if i % 3 else "",
             "News,Jobs" if i % 4 else "", f'say "{i}" \\ é']
            for i in range(21)]
    assert importer.run(csv_bytes([header, *rows]))["counts"]["created"] == 21
    as_created = {c: importer.contact(c) for c in (row[0] for row in rows)}
    # every other contact changes: their ids are not consecutive (the id-list statement)
    changed = [[row[0], f"{row[1]}-2", *row[2:7], ""] for row in rows[::2]]
    assert importer.run(csv_bytes([header, *changed]))["counts"]["updated"] == len(changed)
    as_updated = {row[0]: importer.contact(row[0]) for row in changed}
    client.patch(f"/api/contacts/{as_created['c0@example.com']['id']}",
                 headers=tenant.headers, json={"first_name": "Later"})
    deliver()
    events = receiver.events()
    created = [e["data"] for e in events if e["type"] == "contact.created"]
    assert [d["contact"] for d in created] == list(as_created.values())
    assert {(d["channel"], tuple(d["changed"])) for d in created} == {("import", ())}
    updated = [e["data"] for e in events if e["type"] == "contact.updated"]
    assert [d["contact"] for d in updated[:len(changed)]] == list(as_updated.values())
    assert all(d["changed"] == ["first_name"] for d in updated[:len(changed)])
    assert updated[-1]["contact"]["first_name"] == "Later" and updated[-1]["channel"] == "api"


def test_event_writes_skip_the_index_and_the_check_they_do_not_need(store):
    """Schema version 22: no created_at index (the purge walks ids); on PostgreSQL a delivery
    does not check by constraint the event it is written with. Version 24: one delivery per
    event and endpoint (a fan-out done twice adds nothing)."""
    from gateway.db import db, is_postgres
    schema = db.execute_sql("SELECT current_schema()").fetchone()[0] if is_postgres() else None
    assert "event_created_at" not in {index.name for index in db.get_indexes("event", schema)}
    targets = {fk.dest_table for fk in db.get_foreign_keys("event_delivery", schema)}
    assert targets == ({"event_endpoint"} if is_postgres() else {"event", "event_endpoint"})
    unique = {tuple(index.columns) for index in db.get_indexes("event_delivery", schema)
              if index.unique}
    assert ("event_id", "endpoint_id") in unique


def test_an_import_leaves_its_deliveries_to_the_workers(client, tenant, receiver, subscribe,
                                                        deliver, run_jobs):
    """#19: an import's transaction writes its events and one fan-out row per statement, no
    delivery per event; the worker writes those, and every event still arrives once."""
    from events.models import Event, EventDelivery, EventFanout
    from gateway.db import db
    from gateway.imports import jobs as import_jobs
    from gateway.imports import service
    from tests.gateway.imports.conftest import Importer, csv_bytes
    subscribe(["contact.created"], batch=True)
    rows = [[f"f{i}@example.com", "nl", "Fair"] for i in range(250)]
    importer = Importer(client, tenant, run_jobs)
    imp = importer.validate(csv_bytes([["email", "language", "source"], *rows]))
    with db.connection_context():
        service.finalise(tenant.id, imp["id"])
    import_jobs.finalise_import(imp["id"])  # the job itself: the delivery run stays queued
    assert importer.get(imp["id"])["counts"]["created"] == 250
    with db.connection_context():
        assert Event.select().where(Event.type == "contact.created").count() == 250
        assert EventDelivery.select().count() == 0
        assert 1 <= EventFanout.select().count() <= 3
    deliver()
    assert sorted(e["data"]["contact"]["email"] for e in receiver.events()) == sorted(
        row[0] for row in rows)
    with db.connection_context():
        assert EventFanout.select().count() == 0
        assert EventDelivery.select().where(EventDelivery.status == "delivered").count() == 250


def test_a_fanout_done_twice_adds_nothing_and_skips_a_disabled_endpoint(
        client, tenant, receiver, subscribe, deliver):
    """On PostgreSQL another transaction's fan-out range can cover the same events: the
    deliveries stay one per event and endpoint. An endpoint disabled before the fan-out
    gets no delivery."""
    from events import jobs
    from events.models import EventDelivery, EventFanout
    from gateway.db import db
    kept, _ = subscribe(["contact.created"])
    off, _ = subscribe(["contact.created"])
    for i in range(3):
        r = client.post("/api/contacts", headers=tenant.headers, json={
            "email": f"twice{i}@example.com", "language": "en", "source": "Website"})
        assert r.status_code == 201, r.text
    r = client.patch(f"/api/event-endpoints/{off['id']}", headers=tenant.headers,
                     json={"enabled": False})
    assert r.status_code == 200, r.text
    with db.connection_context():
        rows = list(EventFanout.select())
        assert [row.endpoints for row in rows] == [sorted([kept["id"], off["id"]])] * 3
        EventFanout.create(account=tenant.id, type="contact.created",  # all three again
                           first_event=rows[0].first_event, last_event=rows[-1].last_event,
                           endpoints=rows[0].endpoints)
        while jobs.fan_out():
            pass
        assert [d.endpoint_id for d in EventDelivery.select()] == [kept["id"]] * 3
    deliver()
    assert sorted(e["data"]["contact"]["email"] for e in receiver.events()) == [
        f"twice{i}@example.com" for i in range(3)]
