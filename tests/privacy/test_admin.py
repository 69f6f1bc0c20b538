"""The admin's privacy buttons: export the tab and filters, download all data, erase after a
confirmation page; the settings page states the retention policy."""

from __future__ import annotations

import csv
import io

import pytest

from tests.gateway.admin.conftest import csrf_of, follow, snap


def _add(client, tenant, email, **extra):
    r = client.post("/api/contacts", headers=tenant.headers,
                    json={"email": email, "language": "nl", "source": "Website", **extra})
    return r.json()["id"]


def test_export_data_and_erase_from_the_admin(admin_client, tenant, run_jobs):
    client = admin_client
    ann = _add(client, tenant, "ann@example.com", interests=["Sports"])
    _add(client, tenant, "bob@example.com", source="Fair")
    _add(client, tenant, "cy@example.com", status="unconfirmed")
    page = client.get("/admin/contacts?tab=confirmed&source=Website")
    assert 'href="/admin/contacts/export?tab=confirmed&amp;source=Website&amp;' in page.text
    r = client.get("/admin/contacts/export?tab=confirmed&source=Website")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(r.content.decode("utf-8-sig"))))
    assert [row[0] for row in rows] == ["email", "ann@example.com"]

    detail = client.get(f"/admin/contacts/{ann}")
    assert "Download all data" in detail.text and "Erase" in detail.text
    data = client.get(f"/admin/contacts/{ann}/data")
    assert data.status_code == 200 and "attachment" in data.headers["content-disposition"]
    assert data.json()["contact"]["interests"] == ["Sports"]

    confirm = client.get(f"/admin/contacts/{ann}/erase")
    assert "cannot be undone" in confirm.text
    refused = client.post(f"/admin/contacts/{ann}/erase", data={"csrf_token": "forged"})
    assert refused.status_code == 403
    r = client.post(f"/admin/contacts/{ann}/erase", data={"csrf_token": csrf_of(confirm.text)},
                    follow_redirects=False)
    assert r.status_code == 303
    run_jobs()
    assert client.get(f"/admin/contacts/{ann}").status_code == 404


def test_settings_state_the_retention_policy(admin_client):
    text = admin_client.get("/admin/settings").text
    assert "How long data is kept" in text and "Hook delivery payloads: <strong>30 days" in text


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_erase_page_fits_a_phone(admin_page, client, tenant, request):
    contact = _add(client, tenant, f"{'e' * 60}@{'d' * 60}.example.com")
    client.post(f"/api/contacts/{contact}/blacklist", headers=tenant.headers)
    for width, height, label in ((390, 844, "phone"), (1366, 768, "laptop")):
        admin_page.set_viewport_size({"width": width, "height": height})
        admin_page.goto(f"{admin_page.base}/admin/contacts/{contact}")
        snap(admin_page, request, f"contact-{label}")
        follow(admin_page.get_by_role("link", name="Erase…"))
        assert admin_page.evaluate("document.documentElement.scrollWidth") <= width
        snap(admin_page, request, f"erase-{label}")
    admin_page.get_by_role("button", name="Erase").click()
    admin_page.wait_for_url("**/admin/contacts")
    assert "being erased" in admin_page.content()
