"""The public snapshot of a form: what a public request (page, embed.js, submission) and a
job need of it, cached for a few seconds; the page language and the inputs it shows."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from forms import sql
from forms.models import Form
from forms.texts import texts_for
from gateway import runtime
from gateway.accounts import sender_of
from gateway.db import db
from gateway.models import Account
from gateway.validation import AccountVocabulary

CUSTOM_PREFIX = "cf_"  # custom inputs are named cf_<field>: no clash with built-ins/honeypot
HONEYPOT = "website"
CACHE_SECONDS = 5.0  # a changed form reaches every web process within this time
LANGUAGE_NAMES = {"nl": "Nederlands", "fr": "Français", "en": "English", "de": "Deutsch",
                  "es": "Español", "it": "Italiano", "pt": "Português"}


@dataclass(frozen=True)
class PublicForm:
    """What a public request needs of a form, loaded once and cached for a few seconds."""

    id: int
    account_id: int
    slug: str
    name: str
    source: str
    fields: tuple[str, ...]
    preferences: tuple[str, ...]
    interests: tuple[str, ...]
    label_texts: dict  # {label: {lang: text}}
    languages: tuple[str, ...]
    texts: dict
    mails: dict
    double_opt_in: bool
    welcome: bool
    redirect_urls: frozenset[str]
    after_submit_url: str | None
    after_confirm_url: str | None
    allowed_origins: frozenset[str]
    min_fill_seconds: int
    custom: dict = field(default_factory=dict)  # name -> (type, choices), shown ones only
    account_name: str = ""  # shown on the visitor's pages
    account_logo: str | None = None  # beside the name after the form (an address or data: URI)
    site_url: str | None = None  # the account's website: "back to the site" links
    sender: str = ""  # From of the form's mails
    vocab: AccountVocabulary = field(default_factory=AccountVocabulary)

    def texts_in(self, language: str) -> dict[str, str]:
        """Every text of the form in ``language``."""
        return texts_for(self.texts, language)

    def label_in(self, label: str, language: str) -> str:
        """What a visitor reads for a preference or interest ``label`` in ``language``."""
        return (self.label_texts.get(label) or {}).get(language) or label


_cache: dict[tuple[str, str], tuple[float, PublicForm | None]] = {}


def cached_public_form(slug: str) -> tuple[bool, PublicForm | None]:
    """``(found in cache, form)`` without touching the database (safe on the event loop)."""
    hit = _cache.get((runtime.settings().database_url, slug))
    if hit and hit[0] > time.monotonic():
        return True, hit[1]
    return False, None


def public_form(slug: str) -> PublicForm | None:
    """The form behind a public path (cached ``CACHE_SECONDS``); None when there is none."""
    cached, form = cached_public_form(slug)
    if cached:
        return form
    key = (runtime.settings().database_url, slug)
    now = time.monotonic()
    with db.connection_context():
        form = Form.get_or_none(Form.slug == slug)
        found = snapshot(form) if form else None
    if len(_cache) > 10_000:
        _cache.clear()
    _cache[key] = (now + CACHE_SECONDS, found)
    return found


def public_form_by_id(form_id: int) -> PublicForm | None:
    """The snapshot of a form by id (jobs, confirm pages): one query while it is unchanged."""
    stamp = sql.run(sql.FORM_STAMP, form_id).fetchone()
    if stamp is None:
        return None
    # Keyed by the row's updated_at (as the driver gives it): a changed form is never served
    # stale here. Only the stamp is read per call: a whole row costs a drain more.
    key = (runtime.settings().database_url, f"#{form_id}@{stamp[0]}")
    hit = _cache.get(key)
    now = time.monotonic()
    if hit and hit[0] > now:
        return hit[1]
    form = Form.get_or_none(Form.id == form_id)
    found = snapshot(form) if form else None
    _cache[key] = (now + CACHE_SECONDS, found)
    return found


def form_reference(form_id: int, name: str | None = None) -> str:
    """How consent records and history name a form: ``Newsletter #3`` (its name as it was)."""
    if name is None:
        found = Form.select(Form.name).where(Form.id == form_id).first()
        name = found.name if found else "form"
    return f"{name} #{form_id}"


def clear_cache() -> None:
    """Forget every cached snapshot: this process sees a changed form at once (others within
    ``CACHE_SECONDS``)."""
    _cache.clear()


