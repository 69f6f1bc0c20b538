"""Embedded defaults (no Redis, no SMTP): submissions queue in the database, mails land in
the outbox as .eml files, and the link in such a file confirms the contact."""

import re
from datetime import timedelta
from email import message_from_bytes, policy
from urllib.parse import urlsplit

import pytest

from forms.models import Confirmation
from gateway import runtime
from gateway.models import OutgoingMail
from gateway.settings import Settings
from tests.forms.conftest import contacts


@pytest.fixture
def env(env):
    env.pop("INLET_REDIS_URL")
    return env


def test_embedded_subscribe_outbox_confirm(client, tenant, form, visitor, settings, store,
                                           run_jobs):
    assert settings.embedded_queue and not settings.smtp_url
    assert visitor(form, {"email": "outbox@example.com"}).status_code == 200
    run_jobs()
    [eml] = list(settings.outbox_dir.glob("*.eml"))
    message = message_from_bytes(eml.read_bytes(), policy=policy.default)
    assert message["To"] == "outbox@example.com"
    link = re.search(r"http://testserver/confirm/\S+",
                     message.get_body(("plain",)).get_content()).group(0)
    assert "confirmed" in client.get(urlsplit(link).path).text
    run_jobs()
    assert [c["email"] for c in contacts(client, tenant, status="confirmed")] == [
        "outbox@example.com"]


def test_smtp_outage_keeps_the_confirmation(client, tenant, form, visitor, settings, store,
                                            run_jobs, smtp_server):
    from gateway.mail import requeue_unsent
    box, url = smtp_server
    runtime._current["settings"] = Settings(**{**settings.__dict__,
                                               "smtp_url": "smtp://127.0.0.1:1"})
    visitor(form, {"email": "patient@example.com"})
    run_jobs()  # SMTP is down: every attempt fails
    [mail] = list(OutgoingMail.select())
    assert mail.status == "queued" and Confirmation.get().mail_id == mail.id
    runtime._current["settings"] = Settings(**{**settings.__dict__, "smtp_url": url})
    requeue_unsent(older_than=timedelta(0))
    run_jobs()
    [received] = box.to("patient@example.com")
    assert "/confirm/" in received.get_body(("plain",)).get_content()


def _outbox_links(settings, kind: str) -> list[str]:
    """The /<kind>/<token> paths in the outbox's mails, oldest first."""
    paths = []
    for eml in sorted(settings.outbox_dir.glob("*.eml"), key=lambda p: p.stat().st_mtime_ns):
        text = message_from_bytes(eml.read_bytes(), policy=policy.default).get_body(
            ("plain",)).get_content()
        paths += re.findall(rf"http://testserver(/{kind}/\S+)", text)
    return paths


def test_a_new_contacts_click_is_not_swallowed_by_an_old_job_key(client, tenant, form, visitor,
                                                                 settings, store, run_jobs):
    from forms import tokens
    from gateway.db import db
    from gateway.models import Contact
    visitor(form, {"email": "x@example.com"})
    run_jobs()
    [x_link] = _outbox_links(settings, "confirm")
    assert "confirmed" in client.get(x_link).text
    run_jobs()
    with db.connection_context():
        x_row = Confirmation.get()
        Contact.get_by_id(x_row.contact_id).delete_instance(recursive=True)
        # Ids that come round again (SQLite before schema 3): the embedded queue keeps every
        # job key, so a key made of the id would drop y's click as a duplicate of x's.
        Contact.create(id=x_row.contact_id, account=tenant.id, email="y@example.com",
                       language="en", source="Website")
        y_row = Confirmation.create(id=x_row.id, form=form["id"], contact=x_row.contact_id,
                                    language="en")
    assert client.get(x_link).status_code == 404
    y_link = f"/confirm/{tokens.confirm_token(settings.secret_key, y_row.id, y_row.nonce)}"
    assert "confirmed" in client.get(y_link).text
    run_jobs()
    assert [c["email"] for c in contacts(client, tenant, status="confirmed")] == [
        "y@example.com"]


def test_a_deleted_contacts_confirm_link_does_not_confirm_the_next(client, tenant, form, visitor,
                                                                   settings, store, run_jobs):
    visitor(form, {"email": "x@example.com"})
    run_jobs()
    [x_link] = _outbox_links(settings, "confirm")
    [x] = contacts(client, tenant)
    assert client.delete(f"/api/contacts/{x['id']}", headers=tenant.headers).status_code == 204
    visitor(form, {"email": "y@example.com"})
    run_jobs()
    r = client.get(x_link)
    assert r.status_code == 404 and "not valid" in r.text
    run_jobs()
    assert contacts(client, tenant)[0]["status"] == "unconfirmed"
    y_link = _outbox_links(settings, "confirm")[-1]
    assert "confirmed" in client.get(y_link).text
    run_jobs()
    assert contacts(client, tenant)[0]["status"] == "confirmed"
