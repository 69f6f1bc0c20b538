"""The account vocabularies through the API."""

import pytest


@pytest.mark.parametrize("segment", ["sources", "preferences", "interests"])
def test_add_list_delete_labels_no_case_twins(client, tenant, segment):
    r = client.post(f"/api/{segment}", json={"name": "Newsletter"}, headers=tenant.headers)
    assert r.status_code == 201, r.text
    entry = r.json()
    assert entry["name"] == "Newsletter"
    assert client.post(f"/api/{segment}", json={"name": "Newsletter"}, headers=tenant.headers
                       ).status_code == 409
    r = client.post(f"/api/{segment}", json={"name": "newsletter"}, headers=tenant.headers)
    assert r.status_code == 409  # differs only in case: the existing one is named
    assert r.json()["error"]["details"][0] == {
        "field": "name", "code": "case_duplicate", "value": "newsletter",
        "existing": "Newsletter"}
    assert "Use 'Newsletter'" in r.json()["error"]["message"]
    names = [e["name"] for e in client.get(f"/api/{segment}", headers=tenant.headers
                                           ).json()["items"]]
    assert "Newsletter" in names and "newsletter" not in names
    assert client.delete(f"/api/{segment}/{entry['id']}", headers=tenant.headers
                         ).status_code == 204
    assert client.delete(f"/api/{segment}/{entry['id']}", headers=tenant.headers
                         ).status_code == 404


def test_languages_default_and_added(client, tenant):
    codes = [e["name"] for e in client.get("/api/languages", headers=tenant.headers
                                           ).json()["items"]]
    assert codes == ["nl", "fr", "en"]
    assert client.post("/api/languages", json={"name": "de"}, headers=tenant.headers
                       ).status_code == 201
    r = client.post("/api/languages", json={"name": "German"}, headers=tenant.headers)
    assert r.status_code == 422 and r.json()["error"]["details"][0]["code"] == "invalid_language"
    r = client.post("/api/contacts", json={"email": "d@example.com", "language": "de",
                                           "source": "Website"}, headers=tenant.headers)
    assert r.status_code == 201


@pytest.mark.parametrize("body", [{}, {"name": ""}, {"name": 3}, {"name": "x" * 101}])
def test_bad_label_names(client, tenant, body):
    r = client.post("/api/sources", json=body, headers=tenant.headers)
    assert r.status_code == 422


def test_custom_fields_typed_values(client, tenant):
    fields = [{"name": "birthday", "type": "date"}, {"name": "score", "type": "number"},
              {"name": "vip", "type": "boolean"},
              {"name": "size", "type": "choice", "choices": ["S", "M", "L"]},
              {"name": "topics", "type": "multiple_choice", "choices": ["a", "b", "c"]}]
    for f in fields:
        r = client.post("/api/custom-fields", json=f, headers=tenant.headers)
        assert r.status_code == 201, r.text
    base = {"email": "c@example.com", "language": "en", "source": "Website"}
    r = client.post("/api/contacts", json=base | {"custom_fields": {
        "birthday": "2018-08-25", "score": "4,5", "vip": "yes", "size": "M",
        "topics": "a, b"}}, headers=tenant.headers)
    assert r.status_code == 201, r.text
    assert r.json()["custom_fields"] == {"birthday": "2018-08-25", "score": 4.5, "vip": True,
                                         "size": "M", "topics": ["a", "b"]}
    r = client.put("/api/contacts/c@example.com", json={"custom_fields": {"topics": ["c"]}},
                   headers=tenant.headers)
    assert r.json()["custom_fields"]["topics"] == ["c"]
    r = client.post("/api/contacts", json=base | {"email": "d@example.com", "custom_fields": {
        "birthday": "25/08/2018", "size": "m", "nope": 1}}, headers=tenant.headers)
    codes = {d["field"]: d for d in r.json()["error"]["details"]}
    assert codes["birthday"]["code"] == "invalid_date"
    assert codes["size"]["code"] == "unknown_choice" and codes["size"]["suggestion"] == "M"
    assert codes["nope"]["code"] == "unknown_field"


@pytest.mark.parametrize("body", [{"name": "email", "type": "text"},
                                  {"name": "Bad Name", "type": "text"},
                                  {"name": "x", "type": "colour"},
                                  {"name": "x", "type": "choice", "choices": []}])
def test_bad_custom_field_definitions(client, tenant, body):
    assert client.post("/api/custom-fields", json=body, headers=tenant.headers
                       ).status_code == 422


