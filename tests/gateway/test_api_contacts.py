"""The contacts API as a client uses it, on SQLite and PostgreSQL."""

import peewee
import pytest

from tests.conftest import make_tenant

ANN = {"email": "Ann@Example.com", "language": "nl", "source": "Website", "first_name": "Ann"}


def add(client, tenant, **fields):
    r = client.post("/api/contacts", json=ANN | fields, headers=tenant.headers)
    assert r.status_code == 201, r.text
    return r.json()


def test_add_list_and_conflict(client, tenant):
    r = client.post("/api/contacts", json=ANN, headers=tenant.basic)
    assert r.status_code == 201, r.text
    created = r.json()
    assert created["email"] == "ann@example.com"
    assert created["status"] == "confirmed"
    assert r.headers["location"].endswith(f"/api/contacts/{created['id']}")
    r = client.get("/api/contacts", headers=tenant.headers)
    assert r.status_code == 200
    assert r.json()["total"] == 1
    assert r.json()["items"][0]["id"] == created["id"]
    r = client.post("/api/contacts", json=ANN, headers=tenant.headers)
    assert r.status_code == 409
    assert r.json()["error"]["details"][0]["id"] == created["id"]


def test_contact_shape_is_the_spec_shape(client, tenant):
    contact = add(client, tenant, preferences=["Weekly"], interests="Sports, Music")
    assert set(contact) >= {"id", "email", "first_name", "name", "language", "source", "status",
                            "preferences", "interests", "custom_fields", "created_at",
                            "updated_at"}
    assert contact["preferences"] == ["Weekly"]
    assert contact["interests"] == ["Sports", "Music"]


@pytest.mark.parametrize("field,value,code", [
    ("email", "not-an-address", "invalid_email"),
    ("language", "xx", "unknown_language"),
    ("source", "website", "unknown_source"),
    ("preferences", ["weekly"], "unknown_preference"),
    ("interests", ["Cooking"], "unknown_interest"),
    ("first_name", "x" * 201, "too_long"),
])
def test_invalid_fields_are_refused_with_a_reason_and_nothing_stored(client, tenant, field,
                                                                     value, code):
    r = client.post("/api/contacts", json=ANN | {field: value}, headers=tenant.headers)
    assert r.status_code == 422
    detail = r.json()["error"]["details"][0]
    assert detail["field"] == field and detail["code"] == code
    assert client.get("/api/contacts", headers=tenant.headers).json()["total"] == 0


def test_case_only_mismatch_gets_a_suggestion(client, tenant):
    r = client.post("/api/contacts", json=ANN | {"source": "website"}, headers=tenant.headers)
    assert r.json()["error"]["details"][0]["suggestion"] == "Website"


def test_mandatory_fields(client, tenant):
    r = client.post("/api/contacts", json={"email": "x@example.com"}, headers=tenant.headers)
    assert r.status_code == 422
    assert {d["field"] for d in r.json()["error"]["details"]} == {"language", "source"}


def test_put_upserts_under_the_merge_rules(client, tenant):
    r = client.put("/api/contacts/bob@example.com",
                   json={"language": "fr", "source": "Fair", "first_name": "Bob",
                         "preferences": ["Weekly"]}, headers=tenant.headers)
    assert r.status_code == 201 and r.json()["outcome"] == "created"
    r = client.put("/api/contacts/bob@example.com",
                   json={"first_name": "", "name": "Dupont", "preferences": ["Monthly"]},
                   headers=tenant.headers)
    assert r.status_code == 200
    body = r.json()
    assert body["outcome"] == "updated"
    assert body["first_name"] == "Bob"  # empty never overwrites
    assert body["name"] == "Dupont"
    assert body["preferences"] == ["Weekly", "Monthly"]
    r = client.put("/api/contacts/bob@example.com", json={"name": "."}, headers=tenant.headers)
    assert r.json()["name"] is None
    r = client.put("/api/contacts/bob@example.com", json={"name": None}, headers=tenant.headers)
    assert r.json()["outcome"] == "unchanged"


def test_put_new_contact_needs_mandatory_fields(client, tenant):
    r = client.put("/api/contacts/new@example.com", json={"first_name": "N"},
                   headers=tenant.headers)
    assert r.status_code == 422


