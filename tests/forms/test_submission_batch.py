"""Submissions in batches: the same outcomes, rows and mails as one by one, in one
transaction, idempotent per item, within the daily mail cap."""

import pytest

from forms import definitions, jobs, mails, submission_batch
from forms.models import Confirmation, Submission, UnsubscribeLink
from gateway import contacts
from gateway.contacts import Provenance
from gateway.models import Consent, Contact, ContactEvent, OutgoingMail
from tests.forms.conftest import confirm_link, queued_item


def _item(form, email: str, ip: str, **contact) -> dict:
    item = queued_item(form, email)
    item["ip"] = ip
    item["contact"].update(contact)
    return item


def test_a_batch_writes_what_one_by_one_would(tenant, run_jobs, mailbox, client):
    form = definitions.create_form(tenant.id, {"name": "N", "source": "Website",
                                               "fields": ["first_name"]})
    contacts.create(tenant.id, {"email": "known@example.com", "language": "nl",
                                "source": "Fair", "status": "confirmed"},
                    Provenance(channel="api"))
    black = contacts.create(tenant.id, {"email": "black@example.com", "language": "nl",
                                        "source": "Fair"}, Provenance(channel="api"))
    contacts.blacklist(tenant.id, black.id, Provenance(channel="api"))
    entries = [("sub_1", _item(form, "new@example.com", "192.0.2.1", first_name="Ann")),
               ("sub_2", _item(form, "known@example.com", "192.0.2.2", first_name="Kim")),
               ("sub_3", _item(form, "black@example.com", "192.0.2.3", first_name="Bo")),
               ("sub_4", _item(form, "new@example.com", "192.0.2.4", first_name="Anna")),
               ("sub_5", _item(form, "bad@example.com", "192.0.2.5", language="xx"))]
    submission_batch.handle_many(entries)
    outcomes = {s.id: (s.outcome, s.mail_sent) for s in Submission.select()}
    assert outcomes == {"sub_1": ("created", True), "sub_2": ("updated", True),
                        "sub_3": ("blacklisted", True), "sub_4": ("updated", True),
                        "sub_5": ("invalid", True)}
    stored = {c.email: (c.first_name, c.status, c.language, c.source)
              for c in Contact.select()}
    assert stored == {"new@example.com": ("Anna", "unconfirmed", "en", "Website"),  # in order
                      "known@example.com": ("Kim", "confirmed", "nl", "Fair"),
                      "black@example.com": (None, "blacklisted", "nl", "Fair")}
    new = Contact.get(Contact.email == "new@example.com")
    [consent] = Consent.select().where(Consent.contact == new.id)
    assert (consent.ip, consent.channel, consent.reference) == ("192.0.2.1", "form",
                                                                f"N #{form.id}")
    assert [e.kind for e in ContactEvent.select().where(ContactEvent.contact == new.id)
            .order_by(ContactEvent.id)] == ["created", "updated"]
    run_jobs()
    # one confirmation mail per submission of the unconfirmed address, none to the others
    assert len(mailbox.to("new@example.com")) == 2
    assert mailbox.to("known@example.com") == mailbox.to("black@example.com") == []
    r = client.get("/confirm/" + confirm_link(mailbox.to("new@example.com")[1]).rpartition(
        "/confirm/")[2])
    assert r.status_code == 200
    run_jobs()
    assert Contact.get(Contact.email == "new@example.com").status == "confirmed"


def test_a_batch_sends_welcome_mails_with_their_own_unsubscribe_links(tenant, run_jobs,
                                                                      mailbox):
    form = definitions.create_form(tenant.id, {"name": "N", "source": "Website",
                                               "double_opt_in": False, "welcome": True})
    submission_batch.handle_many([(f"sub_{n}", _item(form, f"w{n}@example.com", "192.0.2.9"))
                                  for n in range(3)])
    run_jobs()
    links = {m["List-Unsubscribe"] for m in mailbox.messages}
    assert len(mailbox.messages) == 3 and len(links) == 3
    assert UnsubscribeLink.select().count() == 3
    assert {c.status for c in Contact.select()} == {"confirmed"}


def test_a_batch_rerun_writes_and_mails_nothing_twice(tenant, run_jobs, mailbox):
    form = definitions.create_form(tenant.id, {"name": "N", "source": "Website"})
    entries = [(f"sub_{n}", _item(form, f"r{n}@example.com", "192.0.2.1")) for n in range(4)]
    submission_batch.handle_many(entries[:2])
    submission_batch.handle_many(entries)  # a drain crashed after the first commit
    run_jobs()
    assert Submission.select().count() == Contact.select().count() == 4
    assert Confirmation.select().count() == OutgoingMail.select().count() == 4
    assert sorted(m["To"] for m in mailbox.messages) == [f"r{n}@example.com" for n in range(4)]
    assert len({c.nonce for c in Confirmation.select()}) == 4


def test_a_single_run_that_crashed_before_its_mail_gets_it_from_the_batch(
        tenant, run_jobs, mailbox, monkeypatch):
    form = definitions.create_form(tenant.id, {"name": "N", "source": "Website"})
    item = _item(form, "crash@example.com", "192.0.2.1")

    def worker_dies(*args, **kwargs):
        raise RuntimeError("worker died")
    with monkeypatch.context() as patch:
        patch.setattr(mails, "render_mail", worker_dies)
        with pytest.raises(RuntimeError):
            jobs.process_submission("sub_crash", item)
    submission_batch.handle_many([("sub_crash", item)])
    submission_batch.handle_many([("sub_crash", item)])
    run_jobs()
    assert len(mailbox.to("crash@example.com")) == 1


def test_the_daily_cap_holds_within_a_batch_and_across_batches(tenant, run_jobs, mailbox):
    form = definitions.create_form(tenant.id, {"name": "N", "source": "Website"})
    submission_batch.handle_many([(f"sub_{n}", _item(form, "cap@example.com", "192.0.2.1"))
                                  for n in range(2)])
    submission_batch.handle_many([(f"sub_{n}", _item(form, "cap@example.com", "192.0.2.1"))
                                  for n in range(2, 6)])
    run_jobs()
    assert len(mailbox.to("cap@example.com")) == mails.MAX_CONFIRMATION_MAILS
    assert Submission.select().count() == 6 and Contact.select().count() == 1


def test_a_gone_form_writes_nothing(tenant):
    form = definitions.create_form(tenant.id, {"name": "N", "source": "Website"})
    item = _item(form, "gone@example.com", "192.0.2.1")
    item["form_id"] = form.id + 1000
    submission_batch.handle_many([("sub_gone", item)])
    assert Submission.select().count() == Contact.select().count() == 0
