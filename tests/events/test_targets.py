"""SSRF: loopback, private, link-local and metadata targets are refused at connect time,
redirects are not followed, and only INLET_ALLOW_PRIVATE_TARGETS opens a range."""

from __future__ import annotations

import ipaddress

import pytest

from events.models import EventAttempt
from events.targets import refused_reason
from gateway.db import db

ALLOW_PRIVATE = ""  # this module's gateway may reach no private address at all


@pytest.mark.parametrize("address", ["127.0.0.1", "::1", "10.1.2.3", "172.16.0.9",
                                     "192.168.1.1", "169.254.169.254", "fe80::1",
                                     "::ffff:127.0.0.1", "fd00:ec2::254", "0.0.0.0",
                                     "100.100.100.200", "224.0.0.1"])
def test_internal_addresses_are_refused(address):
    assert refused_reason(address)


def test_public_addresses_pass_and_the_setting_opens_a_range():
    assert refused_reason("93.184.216.34") is None
    assert refused_reason("2606:4700::1111") is None
    allowed = (ipaddress.ip_network("10.0.0.0/8"),)
    assert refused_reason("10.9.9.9", allowed) is None
    assert refused_reason("192.168.1.1", allowed)


def _attempt_error() -> str:
    with db.connection_context():
        return EventAttempt.select().order_by(EventAttempt.id.desc()).first().error


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost"])
def test_a_loopback_target_is_refused_at_connect_time(client, tenant, receiver, subscribe,
                                                      deliver, host):
    url = receiver.url.replace("127.0.0.1", host)
    endpoint, _ = subscribe(["contact.created"], url=url)  # a name may resolve anywhere later
    client.post("/api/contacts", headers=tenant.headers, json={
        "email": "a@example.com", "language": "en", "source": "Website"})
    deliver()
    assert receiver.requests == []
    assert "loopback address" in _attempt_error()
    r = client.post(f"/api/event-endpoints/{endpoint['id']}/test", headers=tenant.headers)
    assert r.json()["ok"] is False and "refused" in r.json()["error"]


def test_urls_that_cannot_be_endpoints_are_422(client, tenant):
    for url in ("ftp://example.com/x", "https://user:pw@example.com/", "example.com",
                "https://exa mple.com/", "", "https://example.com:99999/"):
        r = client.post("/api/event-endpoints", headers=tenant.headers,
                        json={"url": url, "events": ["contact.created"]})
        assert r.status_code == 422, url
        assert r.json()["error"]["details"][0]["field"] == "url"
    r = client.post("/api/event-endpoints", headers=tenant.headers,
                    json={"url": "https://example.com/", "events": ["contact.moved"]})
    assert r.status_code == 422 and "contact.moved" in r.json()["error"]["details"][0]["message"]
