"""``Idempotency-Key``: a retried POST gets its first answer instead of doing the work again.

As Stripe does it: the key (1 to 255 visible ASCII characters, chosen by the client, e.g. a
UUID) is scoped to the account. The first request with a key stores its answer (status, body,
``Location``) for ``KEEP``; a retry with the same method, path and body gets that answer again,
marked ``Idempotent-Replayed: true``, and does nothing. Another request with the same key is
refused (422 ``idempotency_key_reused``); a duplicate arriving while the first still runs is
refused (409 ``idempotency_in_progress``): the key's row is inserted before the work starts,
so two copies never both run. A 5xx answer (e.g. 503 while the queue is down) or a 429 is not
kept: the client retries with the same key and the work runs then.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

import peewee
from starlette.requests import Request
from starlette.responses import Response

from gateway.db import db, utcnow
from gateway.errors import (
    IdempotencyInProgress,
    IdempotencyKeyReused,
    InletError,
    ValidationFailed,
    error_response,
)
from gateway.i18n import _
from gateway.models import IdempotencyKey
from gateway.web import in_db

log = logging.getLogger("inlet.idempotency")

HEADER = "Idempotency-Key"
MAX_KEY_LENGTH = 255
KEEP = timedelta(hours=24)
# An unanswered key this old lost its request (a killed process): the next retry takes it over.
ABANDONED_AFTER = timedelta(minutes=10)
_VALID_KEY = re.compile(rf"[!-~]{{1,{MAX_KEY_LENGTH}}}")
_KEPT_HEADERS = ("location", "content-type")


@dataclass(frozen=True)
class Claim:
    """A key reserved for this request (``row_id``), or the stored first ``answer``."""

    row_id: int | None = None
    answer: dict | None = None


def key_of(request: Request) -> str | None:
    """The request's ``Idempotency-Key`` (None without one); 422 when malformed."""
    raw = request.headers.get(HEADER)
    if raw is None:
        return None
    if not _VALID_KEY.fullmatch(raw):
        raise ValidationFailed(_("%(header)s is 1 to %(max)s visible ASCII characters.")
                               % {"header": HEADER, "max": MAX_KEY_LENGTH},
                               details=[{"field": HEADER, "code": "invalid"}])
    return raw


def fingerprint(label: str, payload) -> str:
    """SHA-256 of the request line and the parsed body (key order and spacing ignored)."""
    body = json.dumps(payload, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(f"{label}\n{body}".encode()).hexdigest()


def claim(account_id: int, key: str, label: str, digest: str,
          now: datetime | None = None) -> Claim:
    """Reserve ``key`` for this request, or return the answer its first use gave.

    Raises ``IdempotencyKeyReused`` for another request under the same key and
    ``IdempotencyInProgress`` while the first one has not answered yet.
    """
    now = now or utcnow()
    for _attempt in range(3):  # a taken-over or purged row frees the key: insert again
        try:
            with db.atomic():
                row = IdempotencyKey.create(account=account_id, key=key, request=label[:300],
                                            fingerprint=digest, created_at=now)
            return Claim(row_id=row.id)
        except peewee.IntegrityError:
            pass
        row = IdempotencyKey.get_or_none((IdempotencyKey.account == account_id)
                                         & (IdempotencyKey.key == key))
        if row is None:
            continue
        if row.created_at < now - KEEP or (row.status is None
                                           and row.created_at < now - ABANDONED_AFTER):
            IdempotencyKey.delete().where((IdempotencyKey.id == row.id)
                                          & (IdempotencyKey.created_at == row.created_at)
                                          ).execute()
            continue
        if row.fingerprint != digest:
            raise IdempotencyKeyReused(details=[{"field": HEADER, "code": "reused",
                                                 "message": _("First used for %(request)s.")
                                                 % {"request": row.request}}])
        if row.status is None:
            raise IdempotencyInProgress(headers={"Retry-After": "1"})
        return Claim(answer={"status": row.status, **row.response})
    raise IdempotencyInProgress(headers={"Retry-After": "1"})


def complete(row_id: int, status: int, body: str, headers: dict) -> None:
    """Keep the answer of the request that reserved ``row_id``."""
    IdempotencyKey.update(status=status, response={"body": body, "headers": headers}).where(
        IdempotencyKey.id == row_id).execute()


def release(row_id: int) -> None:
    """Free a key whose request gave no answer worth keeping (the client will retry)."""
    IdempotencyKey.delete().where((IdempotencyKey.id == row_id)
                                  & IdempotencyKey.status.is_null()).execute()


def purge_expired(now: datetime | None = None) -> int:
    """Sweep: forget keys older than ``KEEP``; returns how many."""
    cutoff = (now or utcnow()) - KEEP
    with db.connection_context():
        return IdempotencyKey.delete().where(IdempotencyKey.created_at < cutoff).execute()


def kept(status: int) -> bool:
    """Whether an answer is final: not a 5xx and not a 429, which a retry may change."""
    return status < 500 and status != 429


async def respond(request: Request, account_id: int, payload,
                  produce: Callable[[], Awaitable[Response]]) -> Response:
    """``await produce()`` at most once per ``Idempotency-Key``; a retry gets its answer."""
    key = key_of(request)
    if key is None:
        return await produce()
    label = f"{request.method} {request.url.path}"
    reserved = await in_db(claim, account_id, key, label, fingerprint(label, payload))
    if reserved.answer is not None:
        return replayed(reserved.answer)
    try:
        response = await produce()
    except InletError as exc:
        await _settle(reserved.row_id, error_response(exc))
        raise
    except BaseException:
        await in_db(release, reserved.row_id)
        raise
    await _settle(reserved.row_id, response)
    return response


async def _settle(row_id: int, response: Response) -> None:
    """Keep a final answer, free the key otherwise; the work is done either way."""
    try:
        if kept(response.status_code):
            headers = {name: response.headers[name] for name in _KEPT_HEADERS
                       if name in response.headers}
            await in_db(complete, row_id, response.status_code, response.body.decode(),
                        headers)
        else:
            await in_db(release, row_id)
    except Exception:  # the store went away after the work: answer it anyway
        log.warning("could not record the answer for idempotency key row %s", row_id,
                    exc_info=True)


def replayed(answer: dict) -> Response:
    """The stored first answer, marked as a replay."""
    headers = dict(answer.get("headers") or {})
    media_type = headers.pop("content-type", "application/json")
    return Response(answer["body"], status_code=answer["status"], media_type=media_type,
                    headers={**headers, "Idempotent-Replayed": "true"})
