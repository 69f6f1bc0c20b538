"""Sites a form refused: the last few origins that tried to show or post a form without
being in its allowed origins, so the marketer sees why the embed fails and allows it in one
click.

Writing is throttled per process (one write per form and origin a minute) and each form keeps
at most ``KEEP`` origins: a refused site cannot make the gateway write much.
"""

from __future__ import annotations

import time

from forms import definitions
from forms.models import Form, RefusedOrigin
from gateway import runtime
from gateway.db import db, utcnow

KEEP = 10  # origins kept per form (the most recent)
THROTTLE_SECONDS = 60.0
_recent: dict[tuple[str, int, str], float] = {}


def should_record(form_id: int, origin: str) -> bool:
    """Whether this process has not noted (``form_id``, ``origin``) within the throttle (the
    ``attempts`` kept are therefore minutes with attempts, per process)."""
    now = time.monotonic()
    key = (runtime.settings().database_url, form_id, origin[:200])
    if _recent.get(key, 0.0) > now:
        return False
    if len(_recent) > 10_000:
        _recent.clear()
    _recent[key] = now + THROTTLE_SECONDS
    return True


def clear_throttle() -> None:
    """Forget which refusals this process noted lately (tests; a fresh database)."""
    _recent.clear()


def record_refused(form_id: int, origin: str) -> None:
    """Note that ``origin`` was refused by form ``form_id`` (call inside a connection)."""
    origin = origin[:200]
    with db.atomic():
        updated = (RefusedOrigin.update(attempts=RefusedOrigin.attempts + 1, last_seen=utcnow())
                   .where((RefusedOrigin.form == form_id) & (RefusedOrigin.origin == origin))
                   .execute())
        if not updated:
            RefusedOrigin.insert(form=form_id, origin=origin).on_conflict_ignore().execute()
        stale = [r.id for r in RefusedOrigin.select(RefusedOrigin.id)
                 .where(RefusedOrigin.form == form_id)
                 .order_by(RefusedOrigin.last_seen.desc(), RefusedOrigin.id.desc())
                 .offset(KEEP)]
        if stale:
            RefusedOrigin.delete().where(RefusedOrigin.id.in_(stale)).execute()


def recent_refused(form: Form) -> list[RefusedOrigin]:
    """The origins the form refused lately and still does, newest first."""
    allowed = set(form.allowed_origins or ())
    rows = (RefusedOrigin.select().where(RefusedOrigin.form == form.id)
            .order_by(RefusedOrigin.last_seen.desc(), RefusedOrigin.id.desc()))
    return [row for row in rows if row.origin not in allowed]


def allow_origin(account_id: int, form_id, origin: str) -> Form:
    """Add ``origin`` to the form's allowed origins (validated like any edit) and forget
    that it was refused."""
    form = definitions.get_form(account_id, form_id)
    origins = [*(form.allowed_origins or ()), origin]
    form = definitions.update_form(account_id, form.id, {"allowed_origins": origins})
    RefusedOrigin.delete().where((RefusedOrigin.form == form.id)
                                 & (RefusedOrigin.origin.in_(form.allowed_origins))).execute()
    return form
