"""HTTP routes of the forms area.

Public: ``GET/POST /f/{form}`` (hosted page, iframe target, submit for every embed),
``GET /f/{form}/embed.js``, ``GET/POST /confirm/{token}``, ``GET/POST /unsubscribe/{token}``.
API: ``GET/POST /api/forms``, ``GET/PATCH /api/forms/{id}``, ``GET /api/forms/{id}/embed``.

Every accepted submission answers the same, whatever the address (privacy); the write is a
queued job. Framing is allowed only to the form's allowed origins; cross-origin submits are
accepted only from them (CSRF: a browser always names the page's origin on a POST).
"""

from __future__ import annotations

import hashlib
import secrets
from urllib.parse import parse_qsl, urlsplit

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from forms import confirmations, definitions, embed, jobs, origins, public, submissions, tokens
from forms.public import HONEYPOT, LANGUAGE_NAMES, PublicForm
from forms.texts import texts_for
from gateway import intake, runtime
from gateway.errors import (
    Forbidden,
    InletError,
    NotFound,
    RateLimited,
    UnsupportedMediaType,
    ValidationFailed,
)
from gateway.ratelimit import Limit, check, limiter_for
from gateway.templating import templates
from gateway.web import authorize, client_ip, in_db, read_body, read_json, shared

MAX_FORM_BYTES = 32 * 1024
IP_LIMIT = (30, 600)  # submissions per IP per 10 minutes
ADDRESS_LIMIT = (5, 3600)  # submissions per address per hour
EMBEDS = ("hosted", "iframe", "html", "script")
NOT_ALLOWED = ("This site ({origin}) is not allowed to use this form: add it to the form's "
               "allowed sites in Inlet.")


# ---- helpers ---------------------------------------------------------------------------------

async def _public(request: Request) -> PublicForm:
    slug = request.path_params["slug"]
    cached, form = public.cached_public_form(slug)
    if not cached:  # only a cache miss costs a thread and a query, shared by concurrent misses
        form = await shared(("form", slug), run_in_threadpool, public.public_form, slug)
    if form is None:
        raise NotFound("No such form.")
    return form


def _secret() -> str:
    return runtime.settings().secret_key


def _own_origins(request: Request) -> set[str]:
    own = {f"{request.url.scheme}://{request.url.netloc}".lower()}
    base = definitions.normalise_origin(runtime.settings().base_url)
    return own | ({base} if base else set())


def _origin_of(url: str) -> str | None:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower() if parts.scheme and parts.netloc else None


def _img_src(logo: str | None) -> str:
    """The CSP's images: our own, data: URIs, and the site of the account's logo."""
    site = _origin_of(logo) if logo and not logo.startswith("data:") else None
    return " ".join(["'self'", "data:", *([site] if site else [])])


def _frame_headers(form: PublicForm, nonce: str) -> dict[str, str]:
    """CSP of pages shown by /f/: framable by the form's allowed origins only."""
    ancestors = " ".join(["'self'", *sorted(form.allowed_origins)])
    targets = {o for o in map(_origin_of, form.redirect_urls) if o}
    actions = " ".join(["'self'", *sorted(targets)])
    return {
        "content-security-policy": f"default-src 'none'; style-src 'nonce-{nonce}'; "
                                   f"img-src {_img_src(form.account_logo)}; "
                                   f"form-action {actions}; "
                                   f"frame-ancestors {ancestors}; base-uri 'none'",
        # Browsers that know frame-ancestors ignore this; older ones stay safe.
        "x-frame-options": "SAMEORIGIN",
        "cache-control": "no-store",
    }


def _page_headers(nonce: str, logo: str | None = None) -> dict[str, str]:
    """CSP of the confirm/unsubscribe pages: never framed."""
    return {"content-security-policy": f"default-src 'none'; style-src 'nonce-{nonce}'; "
                                       f"img-src {_img_src(logo)}; "
                                       "form-action 'self'; frame-ancestors 'none'; "
                                       "base-uri 'none'",
            "cache-control": "no-store"}


