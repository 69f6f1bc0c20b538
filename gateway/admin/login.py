"""Log in and log out."""

from __future__ import annotations

import hashlib

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from gateway import i18n, ratelimit
from gateway.admin import csrf
from gateway.admin.pages import Viewer, page, redirect, render
from gateway.admin.session import (
    end_all_sessions,
    end_session,
    flash,
    log_in,
    log_out,
    open_session,
)
from gateway.auth import check_password, hash_password
from gateway.db import db
from gateway.errors import RateLimited
from gateway.i18n import _, ngettext, number
from gateway.models import User
from gateway.web import client_ip, in_db

# Checked when the address is unknown, so a miss takes as long as a wrong password.
_DUMMY_HASH = hash_password("not-a-real-password")


def safe_next(value: str | None) -> str | None:
    """Only a path inside the admin UI: never an open redirect."""
    if value and value.startswith("/admin/") and not value.startswith("//") \
            and "\\" not in value:
        return value
    return None


# Only failures count, and never per address alone: a stranger guessing from elsewhere must
# not lock an admin out. Per address and IP (guessing one password), the waits grow: a minute
# after 5 failures, up to 15 minutes after 10, an hour after 20. Per IP (spraying many
# addresses), 50 a quarter of an hour and 200 a day.
ADDRESS_IP_LIMITS = ((5, 60), (10, 15 * 60), (20, 3600))
IP_LIMITS = ((50, 15 * 60), (200, 24 * 3600))


def login_limits(email: str, ip: str) -> list[ratelimit.Limit]:
    """The brute-force limits a failed login counts against (an attempt is refused while any
    is full)."""
    address = hashlib.sha256(email.encode()).hexdigest()[:24]  # any length typed: a short key
    return [*(ratelimit.Limit(f"admin-login:ip-email:{ip}:{address}", limit, window)
              for limit, window in ADDRESS_IP_LIMITS),
            *(ratelimit.Limit(f"admin-login:ip:{ip}", limit, window)
              for limit, window in IP_LIMITS)]


@page(login=False)
async def login(request: Request) -> Response:
    """GET shows the form; POST checks the password (failures rate-limited per address+IP and
    per IP)."""
    nxt = safe_next(request.query_params.get("next"))
    if request.method == "GET":
        if request.state.viewer is not None:  # already logged in
            return RedirectResponse(nxt or str(request.url_for("admin:contacts").path),
                                    status_code=303)
        return render(request, "login.html", {"email": "", "error": None, "next": nxt})
    form = await csrf.checked_form(request)
    email = str(form.get("email") or "").strip().lower()
    password = str(form.get("password") or "")
    nxt = safe_next(str(form.get("next") or ""))
    limits = login_limits(email, client_ip(request))
    limiter = ratelimit.limiter_for(request.app.state.settings.redis_url)
    try:
        await ratelimit.check_uncounted(limiter, limits)
    except RateLimited as exc:
        wait = int(exc.headers["Retry-After"])
        message = _("Too many failed logins. Try again in %(wait)s.") % {"wait": _minutes(wait)}
        return render(request, "login.html", {"email": email, "error": message, "next": nxt},
                      status=429, headers=exc.headers)
    user = await run_in_threadpool(_authenticate, email, password)
    if user is None:
        await limiter.hit(limits)
        return render(request, "login.html", {"email": email, "next": nxt,
                                              "error": _("Wrong e-mail address or password.")},
                      status=400)
    session_id = await in_db(open_session, user, request.session.get("sid"))
    log_in(request, session_id)
    return RedirectResponse(nxt or str(request.url_for("admin:contacts").path), status_code=303)


def _minutes(seconds: int) -> str:
    """A wait in words, rounded up to whole minutes."""
    minutes = -(-seconds // 60)
    return ngettext("%(num)s minute", "%(num)s minutes", minutes) % {"num": number(minutes)}


def _authenticate(email: str, password: str) -> User | None:
    with db.connection_context():
        user = User.get_or_none(User.email == email) if email else None
    stored = user.password_hash if user else _DUMMY_HASH
    ok = check_password(stored, password)
    return user if ok and user else None


@page(login=False)
async def logout(request: Request) -> Response:
    """POST only: end the session, on the server too (a copied cookie stops working)."""
    await csrf.checked_form(request)
    session_id = request.session.get("sid")
    if isinstance(session_id, str):
        await in_db(end_session, session_id)
    log_out(request, i18n.current())
    return redirect(request, "login")


@page()
async def logout_everywhere(request: Request, viewer: Viewer) -> Response:
    """POST only: end every session of this user, this browser's included."""
    await csrf.checked_form(request)
    await in_db(end_all_sessions, viewer.user_id)
    log_out(request, viewer.language)
    flash(request, _("You were logged out everywhere."))
    return redirect(request, "login")
