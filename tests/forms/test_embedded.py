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