def _calling_origin(request: Request) -> str:
    """The origin of the page behind a request (Origin, else Referer's); "" when unnamed."""
    origin = (request.headers.get("origin") or "").lower()
    if not origin and request.headers.get("referer"):
        origin = _origin_of(request.headers["referer"]) or "null"
    return origin


def _refused(request: Request, form: PublicForm, origin: str) -> bool:
    """Whether ``origin`` names a site that may not use the form (neither ours nor allowed)."""
    return bool(origin) and origin not in _own_origins(request) and (
        origin not in form.allowed_origins)


async def _note_refused(form: PublicForm, origin: str) -> None:
    """Keep the refused site for the form's admin page (throttled; "null" is no site)."""
    if origin != "null" and origins.should_record(form.id, origin):
        await in_db(origins.record_refused, form.id, origin)


def _site_link(request: Request, form: PublicForm) -> str | None:
    """Where "back to the website" leads: the allowed page the visitor came from, else the
    account's website."""
    referer = request.headers.get("referer") or ""
    if referer and _origin_of(referer) in form.allowed_origins:
        return referer
    return form.site_url


def _cors(form: PublicForm, request: Request) -> dict[str, str]:
    origin = (request.headers.get("origin") or "").lower()
    if origin and origin in form.allowed_origins:
        return {"access-control-allow-origin": origin, "vary": "Origin"}
    return {"vary": "Origin"}


def _wants_json(request: Request) -> bool:
    return "application/json" in request.headers.get("accept", "")


async def _read_items(request: Request) -> list[tuple[str, str]]:
    ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if ctype == "application/x-www-form-urlencoded":
        raw = await read_body(request, MAX_FORM_BYTES)
        return parse_qsl(raw.decode("utf-8", "replace"), keep_blank_values=True,
                         max_num_fields=200)
    if ctype == "multipart/form-data":
        data = await request.form(max_files=0, max_fields=200, max_part_size=MAX_FORM_BYTES)
        return [(k, v) for k, v in data.multi_items() if isinstance(v, str)]
    raise UnsupportedMediaType("Post the form as application/x-www-form-urlencoded.")


def _first(items: list[tuple[str, str]], name: str) -> str:
    return next((v for k, v in items if k == name), "")


# ---- the hosted page and the submit ---------------------------------------------------------

def _render_form(request: Request, form: PublicForm, language: str, *, embed_kind: str,
                 redirect: str | None, values: dict | None = None, errors: dict | None = None,
                 message: str | None = None, status: int = 200, headers: dict | None = None
                 ) -> Response:
    nonce = secrets.token_urlsafe(12)
    t = form.texts_in(language)
    leaves_frame = embed_kind == "iframe" and bool(redirect or form.after_submit_url)
    context = {
        "form": form, "language": language, "t": t, "names": LANGUAGE_NAMES,
        "fields": public.field_schema(form, language, values, errors),
        "action": str(request.url_for("forms:submit", slug=form.slug)),
        "ts": tokens.render_token(_secret(), form.id), "embed": embed_kind,
        "honeypot": HONEYPOT, "redirect": redirect, "message": message,
        "target": "_top" if leaves_frame else None, "nonce": nonce, "page_title": t["title"],
    }
    return templates.TemplateResponse(request, "forms/page.html", context, status_code=status,
                                      headers={**_frame_headers(form, nonce), **(headers or {})})


def _message(request: Request, language: str, heading: str, text: str, *, status: int = 200,
             headers: dict | None = None, **extra) -> Response:
    nonce = secrets.token_urlsafe(12)
    context = {"language": language, "heading": heading, "text": text, "nonce": nonce,
               "page_title": heading, "resend_action": None, "resend_label": None,
               "back_url": None, "back_label": None, "account_name": None, "site_url": None,
               "account_logo": None, "site_label": texts_for({}, language)["back"], **extra}
    return templates.TemplateResponse(
        request, "forms/message.html", context, status_code=status,
        headers={**_page_headers(nonce, context["account_logo"]), **(headers or {})})


def _allowed_redirect(form: PublicForm, wanted: str | None) -> str | None:
    """``wanted`` only when it is on the form's allow-list, exactly."""
    return wanted if wanted and wanted in form.redirect_urls else None


