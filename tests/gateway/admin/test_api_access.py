import re

from gateway.models import ApiToken
from tests.gateway.admin.conftest import csrf_of


def test_create_a_token_shown_once_that_works_then_revoke_it(admin_client, tenant):
    page = admin_client.get("/admin/api")
    assert f'<code id="account-id">{tenant.id}</code>' in page.text
    r = admin_client.post("/admin/api", data={"csrf_token": csrf_of(page.text),
                                              "name": "shop", "scopes": ["contacts:read"]},
                          follow_redirects=False)
    assert r.status_code == 303
    r = admin_client.get(r.headers["location"])
    plain = re.search(r'<code id="new-token">([^<]+)</code>', r.text).group(1)
    assert r.headers["cache-control"] == "no-store"
    assert admin_client.get("/api/contacts", auth=(str(tenant.id), plain)).status_code == 200
    assert plain not in admin_client.get("/admin/api").text  # shown once
    row = ApiToken.get(name="shop")
    assert row.scopes == ["contacts:read"]
    r = admin_client.post(f"/admin/api/tokens/{row.id}/revoke",
                          data={"csrf_token": csrf_of(page.text)})
    assert "was revoked" in r.text
    assert admin_client.get("/api/contacts", auth=(str(tenant.id), plain)).status_code == 401


def test_a_token_needs_a_scope(admin_client, tenant):
    page = admin_client.get("/admin/api")
    r = admin_client.post("/admin/api", data={"csrf_token": csrf_of(page.text), "name": "x"})
    assert r.status_code == 422 and "at least one scope" in r.text
    assert not ApiToken.select().where(ApiToken.name == "x").exists()


def test_another_accounts_token_cannot_be_revoked(admin_client, tenant, other_tenant):
    token = csrf_of(admin_client.get("/admin/api").text)
    r = admin_client.post(f"/admin/api/tokens/{other_tenant.token_id}/revoke",
                          data={"csrf_token": token})
    assert r.status_code == 404
    assert ApiToken.get_by_id(other_tenant.token_id).revoked_at is None
