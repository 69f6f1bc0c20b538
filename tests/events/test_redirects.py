"""A redirect is a failed attempt: never followed, least of all to a private address."""

from __future__ import annotations

import pytest

from tests.events.conftest import Receiver

ALLOW_PRIVATE = "127.0.0.1/32"  # the public-facing receiver; 127.0.0.2 stays private


@pytest.fixture
def inner():
    r = Receiver(host="127.0.0.2")
    yield r
    r.close()


def test_a_redirect_to_a_private_address_is_not_followed(client, tenant, receiver, inner,
                                                         subscribe, deliver):
    receiver.answer = (302, {"Location": inner.url})
    endpoint, _ = subscribe(["contact.created"])
    client.post("/api/contacts", headers=tenant.headers, json={
        "email": "r@example.com", "language": "en", "source": "Website"})
    deliver()
    assert len(receiver.requests) == 1 and inner.requests == []
    [attempt] = client.get(f"/api/event-endpoints/{endpoint['id']}/attempts",
                           headers=tenant.headers).json()["items"]
    assert attempt["status_code"] == 302
    assert attempt["error"].startswith("redirects are not followed")
    # and the private address itself is refused when named directly
    other, _ = subscribe(["contact.created"], url=inner.url)
    r = client.post(f"/api/event-endpoints/{other['id']}/test", headers=tenant.headers)
    assert not r.json()["ok"] and "127.0.0.2" in r.json()["error"]
    assert inner.requests == []
