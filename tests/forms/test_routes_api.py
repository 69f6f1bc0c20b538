"""The forms API: create, list, read, change, snippets; tenancy, scopes and errors."""

from tests.conftest import make_tenant


def test_create_list_get_patch_embed(client, tenant):
    r = client.post("/api/forms", headers=tenant.headers, json={
        "name": "Newsletter", "source": "Website", "fields": ["first_name", "language"],
        "allowed_origins": ["https://shop.example"]})
    assert r.status_code == 201, r.text
    form = r.json()
    assert r.headers["location"].endswith(f"/api/forms/{form['id']}")
    assert form["double_opt_in"] is True and form["slug"]
    assert client.get("/api/forms", headers=tenant.headers).json()["items"] == [form]
    r = client.patch(f"/api/forms/{form['id']}", headers=tenant.headers,
                     json={"texts": {"en": {"title": "Join us"}}})
    assert r.status_code == 200 and r.json()["texts"] == {"en": {"title": "Join us"}}
    assert "Join us" in client.get(f"/f/{form['slug']}?lang=en").text  # no stale cache
    r = client.get(f"/api/forms/{form['id']}/embed", headers=tenant.headers)
    assert r.status_code == 200
    snippets = r.json()
    assert snippets["hosted"] == f"http://testserver/f/{form['slug']}"
    assert f'src="http://testserver/f/{form["slug"]}/embed.js"' in snippets["script"]
    assert "<iframe" in snippets["iframe"]
    assert '<form method="post"' in snippets["html"]


def test_other_accounts_forms_are_invisible(client, tenant, other_tenant):
    form = client.post("/api/forms", headers=tenant.headers,
                       json={"name": "Mine", "source": "Website"}).json()
    for method, path in (("GET", f"/api/forms/{form['id']}"),
                         ("PATCH", f"/api/forms/{form['id']}"),
                         ("GET", f"/api/forms/{form['id']}/embed")):
        r = client.request(method, path, headers=other_tenant.headers, json={"name": "x"})
        assert r.status_code == 404, (method, path)
        assert r.json()["error"]["code"] == "not_found"
    assert client.get("/api/forms", headers=other_tenant.headers).json()["items"] == []


def test_scopes_and_bad_bodies(client, store):
    reader = make_tenant("Reader", scopes=("contacts:read",))
    r = client.post("/api/forms", headers=reader.headers, json={"name": "x", "source": "Website"})
    assert r.status_code == 403
    assert client.get("/api/forms").status_code == 401
    admin = make_tenant("Admin")
    r = client.post("/api/forms", headers=admin.headers, content="name=x",
                    )
    assert r.status_code == 415
    r = client.post("/api/forms", headers={**admin.headers, "content-type": "application/json"},
                    content="{nope")
    assert r.status_code == 400 and r.json()["error"]["code"] == "malformed_json"
    r = client.post("/api/forms", headers=admin.headers, json={"name": "x"})
    assert r.status_code == 422
    assert r.json()["error"]["details"][0]["field"] == "source"
    r = client.post("/api/forms", headers=admin.headers,
                    json={"name": "x", "source": "Website", "slug": "taken-slug"})
    assert r.status_code == 201
    r = client.post("/api/forms", headers=admin.headers,
                    json={"name": "y", "source": "Website", "slug": "taken-slug"})
    assert r.status_code == 409


def test_openapi_describes_the_forms_routes(client):
    doc = client.get("/api/openapi.json").json()
    for path in ("/api/forms", "/api/forms/{form_id}", "/api/forms/{form_id}/embed",
                 "/f/{slug}", "/f/{slug}/embed.js", "/confirm/{token}"):
        assert path in doc["paths"], path
    assert "Form" in doc["components"]["schemas"]
