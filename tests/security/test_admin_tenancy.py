"""Every admin page and action, by a user of another account, on this account's ids:
404/403 every time, and nothing of the victim account changes (the API side of this is
tests/gateway/test_tenancy.py)."""

import re

from gateway.auth import create_user
from tests.gateway.admin.conftest import csrf_of, login_client
from tests.gateway.test_openapi import served_operations
from tests.gateway.test_tenancy import snapshot
from tests.security.conftest import sqlite_only
from tests.security.test_xss import plant

pytestmark = sqlite_only


def test_no_admin_route_reaches_another_account(client, app, tenant, other_tenant):
    ids = plant(client, tenant)
    from gateway.models import ApiToken, Vocabulary
    ids["token_id"] = tenant.token_id
    ids["entry_id"] = Vocabulary.get(Vocabulary.account == tenant.id).id
    ids["kind"] = "sources"
    before = snapshot(tenant.id)
    create_user(other_tenant.id, "intruder@rival.example.com", "intruder password")
    assert login_client(client, "intruder@rival.example.com", "intruder password"
                        ).status_code == 303
    token = csrf_of(client.get("/admin/api").text)
    checked = []
    for template, method in served_operations(app.routes):
        names = re.findall(r"\{(\w+)\}", template)
        if not template.startswith("/admin") or not names or "rest" in names \
                or not all(n in ids for n in names) or names == ["kind"]:
            continue
        path = re.sub(r"\{(\w+)\}", lambda m: str(ids[m.group(1)]), template)
        if method == "get":
            r = client.get(path, follow_redirects=False)
        else:
            r = client.request(method.upper(), path, data={"csrf_token": token, "name": "x"},
                               follow_redirects=False)
        checked.append((method, path, r.status_code))
        assert r.status_code in (403, 404), (method, path, r.status_code)
    assert len(checked) >= 5, checked
    assert snapshot(tenant.id) == before
    assert ApiToken.get_by_id(tenant.token_id).revoked_at is None
