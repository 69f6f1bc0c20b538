"""Opt-in forms pages over ``forms.definitions``: list, create, edit, preview and embed snippets."""

from __future__ import annotations

from urllib.parse import quote

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from forms import definitions, embed, origins
from forms.public import LANGUAGE_NAMES, public_form_by_id, snapshot
from forms.texts import DEFAULTS, MAIL_KINDS, mail_for, texts_for
from gateway.accounts import list_custom_fields, list_vocabulary
from gateway.admin import csrf
from gateway.admin.add_contact import errors_by_field
from gateway.admin.pages import Viewer, page, redirect, render
from gateway.admin.session import flash
from gateway.errors import InletError
from gateway.i18n import N_, _
from gateway.web import in_db, whole_number

TEXT_KEYS = tuple(DEFAULTS["en"])  # in their natural order: title first
# The texts a visitor sees on the form itself; the others are messages and pages after it.
FORM_TEXT_KEYS = ("title", "intro", "email", "first_name", "name", "language", "preferences",
                  "interests", "consent", "submit")
MESSAGE_TEXT_KEYS = tuple(key for key in TEXT_KEYS if key not in FORM_TEXT_KEYS)
BUILTIN_LABELS = {"first_name": N_("First name"), "name": N_("Name"),
                  "language": N_("Language"), "preferences": N_("Preferences"),
                  "interests": N_("Interests")}
SNIPPET_LABELS = {"hosted": N_("Hosted page (a link to share)"), "iframe": N_("iframe snippet"),
                  "script": N_("Script snippet (renders into your page)"),
                  "html": N_("Plain HTML form snippet")}
# The editor's label of each visitor text (the texts themselves are the form's, per language).
TEXT_LABELS = {
    "title": N_("Title"), "intro": N_("Intro"), "email": N_("Email"),
    "first_name": N_("First name"), "name": N_("Name"), "language": N_("Language"),
    "preferences": N_("Preferences"), "interests": N_("Interests"), "submit": N_("Submit"),
    "consent": N_("Consent"), "thanks": N_("Thanks"), "thanks_confirmed": N_("Thanks confirmed"),
    "too_fast": N_("Too fast"), "invalid": N_("Invalid"), "rate_limited": N_("Rate limited"),
    "failed": N_("Failed"), "confirmed": N_("Confirmed"),
    "already_confirmed": N_("Already confirmed"), "link_invalid": N_("Link invalid"),
    "link_expired": N_("Link expired"), "resend": N_("Resend"), "resent": N_("Resent"),
    "unsubscribe": N_("Unsubscribe"), "unsubscribe_ask": N_("Unsubscribe ask"),
    "unsubscribed": N_("Unsubscribed"), "back": N_("Back")}
# What the preview calls a definition's key when it names a problem.
FIELD_NAMES = {  # as the API names them, in words ("min fill seconds")
    "name": N_("name"), "slug": N_("slug"), "source": N_("source"), "fields": N_("fields"),
    "preferences": N_("preferences"), "interests": N_("interests"),
    "label_texts": N_("label texts"), "languages": N_("languages"), "texts": N_("texts"),
    "mails": N_("mails"), "double_opt_in": N_("double opt in"), "welcome": N_("welcome"),
    "redirect_urls": N_("redirect urls"), "after_submit_url": N_("after submit url"),
    "after_confirm_url": N_("after confirm url"), "allowed_origins": N_("allowed origins"),
    "min_fill_seconds": N_("min fill seconds")}
# Per mail kind: the labels of its subject and body (%(lang)s: the language code).
MAIL_LABELS = {
    "confirm": {"subject": N_("Confirm mail subject (%(lang)s)"),
                "body": N_("Confirm mail body (%(lang)s)")},
    "welcome": {"subject": N_("Welcome mail subject (%(lang)s)"),
                "body": N_("Welcome mail body (%(lang)s)")}}


def lines(value) -> list[str]:
    """Non-empty lines of a textarea."""
    return [line.strip() for line in str(value or "").splitlines() if line.strip()]


