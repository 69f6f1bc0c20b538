"""Confirmation and unsubscribe links: a rerun of a crashed confirmation sends the welcome once,
and a link dies with its row (ids recur on SQLite) while links mailed before nonces still work."""

import time
from urllib.parse import urlsplit

from forms import confirmations, jobs, tokens
from forms.models import Confirmation
from gateway.db import db
from gateway.models import Contact
from tests.forms.conftest import confirm_link, contacts


def _path(url: str) -> str:
    return urlsplit(url).path


def test_a_rerun_sends_the_welcome_a_crashed_run_did_not(client, tenant, make_form, visitor,
                                                         run_jobs, mailbox):
    form = make_form(welcome=True)
    visitor(form, {"email": "crash@example.com"})
    run_jobs()
    row = Confirmation.get()
    with db.connection_context():
        # As if the job died right after committing the confirmation.
        assert confirmations._use_link(row, "192.0.2.9", "ua") == "confirmed"
        assert jobs.confirm_link(row.id) == "used"
    run_jobs()
    assert [m["Subject"] for m in mailbox.to("crash@example.com")] == [
        "Please confirm your subscription", "Welcome!"]
    assert jobs.confirm_link(row.id) == "used"
    run_jobs()
    assert len(mailbox.to("crash@example.com")) == 2


# ---- links die with their row (issue 14: ids recur on SQLite) -------------------------------

def _unsubscribe_path(mail) -> str:
    return _path(mail["List-Unsubscribe"].strip().strip("<>"))


def _welcomed(client, form, visitor, run_jobs, mailbox, email: str) -> tuple[str, str]:
    """Subscribe and confirm ``email``; returns its (confirm, unsubscribe) link paths."""
    visitor(form, {"email": email})
    run_jobs()
    confirm = _path(confirm_link(mailbox.to(email)[-1]))
    assert "confirmed" in client.get(confirm).text
    run_jobs()
    [welcome] = [m for m in mailbox.to(email) if m["Subject"] == "Welcome!"]
    return confirm, _unsubscribe_path(welcome)


def _assert_dead(client, run_jobs, tenant, confirm: str, unsubscribe: str) -> None:
    """The links are refused with the invalid-link page and change no one."""
    before = contacts(client, tenant)
    r = client.get(confirm, follow_redirects=False)
    assert r.status_code == 404 and "not valid" in r.text
    assert client.post(confirm).status_code == 200  # "resend": same answer always, no mail
    assert client.get(unsubscribe).status_code == 404
    r = client.post(unsubscribe, data={"List-Unsubscribe": "One-Click"})
    assert r.status_code == 404 and "not valid" in r.text
    run_jobs()
    assert contacts(client, tenant) == before


def test_a_deleted_contacts_links_never_act_on_the_next_one(client, tenant, make_form, visitor,
                                                           run_jobs, mailbox):
    form = make_form(welcome=True)
    x_confirm, x_unsubscribe = _welcomed(client, form, visitor, run_jobs, mailbox,
                                         "x@example.com")
    [x] = contacts(client, tenant)
    assert client.delete(f"/api/contacts/{x['id']}", headers=tenant.headers).status_code == 204
    visitor(form, {"email": "y@example.com"})
    run_jobs()
    [y] = contacts(client, tenant)
    assert y["id"] > x["id"]  # SQLite gave y x's id before AUTOINCREMENT
    _assert_dead(client, run_jobs, tenant, x_confirm, x_unsubscribe)
    assert len(mailbox.to("y@example.com")) == 1  # x's expired-link "resend" mailed no one
    y_confirm = _path(confirm_link(mailbox.to("y@example.com")[0]))
    assert "confirmed" in client.get(y_confirm).text  # y's own link works
    run_jobs()
    assert contacts(client, tenant)[0]["status"] == "confirmed"
    [welcome] = [m for m in mailbox.to("y@example.com") if m["Subject"] == "Welcome!"]
    client.post(_unsubscribe_path(welcome), data={"List-Unsubscribe": "One-Click"})
    run_jobs()
    assert contacts(client, tenant)[0]["status"] == "blacklisted"


def test_links_are_bound_to_their_row_even_if_its_id_recurs(client, tenant, make_form, visitor,
                                                            run_jobs, mailbox, settings):
    from forms.models import UnsubscribeLink
    form = make_form(welcome=True)
    x_confirm, x_unsubscribe = _welcomed(client, form, visitor, run_jobs, mailbox,
                                         "x@example.com")
    with db.connection_context():
        x_row, x_link = Confirmation.get(), UnsubscribeLink.get()
        x_id = x_row.contact_id
        Contact.get_by_id(x_id).delete_instance(recursive=True)
        # As if the ids came round again (the way SQLite reused them before schema 3).
        Contact.create(id=x_id, account=tenant.id, email="y@example.com", language="en",
                       source="Website")
        y_row = Confirmation.create(id=x_row.id, form=form["id"], contact=x_id, language="en")
        UnsubscribeLink.create(id=x_link.id, contact=x_id, form=form["id"])
    _assert_dead(client, run_jobs, tenant, x_confirm, x_unsubscribe)
    assert contacts(client, tenant)[0]["status"] == "unconfirmed"
    y_confirm = tokens.confirm_token(settings.secret_key, y_row.id, y_row.nonce)
    assert "confirmed" in client.get(f"/confirm/{y_confirm}").text  # a job key of its own
    run_jobs()
    assert contacts(client, tenant)[0]["status"] == "confirmed"


def test_unsubscribe_links_mailed_before_nonces_still_work_for_their_contact(
        client, tenant, settings, run_jobs):
    r = client.post("/api/contacts", headers=tenant.headers, json={
        "email": "old@example.com", "language": "en", "source": "Website",
        "status": "confirmed"})
    contact_id = r.json()["id"]
    # [contact id, account id], the shape links had before: signed before the contact
    # existed, it was mailed to someone else who had this id once.
    before = tokens.sign(settings.secret_key, "unsubscribe", [contact_id, tenant.id],
                         now=time.time() - 3600)
    assert client.post(f"/unsubscribe/{before}").status_code == 404
    run_jobs()
    assert contacts(client, tenant)[0]["status"] == "confirmed"
    mailed = tokens.sign(settings.secret_key, "unsubscribe", [contact_id, tenant.id])
    assert client.post(f"/unsubscribe/{mailed}").status_code == 200
    run_jobs()
    assert contacts(client, tenant)[0]["status"] == "blacklisted"
