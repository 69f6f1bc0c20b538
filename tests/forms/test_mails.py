"""Confirmation mails: within the daily cap per address (also with two workers at once), and
never to another account's contact."""

import threading
import time
from datetime import timedelta

from forms import definitions, jobs, mails
from forms.models import Confirmation
from gateway import contacts
from gateway.contacts import Provenance
from gateway.db import db, utcnow
from gateway.models import Contact
from tests.forms.conftest import queued_item


def test_confirmation_mails_are_capped_per_address_and_day(tenant, run_jobs, mailbox):
    form = definitions.create_form(tenant.id, {"name": "N", "source": "Website"})
    outcomes = [jobs.process_submission(f"sub_{n}", queued_item(form, "cap@example.com"))
                for n in range(mails.MAX_CONFIRMATION_MAILS + 1)]
    assert outcomes == ["created"] + ["unchanged"] * mails.MAX_CONFIRMATION_MAILS
    contact = Contact.get(Contact.email == "cap@example.com")
    # The connectors' path counts the same mails.
    assert mails.send_confirmation(form.id, contact.id) is None
    run_jobs()
    assert len(mailbox.to("cap@example.com")) == mails.MAX_CONFIRMATION_MAILS
    day_ago = utcnow() - mails.CONFIRMATION_WINDOW - timedelta(minutes=1)
    Confirmation.update(created_at=day_ago).execute()
    next_day = queued_item(form, "cap@example.com")
    assert jobs.process_submission("sub_next_day", next_day) == "unchanged"
    run_jobs()
    assert len(mailbox.to("cap@example.com")) == mails.MAX_CONFIRMATION_MAILS + 1


def test_two_workers_mailing_one_address_at_once_stay_within_the_cap(tenant, run_jobs,
                                                                     mailbox):
    form = definitions.create_form(tenant.id, {"name": "N", "source": "Website"})
    contact = contacts.create(tenant.id, {"email": "race@example.com", "language": "en",
                                          "source": "Website", "status": "unconfirmed"},
                              Provenance(channel="api"))
    for _ in range(mails.MAX_CONFIRMATION_MAILS - 1):
        assert mails.send_confirmation(form.id, contact.id) is not None
    holding, results = threading.Event(), {}

    def first_worker():  # takes the last mail of the day and is slow to commit
        with db.connection_context(), db.atomic():
            results["first"] = mails.send_confirmation(form.id, contact.id)
            holding.set()
            time.sleep(0.5)

    def second_worker():  # arrives while the first still holds its transaction open
        holding.wait(5)
        with db.connection_context():
            results["second"] = mails.send_confirmation(form.id, contact.id)
    workers = [threading.Thread(target=first_worker), threading.Thread(target=second_worker)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(30)
    assert results["first"] is not None and results["second"] is None
    run_jobs()
    assert len(mailbox.to("race@example.com")) == mails.MAX_CONFIRMATION_MAILS


def test_no_confirmation_mail_to_another_accounts_contact(tenant, other_tenant, run_jobs,
                                                          mailbox):
    form = definitions.create_form(tenant.id, {"name": "N", "source": "Website"})
    theirs = contacts.create(other_tenant.id, {
        "email": "theirs@example.com", "language": "en", "source": "Website",
        "status": "unconfirmed"}, Provenance(channel="api"))
    assert mails.send_confirmation(form.id, theirs.id) is None
    run_jobs()
    assert mailbox.to("theirs@example.com") == []


def test_the_plain_text_part_is_never_html_escaped(tenant):
    """The recipient reads the text part as written: "O'Brien & Co", not "O&#39;Brien &amp;
    Co"; the HTML part of the same mail stays escaped (a name is not markup)."""
    for kind in ("confirm", "welcome"):
        mail = mails.render_mail({}, kind, "en", {
            "first_name": "Zoë & <Jan>", "form_name": "Tips & Tricks",
            "confirm_url": "https://example.com/confirm/x?a=1&b=2",
            "unsubscribe_url": "https://example.com/u/x?a=1&b=2"},
            account_name="O'Brien & Co", site_url="https://obrien.example/?a=1&b=2")
        assert "O'Brien & Co" in mail["text"], kind
        assert "&amp;" not in mail["text"] and "&#39;" not in mail["text"], kind
        assert mail["text"].startswith("Hello Zoë & <Jan>,\n"), kind
        assert "Tips & Tricks" in mail["text"], kind
        assert "O&#39;Brien &amp; Co" in mail["html"], kind
        assert "<Jan>" not in mail["html"], kind
    assert "https://example.com/confirm/x?a=1&b=2" in mails.render_mail({}, "confirm", "en", {
        "confirm_url": "https://example.com/confirm/x?a=1&b=2"})["text"]