def test_blacklisted_contact_is_never_changed_by_upsert(client, tenant):
    contact = add(client, tenant)
    r = client.post(f"/api/contacts/{contact['id']}/blacklist", headers=tenant.headers)
    assert r.status_code == 200 and r.json()["status"] == "blacklisted"
    r = client.put("/api/contacts/ann@example.com",
                   json={"first_name": "Eve", "status": "confirmed"}, headers=tenant.headers)
    assert r.json()["outcome"] == "blacklisted"
    stored = client.get(f"/api/contacts/{contact['id']}", headers=tenant.headers).json()
    assert stored["first_name"] == "Ann" and stored["status"] == "blacklisted"


def test_patch_and_delete(client, tenant):
    contact = add(client, tenant, status="unconfirmed")
    r = client.patch(f"/api/contacts/{contact['id']}", json={"status": "confirmed",
                                                              "name": "Peeters"},
                     headers=tenant.headers)
    assert r.status_code == 200
    assert r.json()["status"] == "confirmed" and r.json()["name"] == "Peeters"
    r = client.patch(f"/api/contacts/{contact['id']}", json={"status": "unconfirmed"},
                     headers=tenant.headers)
    assert r.json()["status"] == "confirmed"  # rule 6
    r = client.patch(f"/api/contacts/{contact['id']}", json={"email": "other@example.com"},
                     headers=tenant.headers)
    assert r.status_code == 422
    assert client.delete(f"/api/contacts/{contact['id']}", headers=tenant.headers
                         ).status_code == 204
    assert client.get(f"/api/contacts/{contact['id']}", headers=tenant.headers
                      ).status_code == 404


