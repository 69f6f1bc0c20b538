"""The login session: a signed cookie (Starlette's SessionMiddleware) keyed by the app's secret.

The middleware is mounted inside ``/admin`` only; the secret is read from the app's settings
on the first request because routes are built before settings exist.
"""

from __future__ import annotations

import hashlib
import hmac

from starlette.middleware.sessions import SessionMiddleware
from starlette.requests import Request

from gateway.models import User

COOKIE = "inlet_admin"
MAX_AGE = 12 * 3600  # a working day; the signature carries the timestamp


class AdminSession:
    """Pure ASGI wrapper building one SessionMiddleware per secret key (tests use several)."""

    def __init__(self, app):
        self.app = app
        self._inner: dict[str, SessionMiddleware] = {}

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        settings = scope["app"].state.settings
        inner = self._inner.get(settings.secret_key)
        if inner is None:
            inner = SessionMiddleware(self.app, secret_key=settings.secret_key,
                                      session_cookie=COOKIE, max_age=MAX_AGE, path="/admin",
                                      same_site="lax", https_only=settings.env == "production")
            self._inner[settings.secret_key] = inner
        await inner(scope, receive, send)


def password_stamp(user: User) -> str:
    """A short digest of the password hash: changing the password ends every session."""
    return hashlib.sha256(user.password_hash.encode()).hexdigest()[:16]


def log_in(request: Request, user: User) -> None:
    """Start a fresh session for ``user`` (a new CSRF token too: no fixation)."""
    request.session.clear()
    request.session.update({"uid": user.id, "stamp": password_stamp(user)})


def log_out(request: Request) -> None:
    """Forget everything the session held."""
    request.session.clear()


def session_user(session: dict) -> User | None:
    """The user the session names, if it is still valid (call inside a DB context)."""
    uid = session.get("uid")
    if not isinstance(uid, int):
        return None
    user = User.get_or_none(User.id == uid)
    if user is None or not hmac.compare_digest(password_stamp(user), session.get("stamp", "")):
        return None
    return user


def flash(request: Request, message: str, kind: str = "success", link: tuple | None = None
          ) -> None:
    """A one-time notice shown on the next page, with an optional (href, text) link."""
    request.session.setdefault("flash", []).append([kind, message, *(link or ("", ""))])


def pop_flashes(request: Request) -> list:
    """The pending notices, removed from the session."""
    return request.session.pop("flash", [])