async def hosted(request: Request) -> Response:
    """GET /f/{slug}: the hosted form page (also the iframe's page)."""
    form = await _public(request)
    params = request.query_params
    language = public.choose_language(form, params.get("lang"),
                                       request.headers.get("accept-language"))
    embed_kind = "iframe" if params.get("embed") == "iframe" else "hosted"
    framed = request.headers.get("sec-fetch-dest", embed_kind) == "iframe"
    origin = _calling_origin(request)
    if framed and _refused(request, form, origin):
        await _note_refused(form, origin)
        return _not_allowed_frame(request, form, language, origin)
    return _render_form(request, form, language, embed_kind=embed_kind,
                        redirect=_allowed_redirect(form, params.get("redirect")))


def _not_allowed_frame(request: Request, form: PublicForm, language: str, origin: str
                       ) -> Response:
    """What a frame on a site that may not use the form shows: why, not a broken page (it
    holds no form, so that site may frame it)."""
    nonce = secrets.token_urlsafe(12)
    t = form.texts_in(language)
    ancestor = origin if origin != "null" else "'none'"
    return templates.TemplateResponse(
        request, "forms/message.html",
        {"language": language, "heading": t["title"], "nonce": nonce,
         "text": NOT_ALLOWED.format(origin=origin), "page_title": t["title"],
         "resend_action": None, "resend_label": None, "back_url": None, "back_label": None,
         "account_name": form.account_name, "account_logo": form.account_logo,
         "site_url": None, "site_label": None},
        status_code=403, headers={
            "content-security-policy": f"default-src 'none'; style-src 'nonce-{nonce}'; "
                                       f"img-src {_img_src(form.account_logo)}; "
                                       f"frame-ancestors {ancestor}; base-uri 'none'",
            "cache-control": "no-store"})


async def preflight(request: Request) -> Response:
    """OPTIONS /f/{slug}: CORS preflight, answered for allowed origins only."""
    form = await _public(request)
    headers = _cors(form, request)
    if "access-control-allow-origin" in headers:
        headers.update({"access-control-allow-methods": "POST",
                        "access-control-allow-headers": "accept, content-type",
                        "access-control-max-age": "600"})
    return Response(status_code=204, headers=headers)


async def submit(request: Request) -> Response:
    """POST /f/{slug}: validate cheaply, trap bots, rate-limit, queue; same answer for all."""
    form = await _public(request)
    cors = _cors(form, request)
    try:
        return await _submit(request, form, cors)
    except InletError as exc:
        if _wants_json(request):
            return JSONResponse(exc.to_dict(), status_code=exc.status,
                                headers={**exc.headers, **cors})
        language = getattr(request.state, "form_language", None) or public.choose_language(
            form, None, request.headers.get("accept-language"))
        t = form.texts_in(language)
        text = t["rate_limited"] if isinstance(exc, RateLimited) else exc.message
        return _form_message(request, form, language, text, status=exc.status,
                             headers=exc.headers, back_url=str(
                                 request.url_for("forms:hosted", slug=form.slug)))


def _form_message(request: Request, form: PublicForm, language: str, text: str, *,
                  status: int = 200, headers: dict | None = None, back_url: str | None = None,
                  site_url: str | None = None) -> Response:
    """A message page inside the form's frame rules (the iframe shows it too)."""
    t = form.texts_in(language)
    nonce = secrets.token_urlsafe(12)
    return templates.TemplateResponse(
        request, "forms/message.html",
        {"language": language, "heading": t["title"], "text": text, "nonce": nonce,
         "page_title": t["title"], "resend_action": None, "resend_label": None,
         "back_url": back_url, "back_label": t["submit"], "account_name": form.account_name,
         "account_logo": form.account_logo, "site_url": site_url, "site_label": t["back"]},
        status_code=status, headers={**(headers or {}), **_frame_headers(form, nonce)})