def definition_from_form(form: FormData) -> dict:
    """The form definition an edit form describes (``forms.definitions`` validates it)."""
    languages = form.getlist("languages")
    default = form.get("default_language")
    if default in languages:  # the first language is the form's default
        languages = [default, *[code for code in languages if code != default]]
    raw_fill = str(form.get("min_fill_seconds") or "").strip()
    data = {
        "name": str(form.get("name") or "").strip(), "source": form.get("source") or "",
        "languages": languages, "fields": form.getlist("fields"),
        "preferences": form.getlist("preferences"), "interests": form.getlist("interests"),
        "double_opt_in": bool(form.get("double_opt_in")), "welcome": bool(form.get("welcome")),
        "after_submit_url": str(form.get("after_submit_url") or "").strip() or None,
        "after_confirm_url": str(form.get("after_confirm_url") or "").strip() or None,
        "redirect_urls": lines(form.get("redirect_urls")),
        "allowed_origins": lines(form.get("allowed_origins")),
        # the service explains a value that is not a whole number; blank means the default
        "min_fill_seconds": whole_number(raw_fill) if whole_number(raw_fill) is not None
        else raw_fill or 2,
    }
    texts: dict = {}
    for lang in languages:
        for key in TEXT_KEYS:
            value = str(form.get(f"text-{lang}-{key}") or "").strip()
            if value:
                texts.setdefault(lang, {})[key] = value
    mails: dict = {}
    for kind in MAIL_KINDS:
        for lang in languages:
            for part in ("subject", "body"):
                value = str(form.get(f"mail-{kind}-{lang}-{part}") or "").strip()
                if value:
                    mails.setdefault(kind, {}).setdefault(lang, {})[part] = value
    data["texts"], data["mails"] = texts, mails
    data["label_texts"] = label_texts_from_form(form, languages)
    return data


def label_texts_from_form(form: FormData, languages: list[str]) -> dict:
    """``{label: {lang: text}}`` from the editor's ``labeltext-<lang>-<label>`` inputs."""
    out: dict = {}
    for key, value in form.multi_items():
        for lang in languages:
            prefix = f"labeltext-{lang}-"
            if key.startswith(prefix) and str(value).strip():
                out.setdefault(key[len(prefix):], {})[lang] = str(value).strip()
    return out


def _choices(account_id: int) -> dict:
    return {"all_languages": [v.name for v in list_vocabulary(account_id, "language")],
            "language_names": LANGUAGE_NAMES, "form_text_keys": FORM_TEXT_KEYS,
            "message_text_keys": MESSAGE_TEXT_KEYS,
            "sources": [v.name for v in list_vocabulary(account_id, "source")],
            "all_preferences": [v.name for v in list_vocabulary(account_id, "preference")],
            "all_interests": [v.name for v in list_vocabulary(account_id, "interest")],
            "field_options": [*[(name, _(label)) for name, label in BUILTIN_LABELS.items()],
                              *[(f.name, _("%(field)s (custom field)") % {"field": f.name})
                                for f in list_custom_fields(account_id)]],
            "text_labels": TEXT_LABELS, "mail_labels": MAIL_LABELS,
            "text_keys": TEXT_KEYS, "mail_kinds": MAIL_KINDS,
            "default_texts": {lang: texts_for({}, lang) for lang in
                              [v.name for v in list_vocabulary(account_id, "language")]},
            "default_mails": {(kind, lang): mail_for({}, kind, lang) for kind in MAIL_KINDS
                              for lang in [v.name for v in
                                           list_vocabulary(account_id, "language")]}}


def _editor(account_id: int, values: dict, form_id=None, errors=None) -> dict:
    return {"active": "forms", "values": values, "form_id": form_id,
            "errors": errors_by_field(errors or []), "error_list": errors or [],
            **_choices(account_id)}


NEW_FORM = {"name": "", "source": "", "languages": [], "fields": ["first_name"],
            "preferences": [], "interests": [], "label_texts": {}, "double_opt_in": True,
            "welcome": False,
            "after_submit_url": None, "after_confirm_url": None, "redirect_urls": [],
            "allowed_origins": [], "min_fill_seconds": 2, "texts": {}, "mails": {}}


# ---- pages ----------------------------------------------------------------------------------

def _list(account_id: int) -> dict:
    return {"active": "forms", "forms": definitions.list_forms(account_id)}


@page()
async def forms_list(request: Request, viewer: Viewer) -> Response:
    """GET /admin/forms"""
    return render(request, "forms/list.html", await in_db(_list, viewer.account_id))


@page()
async def new_form(request: Request, viewer: Viewer) -> Response:
    """GET/POST /admin/forms/new"""
    if request.method == "GET":
        def fresh():
            ctx = _editor(viewer.account_id, NEW_FORM)
            # nl, fr, en…, and every label of today checked (unchecking takes one click)
            ctx["values"] = {**NEW_FORM, "languages": ctx["all_languages"],
                             "preferences": ctx["all_preferences"],
                             "interests": ctx["all_interests"]}
            return ctx
        return render(request, "forms/edit.html", await in_db(fresh))
    data = definition_from_form(await csrf.checked_form(request))

    def work():
        try:
            return definitions.create_form(viewer.account_id, data)
        except InletError as exc:
            return _editor(viewer.account_id, data, None, _details(exc))
    result = await in_db(work)
    if isinstance(result, dict):
        return render(request, "forms/edit.html", result, status=422)
    flash(request, _("The form '%(name)s' was created.") % {"name": result.name})
    return redirect(request, "form", form_id=result.id)


