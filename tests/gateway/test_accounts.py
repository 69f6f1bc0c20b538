"""The account profile: sender, reports-and-alerts address, website."""

import pytest

from gateway.accounts import notification_address, update_profile
from gateway.auth import create_user
from gateway.errors import ValidationFailed


def test_reports_go_to_the_first_user_until_an_address_is_set(store, tenant):
    assert notification_address(tenant.id) is None  # no user, no address: nobody is mailed
    create_user(tenant.id, "owner@acme.example.com", "correct horse battery")
    create_user(tenant.id, "intern@acme.example.com", "correct horse battery")
    assert notification_address(tenant.id) == "owner@acme.example.com"
    update_profile(tenant.id, {"notification_email": "team@acme.example.com"})
    assert notification_address(tenant.id) == "team@acme.example.com"
    # saving the sender alone leaves the address as it was; blank puts the default back
    update_profile(tenant.id, {"sender_name": "Acme News"})
    assert notification_address(tenant.id) == "team@acme.example.com"
    update_profile(tenant.id, {"notification_email": "  "})
    assert notification_address(tenant.id) == "owner@acme.example.com"


@pytest.mark.parametrize("bad", ["team", "a@b\nBcc: x@example.com", "x" * 250 + "@e.com"])
def test_a_bad_notification_address_is_refused_and_changes_nothing(store, tenant, bad):
    update_profile(tenant.id, {"notification_email": "team@acme.example.com"})
    with pytest.raises(ValidationFailed) as caught:
        update_profile(tenant.id, {"notification_email": bad, "sender_name": "Changed"})
    assert [d["field"] for d in caught.value.details] == ["notification_email"]
    assert notification_address(tenant.id) == "team@acme.example.com"