async def _submit(request: Request, form: PublicForm, cors: dict) -> Response:
    # CSRF: browsers name the posting page's origin (Origin, else Referer); only our own
    # pages and the form's allowed sites may post. No header at all: not a browser attack.
    origin = _calling_origin(request)
    if _refused(request, form, origin):
        await _note_refused(form, origin)
        raise Forbidden(NOT_ALLOWED.format(origin=origin))
    items = await _read_items(request)
    embed_kind = _first(items, "_embed")
    embed_kind = embed_kind if embed_kind in EMBEDS else "html"
    language = public.choose_language(form, _first(items, "_lang"),
                                       request.headers.get("accept-language"))
    request.state.form_language = language
    redirect = _allowed_redirect(form, _first(items, "_redirect")) or form.after_submit_url
    ip = client_ip(request)
    limiter = limiter_for(runtime.settings().redis_url)
    if _first(items, HONEYPOT):
        # A bot: count it against its IP, then answer exactly like a success.
        await check(limiter, [Limit(f"form-ip:{ip}", *IP_LIMIT)])
        return _accepted(request, form, language, redirect, cors)
    raw, clean, errors = submissions.read_submission(form, items, language)
    if errors:
        return _invalid(request, form, language, embed_kind, redirect, raw, errors, cors)
    if not _stampless(items) and not _filled_slowly(form, _first(items, "_ts")):
        await check(limiter, [Limit(f"form-ip:{ip}", *IP_LIMIT)])
        return _too_fast(request, form, language, embed_kind, redirect, raw, cors)
    address = hashlib.sha256(f"{form.account_id}:{clean['email']}".encode()).hexdigest()[:32]
    item = submissions.submission_item(form, clean, ip=ip, language=language,
                                   user_agent=request.headers.get("user-agent"))
    # The limits are counted in the same Redis round trip that queues the submission.
    await intake.submit(runtime.settings(), "forms", jobs.process_submission, item,
                        item_id=intake.new_id("sub_"),
                        limits=[Limit(f"form-ip:{ip}", *IP_LIMIT),
                                Limit(f"form-address:{address}", *ADDRESS_LIMIT)])
    return _accepted(request, form, language, redirect, cors)


def _stampless(items: list[tuple[str, str]]) -> bool:
    """A post of the plain HTML snippet: pasted once, it can carry no render time, so the
    minimum fill time does not apply (the honeypot, the rate limits, the daily mail cap and
    double opt-in still do). Every page we render carries a stamp, and it is checked."""
    return _first(items, "_embed") == "html" and not any(k == "_ts" for k, _ in items)


def _filled_slowly(form: PublicForm, ts: str) -> bool:
    """The signed render time is ours, for this form, and old enough."""
    if not ts:
        return False
    try:
        return tokens.fill_seconds(_secret(), ts, form.id) >= form.min_fill_seconds
    except tokens.InvalidToken:
        return False


def _accepted(request: Request, form: PublicForm, language: str, redirect: str | None,
              cors: dict) -> Response:
    t = form.texts_in(language)
    message = t["thanks"] if form.double_opt_in else t["thanks_confirmed"]
    if _wants_json(request):
        return JSONResponse({"status": "accepted", "message": message, "redirect": redirect},
                            status_code=202, headers=cors)
    if redirect:
        return RedirectResponse(redirect, status_code=303, headers=cors)
    return _form_message(request, form, language, message, headers=cors,
                         site_url=_site_link(request, form))


def _invalid(request, form, language, embed_kind, redirect, raw, errors, cors) -> Response:
    t = form.texts_in(language)
    if _wants_json(request):
        exc = ValidationFailed(t["invalid"], details=[e.to_dict() for e in errors])
        return JSONResponse(exc.to_dict(), status_code=422, headers=cors)
    by_field = {e.field: e.message for e in errors}
    return _render_form(request, form, language, embed_kind=embed_kind, redirect=redirect,
                        values=raw, errors=by_field, message=t["invalid"], status=422,
                        headers=cors)


def _too_fast(request, form, language, embed_kind, redirect, raw, cors) -> Response:
    t = form.texts_in(language)
    if _wants_json(request):
        body = {"error": {"code": "too_fast", "message": t["too_fast"],
                          "details": [{"ts": tokens.render_token(_secret(), form.id)}]}}
        return JSONResponse(body, status_code=422, headers=cors)
    # A plain HTML embed (no render time) or a very quick hand: show it once more, pre-filled.
    return _render_form(request, form, language, embed_kind=embed_kind, redirect=redirect,
                        values=raw, message=t["too_fast"], headers=cors)


