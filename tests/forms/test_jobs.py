"""Jobs: idempotent writes, the daily mail cap, confirm and unsubscribe links (used, expired,
tampered)."""

import time
from urllib.parse import urlsplit

from forms import jobs, mails, tokens
from forms.models import Confirmation
from gateway.db import db
from gateway.models import Contact, OutgoingMail
from tests.forms.conftest import confirm_link, contacts


def _path(url: str) -> str:
    return urlsplit(url).path


def test_at_most_three_confirmation_mails_a_day(client, tenant, form, visitor, run_jobs,
                                                mailbox):
    for _ in range(5):
        assert visitor(form, {"email": "bomb@example.com"}).status_code == 200
    run_jobs()
    assert len(mailbox.to("bomb@example.com")) == 3
    assert len(contacts(client, tenant)) == 1


def test_without_double_opt_in_confirmed_at_once_with_welcome(client, tenant, make_form,
                                                              visitor, run_jobs, mailbox):
    form = make_form(double_opt_in=False, welcome=True)
    r = visitor(form, {"email": "direct@example.com", "first_name": "Dee"})
    assert "Thank you for subscribing" in r.text
    run_jobs()
    [contact] = contacts(client, tenant, status="confirmed")
    assert contact["email"] == "direct@example.com"
    [mail] = mailbox.to("direct@example.com")
    assert mail["Subject"] == "Welcome!"
    assert "Hello Dee" in mail.get_body(("plain",)).get_content()


def test_expired_link_offers_a_new_mail(client, tenant, form, visitor, run_jobs, mailbox,
                                        settings):
    visitor(form, {"email": "late@example.com"})
    run_jobs()
    row = Confirmation.get()
    week_ago = time.time() - settings.token_max_age - 60  # frozen clock at issue time
    old = tokens.confirm_token(settings.secret_key, row.id, row.nonce, now=week_ago)
    r = client.get(f"/confirm/{old}")
    assert r.status_code == 410
    assert "expired" in r.text and 'method="post"' in r.text
    r = client.post(f"/confirm/{old}")
    assert r.status_code == 200 and "new mail" in r.text
    run_jobs()
    assert len(mailbox.to("late@example.com")) == 2
    client.get(_path(confirm_link(mailbox.to("late@example.com")[-1])))
    run_jobs()
    assert contacts(client, tenant, status="confirmed")[0]["email"] == "late@example.com"


def test_tampered_link_changes_nothing(client, tenant, form, visitor, run_jobs, mailbox):
    visitor(form, {"email": "tamper@example.com"})
    run_jobs()
    link = _path(confirm_link(mailbox.to("tamper@example.com")[0]))
    r = client.get(link[:-2] + ("AA" if not link.endswith("AA") else "BB"))
    assert r.status_code == 404 and "not valid" in r.text
    run_jobs()
    assert contacts(client, tenant)[0]["status"] == "unconfirmed"


def test_a_link_is_used_once(client, tenant, make_form, visitor, run_jobs, mailbox):
    form = make_form(after_confirm_url="https://shop.example/welcome")
    visitor(form, {"email": "once@example.com"})
    run_jobs()
    link = _path(confirm_link(mailbox.to("once@example.com")[0]))
    r = client.get(link, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "https://shop.example/welcome"
    run_jobs()
    r = client.get(link, follow_redirects=False)
    assert r.status_code == 200 and "already confirmed" in r.text
    used = Confirmation.get()
    assert used.used_at is not None and used.used_ip == "testclient"


def test_a_blacklisted_contact_is_never_confirmed(client, tenant, form, visitor, run_jobs,
                                                  mailbox):
    visitor(form, {"email": "later-black@example.com"})
    run_jobs()
    [contact] = contacts(client, tenant)
    client.post(f"/api/contacts/{contact['id']}/blacklist", headers=tenant.headers)
    r = client.get(_path(confirm_link(mailbox.to("later-black@example.com")[0])))
    assert r.status_code == 200
    run_jobs()
    assert contacts(client, tenant)[0]["status"] == "blacklisted"


def test_submission_job_is_idempotent(client, tenant, form, run_jobs, mailbox):
    item = {"form_id": form["id"], "account_id": tenant.id, "language": "en",
            "contact": {"email": "twice@example.com", "language": "en", "source": "Website"},
            "ip": "192.0.2.1", "user_agent": "test", "at": time.time()}
    assert jobs.process_submission("sub_1", item) == "created"
    assert jobs.process_submission("sub_1", item) == "created"
    run_jobs()
    assert len(mailbox.to("twice@example.com")) == 1
    with db.connection_context():
        contact = Contact.get(Contact.email == "twice@example.com")
        [consent] = list(contact.consents)
    assert (consent.channel, consent.reference, consent.ip) == ("form", f"Newsletter #{form['id']}",
                                                                "192.0.2.1")
    assert consent.text.startswith("I agree to receive e-mails")


def test_send_confirmation_for_other_areas(client, tenant, form, run_jobs, mailbox):
    r = client.post("/api/contacts", headers=tenant.headers, json={
        "email": "hook@example.com", "language": "fr", "source": "Fair",
        "status": "unconfirmed"})
    contact_id = r.json()["id"]
    assert jobs.send_confirmation(form["id"], contact_id) is True
    run_jobs()
    [mail] = mailbox.to("hook@example.com")
    assert mail["Subject"] == "Confirmez votre inscription"  # the contact's language
    client.get(_path(confirm_link(mail)))
    run_jobs()
    assert jobs.send_confirmation(form["id"], contact_id) is False  # confirmed now
    with db.connection_context():
        assert mails.send_confirmation(form["id"], 10**9) is None


def test_unsubscribe_link_blacklists(client, tenant, make_form, visitor, run_jobs, mailbox):
    form = make_form(double_opt_in=False, welcome=True)
    visitor(form, {"email": "bye@example.com"})
    run_jobs()
    [welcome] = mailbox.to("bye@example.com")
    link = _path(welcome["List-Unsubscribe"].strip().strip("<>"))
    assert "stop receiving" in client.get(link).text
    r = client.post(link, data={"List-Unsubscribe": "One-Click"})
    assert r.status_code == 200 and "unsubscribed" in r.text
    run_jobs()
    assert contacts(client, tenant)[0]["status"] == "blacklisted"
    assert client.get("/unsubscribe/forged").status_code == 404
    with db.connection_context():
        assert OutgoingMail.select().count() == 1


def test_a_head_request_does_not_confirm(client, tenant, form, visitor, run_jobs, mailbox):
    visitor(form, {"email": "scanner@example.com"})
    run_jobs()
    link = _path(confirm_link(mailbox.to("scanner@example.com")[0]))
    assert client.head(link).status_code == 200
    run_jobs()
    assert contacts(client, tenant)[0]["status"] == "unconfirmed"



