"""Every admin POST needs the session's CSRF token; nothing changes without it."""

from gateway.auth import create_user
from tests.gateway.admin.conftest import csrf_of, login_client
from tests.gateway.admin.test_tenancy import fill, victim_resources
from tests.gateway.test_openapi import served_operations
from tests.gateway.test_tenancy import snapshot


def test_every_post_without_the_token_is_refused(client, app, tenant):
    own = victim_resources(tenant.id, tenant.token_id)  # the user's own resources this time
    create_user(tenant.id, "me@example.com", "my-password-1")
    assert login_client(client, "me@example.com", "my-password-1").status_code == 303
    good = csrf_of(client.get("/admin/contacts").text)
    before = snapshot(tenant.id)
    posts = [t for t, m in served_operations(app.routes)
             if m == "post" and t.startswith("/admin/") and t != "/admin/{rest}"]
    for template in posts:
        path = fill(template, own)
        for data, headers in (({}, {}), ({"csrf_token": "forged"}, {}),
                              ({"csrf_token": good}, {"origin": "https://evil.example"})):
            r = client.post(path, data=data, headers=headers, follow_redirects=False)
            assert r.status_code == 403, f"{path} {data} {headers}: {r.status_code}"
    assert len(posts) > 15
    assert snapshot(tenant.id) == before
    assert client.get("/admin/contacts", follow_redirects=False).status_code == 200