async def embed_script(request: Request) -> Response:
    """GET /f/{slug}/embed.js: the script embed for this visitor (fresh render time)."""
    form = await _public(request)
    language = public.choose_language(form, request.query_params.get("lang"),
                                       request.headers.get("accept-language"))
    origin = _calling_origin(request)
    if _refused(request, form, origin):
        await _note_refused(form, origin)
    # The script itself tells a site that may not use the form so (it knows its page's
    # origin even when no Referer came along).
    allowed = sorted(form.allowed_origins | _own_origins(request))
    source = embed.embed_js(form, action=str(request.url_for("forms:submit", slug=form.slug)),
                            language=language, ts=tokens.render_token(_secret(), form.id),
                            allowed=allowed, refused_text=NOT_ALLOWED)
    return Response(source, media_type="text/javascript; charset=utf-8", headers={
        **_cors(form, request), "cache-control": "no-store",
        "vary": "Origin, Accept-Language", "cross-origin-resource-policy": "cross-origin"})


# ---- confirm and unsubscribe ----------------------------------------------------------------

def _visitor_language(request: Request, form: PublicForm | None, preferred: str | None) -> str:
    if form is not None:
        return public.choose_language(form, preferred, request.headers.get("accept-language"))
    for code in public.accepted_languages(request.headers.get("accept-language") or ""):
        if code in ("nl", "fr", "en"):
            return code
    return "en"


async def confirm_page(request: Request) -> Response:
    """GET /confirm/{token}: confirm once; used, expired or tampered links get their page."""
    token = request.path_params["token"]
    link = await in_db(confirmations.inspect_link, token)
    form = await in_db(public.public_form_by_id, link.form_id) if link.form_id else None
    language = _visitor_language(request, form, link.language)
    t = form.texts_in(language) if form else texts_for({}, language)
    if link.state == "valid" and request.method == "HEAD":
        # Mail scanners probe links with HEAD: only a real visit confirms.
        return _message(request, language, t["title"], t["confirmed"])
    if link.state == "valid":
        await run_in_threadpool(runtime.queue().enqueue, jobs.confirm_link,
                                link.confirmation_id, client_ip(request),
                                (request.headers.get("user-agent") or "")[:500], link.nonce,
                                job_id=f"forms-confirm-{link.nonce}")
        if form and form.after_confirm_url:
            return RedirectResponse(form.after_confirm_url, status_code=303)
        return _message(request, language, t["title"], t["confirmed"], **_branding(form))
    if link.state == "used":
        return _message(request, language, t["title"], t["already_confirmed"],
                        **_branding(form))
    if link.state == "expired":
        return _message(request, language, t["title"], t["link_expired"], status=410,
                        resend_action=str(request.url_for("forms:confirm", token=token)),
                        resend_label=t["resend"])
    back = str(request.url_for("forms:hosted", slug=form.slug)) if form else None
    return _message(request, language, t["title"], t["link_invalid"], status=404,
                    back_url=back, back_label=t["submit"])


def _branding(form: PublicForm | None) -> dict:
    """The account's name and a link back to its site, for pages after the form."""
    if form is None:
        return {}
    site = form.site_url or (_origin_of(form.after_submit_url) + "/"
                             if form.after_submit_url else None)
    if site is None and len(form.allowed_origins) == 1:  # the one site that shows the form
        site = next(iter(form.allowed_origins)) + "/"
    return {"account_name": form.account_name, "account_logo": form.account_logo,
            "site_url": site}


