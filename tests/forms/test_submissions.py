"""Submissions written once with at most one mail each, and known contacts merged under the
merge rules."""

import pytest

from forms import definitions, jobs, mails
from forms.models import Confirmation
from gateway import contacts
from gateway.contacts import Provenance
from gateway.models import Consent, Contact
from tests.forms.conftest import queued_item


@pytest.mark.parametrize(("options", "subject"), [
    ({}, "Please confirm your subscription"),
    ({"double_opt_in": False, "welcome": True}, "Welcome!"),
])
def test_a_rerun_after_a_crash_before_the_mail_sends_it_once(tenant, run_jobs, mailbox,
                                                             monkeypatch, options, subject):
    form = definitions.create_form(tenant.id, {"name": "N", "source": "Website", **options})
    item = queued_item(form, "crash@example.com")

    def worker_dies(*args, **kwargs):
        raise RuntimeError("worker died")
    with monkeypatch.context() as patch:
        patch.setattr(mails, "render_mail", worker_dies)
        with pytest.raises(RuntimeError):
            jobs.process_submission("sub_crash", item)
    assert Contact.select().count() == 1  # written; the mail step left nothing behind
    assert Confirmation.select().count() == 0
    assert jobs.process_submission("sub_crash", item) == "created"
    assert jobs.process_submission("sub_crash", item) == "created"
    run_jobs()
    assert [m["Subject"] for m in mailbox.to("crash@example.com")] == [subject]
    assert Confirmation.select().count() == (1 if form.double_opt_in else 0)
    assert Consent.select().count() == 1


def test_without_double_opt_in_known_contacts_keep_their_values(tenant, run_jobs, mailbox):
    form = definitions.create_form(tenant.id, {"name": "N", "source": "Website",
                                           "double_opt_in": False, "welcome": True})
    ids = {}
    for email, status in (("waiting@example.com", "unconfirmed"),
                          ("member@example.com", "confirmed"),
                          ("black@example.com", "confirmed")):
        ids[email] = contacts.create(tenant.id, {
            "email": email, "language": "nl", "source": "Fair", "status": status},
            Provenance(channel="api")).id
    contacts.blacklist(tenant.id, ids["black@example.com"], Provenance(channel="api"))
    outcomes = [jobs.process_submission(f"sub_{n}", queued_item(form, email))
                for n, email in enumerate(ids)]
    assert outcomes == ["confirmed", "unchanged", "blacklisted"]
    run_jobs()
    assert [m["Subject"] for m in mailbox.to("waiting@example.com")] == ["Welcome!"]
    assert mailbox.to("member@example.com") == mailbox.to("black@example.com") == []
    stored = {c.email: (c.status, c.language, c.source) for c in Contact.select()}
    assert stored == {"waiting@example.com": ("confirmed", "nl", "Fair"),
                      "member@example.com": ("confirmed", "nl", "Fair"),
                      "black@example.com": ("blacklisted", "nl", "Fair")}
