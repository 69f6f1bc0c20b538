"""The login session: a server-side row per login, named by a random id in a signed cookie.

The cookie (Starlette's SessionMiddleware, signed with the app's secret) carries the session
id and per-browser scratch data (the CSRF token, one-time notices). Only the ``AdminSession``
row makes a browser logged in: logout, "log out everywhere" and a password change revoke or
invalidate it, so a copied cookie stops working. The row keeps only the id's SHA-256, and
both an idle timeout and an absolute lifetime hold.

The middleware is mounted inside ``/admin`` only; the secret is read from the app's settings
on the first request because routes are built before settings exist.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import datetime, timedelta

from starlette.middleware.sessions import SessionMiddleware
from starlette.requests import Request

from gateway import runtime
from gateway.db import utcnow
from gateway.models import AdminSession as SessionRow
from gateway.models import User

COOKIE = "inlet_admin"
# last_seen_at is written at most this often: one read per request, a write once a minute.
TOUCH_EVERY = timedelta(seconds=60)


class AdminSession:
    """Pure ASGI wrapper building one SessionMiddleware per settings (tests use several)."""

    def __init__(self, app):
        self.app = app
        self._inner: dict[tuple, SessionMiddleware] = {}

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        settings = scope["app"].state.settings
        key = (settings.secret_key, settings.session_max_seconds, settings.secure_cookies)
        inner = self._inner.get(key)
        if inner is None:
            inner = self._inner[key] = SessionMiddleware(
                self.app, secret_key=settings.secret_key, session_cookie=COOKIE,
                max_age=settings.session_max_seconds, path="/admin", same_site="lax",
                https_only=settings.secure_cookies)
        await inner(scope, receive, send)


def password_stamp(user: User) -> str:
    """A short digest of the password hash: changing the password ends every session."""
    return hashlib.sha256(user.password_hash.encode()).hexdigest()[:16]


def _hash(session_id: str) -> str:
    return hashlib.sha256(session_id.encode()).hexdigest()


def open_session(user: User, previous: str | None = None) -> str:
    """Store a new session for ``user`` (ending ``previous``); returns its id for the cookie.

    Call inside a DB context. The user's dead rows are cleared here, so the table stays small.
    """
    if previous:
        end_session(previous)
    now = utcnow()
    lifetime = timedelta(seconds=runtime.settings().session_max_seconds)
    SessionRow.delete().where((SessionRow.user == user.id) & (
        SessionRow.revoked_at.is_null(False) | (SessionRow.created_at < now - lifetime))
    ).execute()
    session_id = secrets.token_urlsafe(32)
    SessionRow.create(user=user.id, id_hash=_hash(session_id), password_stamp=password_stamp(user),
                      created_at=now, last_seen_at=now)
    return session_id


def end_session(session_id: str) -> None:
    """Revoke one session (call inside a DB context)."""
    SessionRow.update(revoked_at=utcnow()).where(
        (SessionRow.id_hash == _hash(session_id)) & SessionRow.revoked_at.is_null()).execute()


def end_all_sessions(user_id: int) -> int:
    """Revoke every live session of a user ("log out everywhere"); returns how many."""
    return SessionRow.update(revoked_at=utcnow()).where(
        (SessionRow.user == user_id) & SessionRow.revoked_at.is_null()).execute()


def log_in(request: Request, session_id: str) -> None:
    """Point the browser at a fresh session (a new CSRF token too: no fixation)."""
    request.session.clear()
    request.session["sid"] = session_id


def log_out(request: Request, language: str | None = None) -> None:
    """Forget everything the cookie held (revoke the row first with ``end_session``) but the
    ``language`` the login page then speaks (the user's, not the browser's)."""
    request.session.clear()
    if language:
        request.session["language"] = language


def session_user(session: dict, now: datetime | None = None) -> User | None:
    """The user of a live session, or None (call inside a DB context): one indexed query."""
    session_id = session.get("sid")
    if not isinstance(session_id, str):
        return None
    row = (SessionRow.select(SessionRow, User).join(User)
           .where(SessionRow.id_hash == _hash(session_id)).first())
    now = now or utcnow()
    if row is None or not _alive(row, now):
        return None
    if not hmac.compare_digest(row.password_stamp, password_stamp(row.user)):
        end_session(session_id)  # the password changed since: this session is over for good
        return None
    if now - row.last_seen_at > TOUCH_EVERY:
        SessionRow.update(last_seen_at=now).where(SessionRow.id == row.id).execute()
    return row.user


def _alive(row: SessionRow, now: datetime) -> bool:
    """Not revoked, not idle too long, not older than the absolute lifetime."""
    settings = runtime.settings()
    return (row.revoked_at is None
            and now - row.last_seen_at <= timedelta(seconds=settings.session_idle_seconds)
            and now - row.created_at <= timedelta(seconds=settings.session_max_seconds))


def flash(request: Request, message: str, kind: str = "success", link: tuple | None = None
          ) -> None:
    """A one-time notice shown on the next page, with an optional (href, text) link."""
    request.session.setdefault("flash", []).append([kind, message, *(link or ("", ""))])


def pop_flashes(request: Request) -> list:
    """The pending notices, removed from the session."""
    return request.session.pop("flash", [])
