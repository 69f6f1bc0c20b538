"""The admin pages of event endpoints: add one (secret once), send a test event, replay,
disable; and how they look on a phone and a laptop."""

from __future__ import annotations

import re

import pytest

from tests.gateway.admin.conftest import assert_accessible, csrf_of, snap


def _add(admin_client, receiver, **extra):
    page = admin_client.get("/admin/event-endpoints")
    assert page.status_code == 200 and "Add an endpoint" in page.text
    return admin_client.post("/admin/event-endpoints", data={
        "csrf_token": csrf_of(page.text), "url": receiver.url,
        "events": ["contact.created", "contact.deleted"], "description": "Our CRM", **extra},
        follow_redirects=True)


def test_add_test_replay_and_disable(admin_client, tenant, receiver, deliver):
    r = _add(admin_client, receiver)
    assert r.status_code == 200
    secret = re.search(r'id="endpoint-secret">(whsec_[^<]+)<', r.text).group(1)
    url = str(r.url)
    assert "whsec_" not in admin_client.get(url).text  # shown once
    r = admin_client.post(f"{url}/test", data={"csrf_token": csrf_of(r.text)})
    assert "Delivered: the endpoint answered 200" in r.text
    assert receiver.requests[0]["headers"]["webhook-signature"].startswith("v1,")
    from standardwebhooks import Webhook
    Webhook(secret).verify(receiver.requests[0]["body"], receiver.requests[0]["headers"])
    receiver.answer = (410, {})
    r = admin_client.post(f"{url}/test", data={"csrf_token": csrf_of(r.text)})
    assert "Not accepted: the endpoint answered 410" in r.text
    r = admin_client.post(f"{url}/disable", data={"csrf_token": csrf_of(r.text)},
                          follow_redirects=True)
    assert "The endpoint is disabled." in r.text and ">Enable<" in r.text


def test_a_bad_url_is_explained(admin_client, receiver):
    page = admin_client.get("/admin/event-endpoints")
    r = admin_client.post("/admin/event-endpoints", data={
        "csrf_token": csrf_of(page.text), "url": "ftp://example.com", "events": ["*"]})
    assert r.status_code == 422 and "must start with https://" in r.text


def test_another_accounts_endpoint_is_not_found(admin_client, other_tenant):
    from events.endpoints import create_endpoint
    theirs, _ = create_endpoint(other_tenant.id, {"url": "https://example.com/x",
                                                  "events": ["*"]})
    assert admin_client.get(f"/admin/event-endpoints/{theirs.id}").status_code == 404


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_pages_on_a_phone_and_a_laptop(admin_page, live_server, tenant, receiver, request):
    page = admin_page
    page.goto(f"{live_server}/admin/event-endpoints")
    page.get_by_label("URL").fill(receiver.url + "/" + "long-segment/" * 8)
    page.get_by_label("Description").fill("The CRM of the sales team")
    page.get_by_role("button", name="Add endpoint").click()
    page.wait_for_selector("#endpoint-secret")
    page.get_by_role("button", name="Send test event").click()
    page.wait_for_selector("#test-outcome")
    for size, label in (({"width": 390, "height": 844}, "phone"),
                        ({"width": 1366, "height": 768}, "laptop")):
        page.set_viewport_size(size)
        for path in ("", "/1"):
            page.goto(f"{live_server}/admin/event-endpoints{path}")
            assert_accessible(page)
            assert page.evaluate("document.documentElement.scrollWidth") <= size["width"]
            snap(page, request, f"{label}{path.replace('/', '-')}")