def test_keyset_pagination_walks_every_contact_once_newest_first(client, tenant):
    for i in range(7):
        add(client, tenant, email=f"p{i}@example.com")
    seen, cursor = [], None
    while True:
        params = {"limit": 3, **({"cursor": cursor} if cursor else {})}
        page = client.get("/api/contacts", params=params, headers=tenant.headers).json()
        assert page["total"] == 7
        seen += [c["email"] for c in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert seen == [f"p{i}@example.com" for i in reversed(range(7))]
    oldest = client.get("/api/contacts", params={"sort": "created_at", "limit": 1},
                        headers=tenant.headers).json()
    assert oldest["items"][0]["email"] == "p0@example.com"


def test_filters(client, tenant):
    add(client, tenant, email="a@example.com", status="unconfirmed")
    add(client, tenant, email="b@example.com", source="Fair")
    get = lambda **p: client.get("/api/contacts", params=p, headers=tenant.headers).json()  # noqa: E731
    assert [c["email"] for c in get(status="unconfirmed")["items"]] == ["a@example.com"]
    assert [c["email"] for c in get(source="Fair")["items"]] == ["b@example.com"]
    assert [c["email"] for c in get(email="B@example.com")["items"]] == ["b@example.com"]
    assert get(q="example")["total"] == 2


@pytest.mark.parametrize("params", [{"status": "nope"}, {"sort": "email"}, {"limit": "0"},
                                    {"limit": "x"}, {"cursor": "garbage!"}])
def test_bad_list_parameters_are_400(client, tenant, params):
    r = client.get("/api/contacts", params=params, headers=tenant.headers)
    assert r.status_code == 400
    assert r.json()["error"]["code"] == "bad_request"


def test_auth_errors(client, tenant, store):
    assert client.get("/api/contacts").status_code == 401
    assert client.get("/api/contacts", headers={"Authorization": "Bearer nope"}
                      ).status_code == 401
    wrong_account = {"Authorization": tenant.basic["Authorization"]}
    import base64
    raw = base64.b64encode(f"{tenant.id + 999}:{tenant.token}".encode()).decode()
    wrong_account["Authorization"] = f"Basic {raw}"
    assert client.get("/api/contacts", headers=wrong_account).status_code == 401
    reader = make_tenant("Reader", scopes=("contacts:read",))
    r = client.post("/api/contacts", json=ANN, headers=reader.headers)
    assert r.status_code == 403 and r.json()["error"]["code"] == "forbidden"


def test_body_errors(client, tenant):
    r = client.post("/api/contacts", content=b"{nope", headers=tenant.headers
                    | {"content-type": "application/json"})
    assert r.status_code == 400 and r.json()["error"]["code"] == "malformed_json"
    r = client.post("/api/contacts", content=b"email=x", headers=tenant.headers
                    | {"content-type": "application/x-www-form-urlencoded"})
    assert r.status_code == 415
    r = client.post("/api/contacts", content=b"[" + b" " * (2 * 1024 * 1024) + b"]",
                    headers=tenant.headers | {"content-type": "application/json"})
    assert r.status_code == 413
    r = client.post("/api/contacts", json=[ANN], headers=tenant.headers)
    assert r.status_code == 400


def test_non_finite_and_huge_numbers_are_422_and_store_nothing(client, tenant):
    r = client.post("/api/custom-fields", json={"name": "score", "type": "number"},
                    headers=tenant.headers)
    assert r.status_code == 201
    for raw in (b"NaN", b"Infinity", b"-Infinity", b"1e400", b"9" * 5000):
        body = b'{"email": "n@example.com", "language": "nl", "source": "Website", ' \
               b'"custom_fields": {"score": ' + raw + b"}}"
        r = client.post("/api/contacts", content=body,
                        headers=tenant.headers | {"content-type": "application/json"})
        assert r.status_code == 422, (raw[:10], r.text)
        assert r.json()["error"]["details"][0]["code"] == "number_out_of_range"
    for text in ("nan", "inf", "-Infinity", "1e400", "9007199254740993"):
        r = client.put("/api/contacts/n@example.com", json={
            "language": "nl", "source": "Website", "custom_fields": {"score": text}},
            headers=tenant.headers)
        assert r.status_code == 422, (text, r.text)
        assert r.json()["error"]["details"][0]["field"] == "score"
    r = client.put("/api/contacts/n@example.com", json={
        "language": "nl", "source": "Website", "custom_fields": {"score": "12,5"}},
        headers=tenant.headers)
    assert r.status_code == 201 and r.json()["custom_fields"] == {"score": 12.5}
    r = client.get("/api/contacts", headers=tenant.headers)
    assert r.status_code == 200 and r.json()["total"] == 1


def test_a_nan_stored_by_an_older_release_still_reads(client, tenant):
    """Reads render whatever the store holds: NaN and Infinity read as null."""
    from gateway.db import db
    r = client.post("/api/contacts", json=ANN, headers=tenant.headers)
    from gateway.models import Contact
    with db.connection_context():
        raw = '{"score": NaN, "x": -Infinity}'  # what an older release's encoder wrote
        Contact.update(custom_fields=peewee.Value(raw, converter=False)).where(
            Contact.id == r.json()["id"]).execute()
    r = client.get("/api/contacts", headers=tenant.headers)
    assert r.status_code == 200
    assert r.json()["items"][0]["custom_fields"] == {"score": None, "x": None}


def test_metadata_is_clipped_to_its_column_on_both_stores(client, tenant):
    from gateway.db import db
    from gateway.models import Consent
    r = client.post("/api/contacts", json=ANN,
                    headers=tenant.headers | {"user-agent": "Agent/" + "x" * 600})
    assert r.status_code == 201, r.text
    with db.connection_context():
        consent = Consent.get(Consent.contact == r.json()["id"])
    assert consent.user_agent == ("Agent/" + "x" * 600)[:500]


def test_names_are_stored_on_one_line(client, tenant):
    r = client.post("/api/contacts", json=ANN | {
        "first_name": "Eve\r\nBcc: victim@example.com", "name": "\x07Doe\x1b[31m\u2028"},
        headers=tenant.headers)
    assert r.status_code == 201, r.text
    assert r.json()["first_name"] == "Eve Bcc: victim@example.com"
    assert r.json()["name"] == "Doe [31m"


def test_hostile_cursors_and_limits_are_400(client, tenant):
    import base64
    import json
    for payload in (["2024-01-01T00:00:00", 1e999], ["2024-01-01T00:00:00", 10**30],
                    ["2024-01-01T00:00:00", -1e308], ["2024-01-01T00:00:00", -1],
                    ["2024-01-01T00:00:00", True], [1, 2], "x"):
        raw = json.dumps(payload).encode() if payload != ["2024-01-01T00:00:00", 1e999] \
            else b'["2024-01-01T00:00:00", 1e999]'
        cursor = base64.urlsafe_b64encode(raw).decode().rstrip("=")
        r = client.get("/api/contacts", params={"cursor": cursor}, headers=tenant.headers)
        assert r.status_code == 400, (payload, r.text)
        assert r.json()["error"]["code"] == "bad_request"
    for limit in ("²", "1e999", "9" * 5000, "-1"):
        r = client.get("/api/contacts", params={"limit": limit}, headers=tenant.headers)
        assert r.status_code == 400, (limit, r.text)


def test_deep_or_huge_json_is_refused_in_the_error_shape(client, tenant):
    headers = tenant.headers | {"content-type": "application/json"}
    r = client.post("/api/contacts", content=b"[" * 100_000 + b"]" * 100_000, headers=headers)
    assert r.status_code == 400 and "nested" in r.json()["error"]["message"]
    r = client.post("/api/contacts", content=b'{"email": ' + b"1" * 5000 + b"}",
                    headers=headers)
    assert r.status_code == 422
    assert r.json()["error"]["details"][0]["code"] == "number_out_of_range"
    r = client.post("/api/contacts", content=b"{", headers=headers)
    assert r.status_code == 400 and "line 1, column 2" in r.json()["error"]["message"]


def test_list_filters_search_by_name_labels_dates_and_import(client, tenant):
    """#16 item 5: the list's filters, the same on SQLite and PostgreSQL."""
    from gateway.models import ContactEvent
    a = add(client, tenant, email="a@x.example.com", first_name="Nele", interests=["Music"],
            preferences=["Weekly"])
    add(client, tenant, email="b@x.example.com", first_name="Bob", name="NELEMANS",
        language="fr", interests=["Sports"])
    add(client, tenant, email="c@x.example.com", first_name="Cas")

    def emails(**params):
        r = client.get("/api/contacts", params=params, headers=tenant.headers)
        assert r.status_code == 200, r.text
        return sorted(item["email"] for item in r.json()["items"])
    assert emails(q="nele") == ["a@x.example.com", "b@x.example.com"]
    assert emails(q="Nelemans") == ["b@x.example.com"]
    assert emails(interest="Music") == ["a@x.example.com"]
    assert emails(interest="Mus") == []  # a whole label, not a part of one
    assert emails(preference="Weekly") == ["a@x.example.com"]
    assert emails(language="fr") == ["b@x.example.com"]
    assert emails(added_before="2000-01-01") == []
    assert len(emails(added_after="2000-01-01T00:00:00Z")) == 3
    ContactEvent.create(contact=a["id"], kind="updated", channel="import", reference="import:7")
    assert emails(**{"import": "7"}) == ["a@x.example.com"]
    for bad in ({"added_after": "yesterday"}, {"import": "x"}):
        assert client.get("/api/contacts", params=bad, headers=tenant.headers).status_code == 400


def test_list_pages_back_with_before(client, tenant):
    for i in range(5):
        add(client, tenant, email=f"p{i}@x.example.com")
    h = tenant.headers
    first = client.get("/api/contacts?limit=2", headers=h).json()
    second = client.get(f"/api/contacts?limit=2&cursor={first['next_cursor']}", headers=h).json()
    assert first["prev_cursor"] is None and second["prev_cursor"]
    back = client.get(f"/api/contacts?limit=2&before={second['prev_cursor']}", headers=h).json()
    assert [c["id"] for c in back["items"]] == [c["id"] for c in first["items"]]
    assert back["prev_cursor"] is None


def test_re_adding_a_blacklisted_address_says_so_and_why(client, tenant):
    created = add(client, tenant)
    r = client.post(f"/api/contacts/{created['id']}/blacklist", json={"reason": "Bounced twice"},
                    headers=tenant.headers)
    assert r.status_code == 200 and r.json()["status"] == "blacklisted"
    r = client.post("/api/contacts", json=ANN, headers=tenant.headers)
    assert r.status_code == 409
    error = r.json()["error"]
    assert "is blacklisted" in error["message"] and "Bounced twice" in error["message"]
    assert error["details"][0]["reason"] == "Bounced twice"
    assert error["details"][0]["blacklisted_at"].endswith("Z")


def test_contacts_added_in_the_same_instant_page_in_a_stable_order(client, tenant):
    """A 40,000-row import stamps its contacts alike: the id breaks the tie, so pages neither
    repeat nor skip a contact, and the order is the same on every request."""
    from datetime import datetime

    from gateway.models import Contact
    for i in range(7):
        add(client, tenant, email=f"same{i}@x.example.com")
    Contact.update(created_at=datetime(2026, 3, 1, 9, 0)).execute()
    walked, cursor = [], ""
    while True:
        page = client.get(f"/api/contacts?limit=3{cursor}", headers=tenant.headers).json()
        walked += [c["id"] for c in page["items"]]
        if not page["next_cursor"]:
            break
        cursor = f"&cursor={page['next_cursor']}"
    ids = sorted((c.id for c in Contact.select()), reverse=True)
    assert walked == ids  # newest first: the highest id first among equal times
    again = client.get("/api/contacts?limit=7", headers=tenant.headers).json()
    assert [c["id"] for c in again["items"]] == ids