def snapshot(form: Form) -> PublicForm:
    """The public snapshot of a stored form (its own vocabulary included)."""
    account = AccountVocabulary.load(form.account_id)
    owner = Account.get_by_id(form.account_id)
    fields = tuple(form.fields or ())
    # Only the labels chosen for the form (and still in Settings), in the form's order.
    prefs = tuple(p for p in form.preferences or () if p in account.preferences)
    interests = tuple(i for i in form.interests or () if i in account.interests)
    custom = {n: account.fields[n] for n in fields if n in account.fields}
    # The form's own vocabulary: a visitor can only send what the form offers.
    vocab = AccountVocabulary(
        languages=set(form.languages) & account.languages, sources={form.source},
        preferences=set(prefs) if "preferences" in fields else set(),
        interests=set(interests) if "interests" in fields else set(),
        fields=custom)
    redirects = set(form.redirect_urls or ())
    redirects.update(u for u in (form.after_submit_url, form.after_confirm_url) if u)
    return PublicForm(
        id=form.id, account_id=form.account_id, slug=form.slug, name=form.name,
        source=form.source, fields=fields, preferences=prefs, interests=interests,
        label_texts=form.label_texts or {},
        languages=tuple(form.languages or ("en",)), texts=form.texts or {},
        mails=form.mails or {}, double_opt_in=form.double_opt_in, welcome=form.welcome,
        redirect_urls=frozenset(redirects), after_submit_url=form.after_submit_url,
        after_confirm_url=form.after_confirm_url,
        allowed_origins=frozenset(form.allowed_origins or ()),
        min_fill_seconds=form.min_fill_seconds, custom=custom, vocab=vocab,
        account_name=owner.name, account_logo=owner.logo, site_url=owner.website_url,
        sender=sender_of(owner))


def choose_language(form: PublicForm, requested: str | None, accept_language: str | None
                    ) -> str:
    """The page language: an explicit choice, else the browser's preference, else the first."""
    if requested and requested.lower() in form.languages:
        return requested.lower()
    for code in accepted_languages(accept_language or ""):
        if code in form.languages:
            return code
    return form.languages[0]


def accepted_languages(header: str) -> list[str]:
    """Primary language codes of an Accept-Language header, best first."""
    ranked = []
    for index, item in enumerate(header.split(",")[:20]):
        tag, _, params = item.strip().partition(";")
        q = 1.0
        if params.strip().startswith("q="):
            try:
                q = float(params.strip()[2:])
            except ValueError:
                q = 0.0
        code = tag.strip().split("-")[0].lower()
        if code and code != "*" and q > 0:
            ranked.append((-q, index, code))
    return [code for _, _, code in sorted(ranked)]


def field_schema(form: PublicForm, language: str, values: dict | None = None,
                 errors: dict | None = None) -> list[dict]:
    """The inputs of the form in ``language``, for the page template and embed.js alike."""
    t = form.texts_in(language)
    values, errors = values or {}, errors or {}
    out = [_input(t, "email", "email", required=True, autocomplete="email")]
    for name in form.fields:
        if name == "first_name":
            out.append(_input(t, name, "text", autocomplete="given-name"))
        elif name == "name":
            out.append(_input(t, name, "text", autocomplete="family-name"))
        elif name == "language":
            out.append(_input(t, name, "select", options=[
                {"value": c, "label": LANGUAGE_NAMES.get(c, c)} for c in form.languages]))
        elif name in ("preferences", "interests") and getattr(form, name):
            out.append(_input(t, name, "checkboxes", options=[
                {"value": v, "label": form.label_in(v, language)} for v in getattr(form, name)]))
        elif name in form.custom:
            out.append(_custom_input(t, name, *form.custom[name]))
    for item in out:
        item.setdefault("autocomplete", None)
        item.setdefault("options", [])
        default = language if item["name"] == "language" else (
            [] if item["input"] == "checkboxes" else "")
        item["value"] = values.get(item["name"], default)
        item["error"] = errors.get(item["name"])
    return out


def _input(t: dict, name: str, kind: str, **extra) -> dict:
    return {"name": name, "input": kind, "label": t.get(name, name), "required": False,
            "id": f"inlet-{name}", **extra}


def _custom_input(t: dict, name: str, ftype: str, choices: list) -> dict:
    label = t.get(f"label_{name}") or name.replace("_", " ").capitalize()
    kind = {"text": "text", "number": "number", "date": "date", "boolean": "checkbox",
            "choice": "select", "multiple_choice": "checkboxes"}[ftype]
    item = {"name": CUSTOM_PREFIX + name, "input": kind, "label": label, "required": False,
            "id": f"inlet-{CUSTOM_PREFIX}{name}"}
    if ftype == "choice":
        item["options"] = [{"value": "", "label": "—"}] + [
            {"value": c, "label": c} for c in choices]
    elif ftype == "multiple_choice":
        item["options"] = [{"value": c, "label": c} for c in choices]
    return item

