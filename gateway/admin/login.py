"""Log in and log out."""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from gateway import ratelimit
from gateway.admin import csrf
from gateway.admin.pages import page, redirect, render
from gateway.admin.session import log_in, log_out
from gateway.auth import check_password, hash_password
from gateway.db import db
from gateway.errors import RateLimited
from gateway.models import User

# Checked when the address is unknown, so a miss takes as long as a wrong password.
_DUMMY_HASH = hash_password("not-a-real-password")


def safe_next(value: str | None) -> str | None:
    """Only a path inside the admin UI: never an open redirect."""
    if value and value.startswith("/admin/") and not value.startswith("//") \
            and "\\" not in value:
        return value
    return None


# Every attempt counts, per address (guessing one password) and per IP (spraying many).
ATTEMPTS_PER_EMAIL = 10
ATTEMPTS_PER_IP = 50
WINDOW = 15 * 60


def login_limits(email: str, ip: str) -> list[ratelimit.Limit]:
    """The brute-force limits one login attempt counts against."""
    return [ratelimit.Limit(f"admin-login:email:{email}", ATTEMPTS_PER_EMAIL, WINDOW),
            ratelimit.Limit(f"admin-login:ip:{ip}", ATTEMPTS_PER_IP, WINDOW)]


@page(login=False)
async def login(request: Request) -> Response:
    """GET shows the form; POST checks the password (rate-limited per address and IP)."""
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
    ip = request.client.host if request.client else "?"
    limiter = ratelimit.limiter_for(request.app.state.settings.redis_url)
    try:
        await ratelimit.check(limiter, login_limits(email, ip))
    except RateLimited as exc:
        wait = int(exc.headers["Retry-After"])
        message = f"Too many login attempts. Try again in {wait // 60 + 1} minutes."
        return render(request, "login.html", {"email": email, "error": message, "next": nxt},
                      status=429, headers=exc.headers)
    user = await run_in_threadpool(_authenticate, email, password)
    if user is None:
        return render(request, "login.html", {"email": email, "next": nxt,
                                              "error": "Wrong e-mail address or password."},
                      status=400)
    log_in(request, user)
    return RedirectResponse(nxt or str(request.url_for("admin:contacts").path), status_code=303)


def _authenticate(email: str, password: str) -> User | None:
    with db.connection_context():
        user = User.get_or_none(User.email == email) if email else None
    stored = user.password_hash if user else _DUMMY_HASH
    ok = check_password(stored, password)
    return user if ok and user else None


@page(login=False)
async def logout(request: Request) -> Response:
    """POST only: end the session."""
    await csrf.checked_form(request)
    log_out(request)
    return redirect(request, "login")
