"""The core area: accounts, contacts, consent, tokens, mail, the queue and /healthz.

Its commands (serve, worker, db, account, token, user) are ``inlet`` itself (gateway.cli).
"""

from __future__ import annotations

from gateway.area import Area
from gateway.models import MODELS

AREA = Area(
    name="core",
    models=tuple(MODELS),
    routes="gateway.health.routes",
    job_modules=("gateway.mail",),
    sweeps=("gateway.mail.requeue_unsent", "gateway.intake.reschedule",
            "gateway.idempotency.purge_expired"),
    erase="gateway.personal_data.erase",
    retention=("gateway.personal_data.purge_mail_bodies",),
)