def test_a_label_a_form_or_enabled_hook_uses_cannot_be_removed(client, tenant):
    """409 naming what uses it; a disabled hook and an unused label do not block."""
    from connectors.models import Hook
    from gateway.db import db
    form = client.post("/api/forms", headers=tenant.headers, json={
        "name": "Lettre", "source": "Website", "languages": ["fr"],
        "fields": ["interests"], "interests": ["Music"], "preferences": []}).json()
    with db.connection_context():
        Hook.create(account=tenant.id, name="CRM", secret_salt="s", source="Fair",
                    mapping={"interests": {"value": ["Sports"]}})
        Hook.create(account=tenant.id, name="Old", secret_salt="s", language="en",
                    enabled=False)

    def entry(segment, name):
        items = client.get(f"/api/{segment}", headers=tenant.headers).json()["items"]
        return next(e["id"] for e in items if e["name"] == name)
    for segment, name, user in (("languages", "fr", ("form", "Lettre")),
                                ("sources", "Website", ("form", "Lettre")),
                                ("interests", "Music", ("form", "Lettre")),
                                ("sources", "Fair", ("hook", "CRM")),
                                ("interests", "Sports", ("hook", "CRM"))):
        r = client.delete(f"/api/{segment}/{entry(segment, name)}", headers=tenant.headers)
        assert r.status_code == 409, (segment, name)
        error = r.json()["error"]
        assert f"{user[0]} {user[1]!r}" in error["message"]
        [used_by] = error["details"][0]["used_by"]
        assert (used_by["type"], used_by["name"]) == user
    for segment, name in (("languages", "en"), ("preferences", "Weekly")):
        assert client.delete(f"/api/{segment}/{entry(segment, name)}",
                             headers=tenant.headers).status_code == 204
    r = client.patch(f"/api/forms/{form['id']}", headers=tenant.headers,
                     json={"languages": ["nl"]})
    assert r.status_code == 200
    assert client.delete(f"/api/languages/{entry('languages', 'fr')}",
                         headers=tenant.headers).status_code == 204


def test_custom_field_labels_rename_and_keep_their_key(client, tenant, other_tenant):
    """A label is shown and renamed; the name (the key contacts carry) never changes."""
    r = client.post("/api/custom-fields", headers=tenant.headers,
                    json={"name": "shoe_size", "type": "number", "label": " Shoe size "})
    assert r.status_code == 201 and r.json()["label"] == "Shoe size"
    field = r.json()
    plain = client.post("/api/custom-fields", headers=tenant.headers,
                        json={"name": "vip", "type": "boolean"}).json()
    assert plain["label"] == "vip"  # no label: the name is shown
    client.post("/api/contacts", headers=tenant.headers, json={
        "email": "s@example.com", "language": "en", "source": "Website",
        "custom_fields": {"shoe_size": 42}})
    url = f"/api/custom-fields/{field['id']}"
    r = client.patch(url, headers=tenant.headers, json={"label": "Schoenmaat"})
    assert r.status_code == 200 and r.json() == field | {"label": "Schoenmaat"}
    r = client.patch(url, headers=tenant.headers, json={"name": "maat", "label": "Maat"})
    assert r.status_code == 422
    assert r.json()["error"]["details"][0]["code"] == "immutable"
    r = client.patch(url, headers=tenant.headers, json={"label": "VIP"})
    assert r.status_code == 409  # "vip" is shown so already (case aside)
    assert r.json()["error"]["details"][0]["existing"] == "vip"
    assert client.patch(url, headers=tenant.headers, json={"label": "x" * 201}
                        ).status_code == 422
    assert client.patch(url, headers=tenant.headers, json=["Maat"]).status_code == 400
    assert client.patch(url, headers=other_tenant.headers, json={"label": "Mine"}
                        ).status_code == 404
    items = client.get("/api/custom-fields", headers=tenant.headers).json()["items"]
    assert [(f["name"], f["label"]) for f in items] == [("shoe_size", "Schoenmaat"),
                                                       ("vip", "vip")]
    contact = client.get("/api/contacts?email=s@example.com", headers=tenant.headers
                         ).json()["items"][0]
    assert contact["custom_fields"] == {"shoe_size": 42}  # the key stayed
    r = client.patch(url, headers=tenant.headers, json={"label": ""})
    assert r.json()["label"] == "shoe_size"
    spec = client.get("/api/openapi.json").json()
    assert "patch" in spec["paths"]["/api/custom-fields/{entry_id}"]


def test_a_refused_removal_counts_the_contacts(client, tenant):
    """The 409 says how many contacts carry the value: exactly, not by substring."""
    from connectors.models import Hook
    from gateway.db import db
    client.post("/api/interests", json={"name": "Zoë's"}, headers=tenant.headers)
    client.post("/api/interests", json={"name": "Zoë"}, headers=tenant.headers)
    for n, interests in enumerate((["Zoë"], ["Zoë's"], ["Zoë", "Music"], [])):
        assert client.post("/api/contacts", headers=tenant.headers, json={
            "email": f"z{n}@example.com", "language": "en", "source": "Website",
            "interests": interests}).status_code == 201
    with db.connection_context():
        Hook.create(account=tenant.id, name="CRM", secret_salt="s",
                    mapping={"interests": {"value": ["Zoë"]}})
    items = client.get("/api/interests", headers=tenant.headers).json()["items"]
    zoe = next(e["id"] for e in items if e["name"] == "Zoë")
    r = client.delete(f"/api/interests/{zoe}", headers=tenant.headers)
    assert r.status_code == 409 and r.json()["error"]["details"][0]["contacts"] == 2