async def confirm_resend(request: Request) -> Response:
    """POST /confirm/{token}: a new confirmation mail for an expired link (same answer always)."""
    token = request.path_params["token"]
    limiter = limiter_for(runtime.settings().redis_url)
    await check(limiter, [Limit(f"form-ip:{client_ip(request)}", *IP_LIMIT)])
    link = await in_db(confirmations.inspect_link, token)
    if link.state in ("expired", "valid"):
        await run_in_threadpool(runtime.queue().enqueue, jobs.resend_confirmation,
                                link.confirmation_id)
    form = await in_db(public.public_form_by_id, link.form_id) if link.form_id else None
    language = _visitor_language(request, form, link.language)
    t = form.texts_in(language) if form else texts_for({}, language)
    return _message(request, language, t["title"], t["resent"])


async def unsubscribe(request: Request) -> Response:
    """GET shows a button; POST (also RFC 8058 one-click) blacklists the contact."""
    token = request.path_params["token"]
    target = await in_db(confirmations.unsubscribe_target, token)
    language = _visitor_language(request, None, None)
    t = texts_for({}, language)
    if target is None:  # forged, or its contact is gone: never acts on anyone else
        return _message(request, language, t["unsubscribe"], t["link_invalid"], status=404)
    if request.method == "GET":
        return _message(request, language, t["unsubscribe"], t["unsubscribe_ask"],
                        resend_action=str(request.url), resend_label=t["unsubscribe"])
    await run_in_threadpool(runtime.queue().enqueue, jobs.unsubscribe_link, token,
                            job_id=target.job_key)
    return _message(request, language, t["unsubscribe"], t["unsubscribed"])


# ---- API ----------------------------------------------------------------------------------

async def forms_collection(request: Request) -> JSONResponse:
    """GET /api/forms (list) and POST /api/forms (create)."""
    if request.method == "GET":
        token = await authorize(request, "contacts:read")
        rows = await in_db(definitions.list_forms, token.account_id)
        return JSONResponse({"items": [definitions.form_to_dict(f) for f in rows]})
    token = await authorize(request, "admin")
    body = await read_json(request)
    form = await in_db(definitions.create_form, token.account_id, body)
    return JSONResponse(definitions.form_to_dict(form), status_code=201, headers={
        "Location": str(request.url_for("forms_api:item", form_id=form.id))})


async def form_item(request: Request) -> JSONResponse:
    """GET and PATCH /api/forms/{id}."""
    form_id = request.path_params["form_id"]
    if request.method == "GET":
        token = await authorize(request, "contacts:read")
        form = await in_db(definitions.get_form, token.account_id, form_id)
        return JSONResponse(definitions.form_to_dict(form))
    token = await authorize(request, "admin")
    body = await read_json(request)
    form = await in_db(definitions.update_form, token.account_id, form_id, body)
    return JSONResponse(definitions.form_to_dict(form))


async def form_embed(request: Request) -> JSONResponse:
    """GET /api/forms/{id}/embed: the four ready-to-paste snippets."""
    token = await authorize(request, "contacts:read")

    def load():
        form_id = request.path_params["form_id"]
        return public.snapshot(definitions.get_form(token.account_id, form_id))
    form = await in_db(load)
    return JSONResponse({"id": form.id, "slug": form.slug,
                         **embed.snippets(form, runtime.settings().base_url)})


# Visitors' pages: matched first, they take the public traffic (see gateway.app).
public_routes = [
    Route("/f/{slug}", submit, methods=["POST"], name="forms:submit"),
    Route("/f/{slug}", hosted, methods=["GET"], name="forms:hosted"),
    Route("/f/{slug}", preflight, methods=["OPTIONS"], name="forms:preflight"),
    Route("/f/{slug}/embed.js", embed_script, methods=["GET"], name="forms:embed_js"),
    Route("/confirm/{token}", confirm_page, methods=["GET"], name="forms:confirm"),
    Route("/confirm/{token}", confirm_resend, methods=["POST"], name="forms:resend"),
    Route("/unsubscribe/{token}", unsubscribe, methods=["GET", "POST"],
          name="forms:unsubscribe"),
]
routes = [
    Route("/api/forms", forms_collection, methods=["GET", "POST"], name="forms_api:collection"),
    Route("/api/forms/{form_id:int}", form_item, methods=["GET", "PATCH"],
          name="forms_api:item"),
    Route("/api/forms/{form_id:int}/embed", form_embed, methods=["GET"],
          name="forms_api:embed"),
]
