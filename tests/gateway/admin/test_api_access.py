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


def test_token_times_read_in_the_accounts_time_zone(admin_client, tenant):
    from datetime import datetime

    from gateway.models import Account
    Account.update(time_zone="America/New_York").where(Account.id == tenant.id).execute()
    ApiToken.update(created_at=datetime(2026, 1, 15, 12, 0),
                    last_used_at=datetime(2026, 1, 16, 3, 30)).where(
        ApiToken.id == tenant.token_id).execute()
    page = admin_client.get("/admin/api").text
    assert ">Jan 15, 2026 07:00</time>" in page  # 12:00 UTC, in New York
    assert ">Jan 15, 2026 22:30</time>" in page  # used at 03:30 UTC: still the 15th there
    assert "UTC" not in re.sub(r"<time[^>]*>", "", page.split("<h2")[-1])