def _details(exc: InletError) -> list[dict]:
    return exc.details or [{"field": "_", "message": exc.message}]


@page()
async def edit_form(request: Request, viewer: Viewer) -> Response:
    """GET/POST /admin/forms/{id}/edit"""
    form_id = request.path_params["form_id"]
    if request.method == "GET":
        def current():
            values = definitions.form_to_dict(definitions.get_form(viewer.account_id, form_id))
            return _editor(viewer.account_id, values, form_id)
        return render(request, "forms/edit.html", await in_db(current))
    data = definition_from_form(await csrf.checked_form(request))

    def work():
        try:
            return definitions.update_form(viewer.account_id, form_id, data)
        except InletError as exc:
            if exc.status == 404:
                raise
            return _editor(viewer.account_id, data, form_id, _details(exc))
    result = await in_db(work)
    if isinstance(result, dict):
        return render(request, "forms/edit.html", result, status=422)
    flash(request, _("The form '%(name)s' was saved.") % {"name": result.name})
    return redirect(request, "form", form_id=result.id)


def _preview(account_id: int, data: dict, language: str = "") -> dict:
    """The whole form an unsaved definition would show in ``language`` (the language being
    edited; else the form's default), or why it cannot."""
    from forms.models import Form
    try:
        values = definitions.clean_definition(account_id, data, creating=True)
    except InletError as exc:
        return {"errors": _details(exc), "field_names": FIELD_NAMES}
    if language in values["languages"]:  # the snippet speaks the first language
        values["languages"] = [language, *[c for c in values["languages"] if c != language]]
    draft = Form(id=0, account=account_id, slug="preview", **values)  # never saved
    public = snapshot(draft)
    language = public.languages[0]
    return {"errors": [], "texts": public.texts_in(language), "language": language,
            "markup": embed.html_snippet(public, "")}


@page()
async def preview(request: Request, viewer: Viewer) -> Response:
    """POST /admin/forms/preview: the editor's unsaved values rendered (into the preview frame)."""
    form = await csrf.checked_form(request)
    language = str(form.get("preview_language") or "")
    ctx = await in_db(_preview, viewer.account_id, definition_from_form(form), language)
    # The preview cannot submit anywhere, and only the admin pages may frame it.
    return render(request, "forms/preview.html", ctx, headers={
        "content-security-policy": "default-src 'self'; form-action 'none'; "
                                   "frame-ancestors 'self'; base-uri 'none'",
        "x-frame-options": "SAMEORIGIN"})


@page()
async def form_detail(request: Request, viewer: Viewer) -> Response:
    """GET /admin/forms/{id}: the live preview and the four embed snippets."""
    form_id = request.path_params["form_id"]
    base_url = request.app.state.settings.base_url

    def work():
        form = definitions.get_form(viewer.account_id, form_id)
        snippets = embed.snippets(public_form_by_id(form.id), base_url)
        # previewed in the form's default language, not the admin browser's
        hosted = request.url_for("forms:hosted", slug=form.slug).path
        return {"active": "forms", "form": definitions.form_to_dict(form, base_url),
                "preview_url": f"{hosted}?embed=iframe&lang={quote((form.languages or ['en'])[0])}",
                "refused": origins.recent_refused(form),
                "snippets": [(kind, _(SNIPPET_LABELS[kind]), snippets[kind])
                             for kind in ("hosted", "iframe", "script", "html")]}
    return render(request, "forms/detail.html", await in_db(work))


@page()
async def allow_origin(request: Request, viewer: Viewer) -> Response:
    """POST /admin/forms/{id}/allow-origin: add a refused site to the allowed origins."""
    form_id = request.path_params["form_id"]
    origin = str((await csrf.checked_form(request)).get("origin") or "")
    try:
        form = await in_db(origins.allow_origin, viewer.account_id, form_id, origin)
    except InletError as exc:
        if exc.status == 404:
            raise
        flash(request, _("%(origin)s could not be allowed: %(reason)s")
              % {"origin": origin, "reason": _details(exc)[0]["message"]}, "error")
        return redirect(request, "form", form_id=form_id)
    flash(request, _("%(origin)s may now use the form '%(name)s' (within a few seconds).")
          % {"origin": origin, "name": form.name})
    return redirect(request, "form", form_id=form.id)


routes = [
    Route("/forms", forms_list, name="forms"),
    Route("/forms/new", new_form, methods=["GET", "POST"], name="form_new"),
    Route("/forms/preview", preview, methods=["POST"], name="form_preview"),
    Route("/forms/{form_id:int}", form_detail, name="form"),
    Route("/forms/{form_id:int}/edit", edit_form, methods=["GET", "POST"], name="form_edit"),
    Route("/forms/{form_id:int}/allow-origin", allow_origin, methods=["POST"],
          name="form_allow_origin"),
]
