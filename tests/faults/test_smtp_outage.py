"""The SMTP server is down while visitors subscribe through a double opt-in form.

Each confirmation mail must be delivered once the server is back — by the job's own retries
and by the sweeper (``gateway.mail.requeue_unsent``) racing them — and never twice.
"""

from __future__ import annotations

import socket
import time
from datetime import timedelta

import httpx2 as httpx
import pytest
from aiosmtpd.controller import Controller

from tests.conftest import Mailbox
from tests.faults.conftest import double_opt_in_form
from tests.faults.services import wait_until

pytestmark = pytest.mark.timeout(180)  # every fault test is bounded

SUBSCRIBERS = 12


def test_confirmation_mails_sent_once_after_smtp_comes_back(stack):
    from gateway.db import db
    from gateway.mail import requeue_unsent
    from gateway.models import OutgoingMail
    # Hold the port (bound, not listening: connections are refused, as to a down server)
    # so that no other process on this shared box can take it before SMTP comes back.
    hold = socket.socket()
    hold.bind(("127.0.0.1", 0))
    port = hold.getsockname()[1]
    stack.env["INLET_SMTP_URL"] = f"smtp://127.0.0.1:{port}"
    stack.configure()
    form, ts = double_opt_in_form("Mailing")
    stack.serve()
    stack.worker()
    stack.worker()
    emails = [f"sub{i}@example.com" for i in range(SUBSCRIBERS)]
    with httpx.Client(base_url=stack.base_url, timeout=15) as client:
        for i, email in enumerate(emails):
            r = client.post(f"/f/{form.slug}", data={"email": email, "_ts": ts},
                            headers={"Accept": "application/json",
                                     "X-Forwarded-For": f"10.9.0.{i}"})
            assert r.status_code == 202, r.text

    def attempted():
        with db.connection_context():
            mails = list(OutgoingMail.select().where(OutgoingMail.to.in_(emails)))
        return len(mails) == SUBSCRIBERS and all(m.attempts >= 1 for m in mails) and mails
    # Generous bounds: on a busy CI box the workers may take a while to start.
    mails = wait_until(attempted, 60, "every confirmation mail to have failed once", 0.2)
    assert all(m.status != "sent" for m in mails)

    box = Mailbox()
    hold.close()
    smtp = Controller(box, hostname="127.0.0.1", port=port)
    smtp.start()
    try:
        # The sweeper's pass races the jobs' own retries: the claim lets only one send.
        swept = requeue_unsent(older_than=timedelta(0))

        def delivered():
            with db.connection_context():
                return OutgoingMail.select().where(OutgoingMail.to.in_(emails)
                                                   & (OutgoingMail.status == "sent")
                                                   ).count() == SUBSCRIBERS
        wait_until(delivered, 60, "every confirmation mail to be sent", 0.2)
        time.sleep(3.0)  # let the remaining retries and swept jobs run: none may send again
    finally:
        smtp.stop()
    counts = {email: len(box.to(email)) for email in emails}
    print(f"\nsmtp outage: swept={swept} delivered={sum(counts.values())}")
    assert counts == dict.fromkeys(emails, 1)
    for message in box.messages:
        assert "/confirm/" in message.get_body(("plain",)).get_content()
