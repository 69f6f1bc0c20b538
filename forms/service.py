"""Forms: definitions (list, create, change), the public snapshot a request uses, submissions,
confirmation and welcome mails, confirming and unsubscribing.

The admin UI and the API call the definition functions; the public routes call
``public_form``/``read_submission``; jobs (``forms.jobs``) call ``handle_submission``,
``send_confirmation`` and ``confirm``. Every write to a contact goes through
``gateway.contacts.upsert`` (the one merge path).
"""

from __future__ import annotations

import re
import secrets
import time
import unicodedata
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

import peewee

from forms import tokens
from forms.mails import MailTemplateError, check_template, render_mail
from forms.models import Confirmation, Form, UnsubscribeLink
from forms.texts import MAIL_KINDS, TEXT_KEYS, texts_for
from gateway import runtime
from gateway.contacts import Provenance, upsert
from gateway.db import db, is_postgres, utcnow
from gateway.errors import Conflict, NotFound, ValidationFailed
from gateway.mail import queue_mail, schedule_delivery
from gateway.merge import is_clear
from gateway.models import Contact, Vocabulary
from gateway.tenancy import owned
from gateway.validation import AccountVocabulary, FieldError, clean_contact, suggest

BUILTIN_FIELDS = ("first_name", "name", "language", "preferences", "interests")
CUSTOM_PREFIX = "cf_"  # custom inputs are named cf_<field>: no clash with built-ins/honeypot
HONEYPOT = "website"
MAX_CONFIRMATION_MAILS = 3  # per address per 24 h: the form must not be a mail bomb
CONFIRMATION_WINDOW = timedelta(hours=24)
CACHE_SECONDS = 5.0  # a changed form reaches every web process within this time
LANGUAGE_NAMES = {"nl": "Nederlands", "fr": "Français", "en": "English", "de": "Deutsch",
                  "es": "Español", "it": "Italiano", "pt": "Português"}
_SLUG = re.compile(r"^[a-z0-9][a-z0-9-]{2,63}$")
_LABEL_KEY = re.compile(r"^label_[a-z][a-z0-9_]{0,63}$")
MAX_TEXT = 5000


# ---- definitions ---------------------------------------------------------------------------

def form_to_dict(form: Form, base_url: str | None = None) -> dict:
    """The API shape of a form definition."""
    base = (base_url or runtime.settings().base_url).rstrip("/")
    return {
        "id": form.id, "slug": form.slug, "name": form.name, "source": form.source,
        "fields": form.fields or [], "preferences": form.preferences or [],
        "interests": form.interests or [], "languages": form.languages or [],
        "texts": form.texts or {}, "mails": form.mails or {},
        "double_opt_in": form.double_opt_in, "welcome": form.welcome,
        "redirect_urls": form.redirect_urls or [], "after_submit_url": form.after_submit_url,
        "after_confirm_url": form.after_confirm_url,
        "allowed_origins": form.allowed_origins or [],
        "min_fill_seconds": form.min_fill_seconds,
        "urls": {"hosted": f"{base}/f/{form.slug}", "embed_js": f"{base}/f/{form.slug}/embed.js",
                 "submit": f"{base}/f/{form.slug}"},
        "created_at": form.created_at.isoformat(timespec="seconds") + "Z",
        "updated_at": form.updated_at.isoformat(timespec="seconds") + "Z",
    }


def list_forms(account_id: int) -> list[Form]:
    """The account's forms, oldest first."""
    return list(Form.select().where(Form.account == account_id).order_by(Form.id))


def get_form(account_id: int, form_id) -> Form:
    """One form of this account, or 404 (never another account's)."""
    return owned(Form, account_id, form_id, "form")


def create_form(account_id: int, data: dict) -> Form:
    """Validate ``data`` (422 listing every problem) and store a new form; 409 on a taken slug."""
    values = clean_definition(account_id, data, creating=True)
    values.setdefault("slug", _new_slug(values["name"]))
    try:
        with db.atomic():
            return Form.create(account=account_id, **values)
    except peewee.IntegrityError:
        raise Conflict(f"The slug {values['slug']!r} is taken.") from None


def update_form(account_id: int, form_id, data: dict) -> Form:
    """Change the given keys of a form (the others stay); same checks as ``create_form``."""
    form = get_form(account_id, form_id)
    values = clean_definition(account_id, data, creating=False, current=form)
    for name, value in values.items():
        setattr(form, name, value)
    form.updated_at = utcnow()
    try:
        with db.atomic():
            form.save()
    except peewee.IntegrityError:
        raise Conflict(f"The slug {values.get('slug')!r} is taken.") from None
    _cache.clear()  # this process sees the change at once; others within CACHE_SECONDS
    return form


def _new_slug(name: str) -> str:
    """A readable, globally unique slug: ``newsletter-k3x9q2``."""
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    stem = re.sub(r"[^a-z0-9]+", "-", ascii_name.lower()).strip("-")[:40] or "form"
    return f"{stem}-{secrets.token_hex(3)}"


def clean_definition(account_id: int, data, *, creating: bool, current: Form | None = None
                     ) -> dict:
    """The storable values of a form definition, or 422 with one detail per problem."""
    if not isinstance(data, dict):
        raise ValidationFailed("The body must be a JSON object.")
    vocab = AccountVocabulary.load(account_id)
    errors: list[dict] = []
    out: dict = {}
    unknown = sorted(set(data) - set(_CLEANERS))
    for key in unknown:
        errors.append({"field": key, "code": "unknown_field", "message": f"Unknown key {key!r}."})
    for key, cleaner in _CLEANERS.items():
        if key in data:
            try:
                out[key] = cleaner(data[key], vocab)
            except _Bad as bad:
                errors.append({"field": key, **bad.detail})
    if creating:
        for key in ("name", "source"):
            if key not in data:
                errors.append({"field": key, "code": "required", "message": f"{key} is required."})
        out.setdefault("languages", _default_languages(vocab))
    if errors:
        raise ValidationFailed(details=errors)
    return out


class _Bad(Exception):
    def __init__(self, code: str, message: str, **extra):
        super().__init__(message)
        self.detail = {"code": code, "message": message, **extra}


def _default_languages(vocab: AccountVocabulary) -> list[str]:
    wanted = [code for code in runtime.settings().default_languages if code in vocab.languages]
    return wanted or sorted(vocab.languages)


def _text(value, vocab=None, *, limit: int = 200, required: bool = True) -> str:
    if not isinstance(value, str) or (required and not value.strip()) or len(value) > limit:
        raise _Bad("invalid", f"A text of {1 if required else 0} to {limit} characters.")
    return value.strip()


def _bool(value, vocab=None) -> bool:
    if not isinstance(value, bool):
        raise _Bad("invalid", "true or false.")
    return value


def _slug(value, vocab=None) -> str:
    if not isinstance(value, str) or not _SLUG.match(value):
        raise _Bad("invalid", "3 to 64 lower-case letters, digits and dashes.")
    return value


def _source(value, vocab: AccountVocabulary) -> str:
    if isinstance(value, str) and value in vocab.sources:
        return value
    hint = suggest(str(value), vocab.sources)
    raise _Bad("unknown_source", f"Unknown source {value!r}."
               + (f" Did you mean {hint!r}?" if hint else ""), value=value, suggestion=hint)


def _string_list(value, limit: int = 50) -> list[str]:
    if not isinstance(value, list) or len(value) > limit or not all(
            isinstance(v, str) and v.strip() for v in value):
        raise _Bad("invalid", f"A list of at most {limit} texts.")
    return list(dict.fromkeys(v.strip() for v in value))


def _fields(value, vocab: AccountVocabulary) -> list[str]:
    names = _string_list(value)
    bad = [n for n in names if n not in BUILTIN_FIELDS and n not in vocab.fields]
    if bad:
        raise _Bad("unknown_field", f"Unknown fields: {', '.join(bad)}. Use "
                   f"{', '.join(BUILTIN_FIELDS)} or one of the account's custom fields.",
                   value=bad)
    return names


def _labels(kind: str):
    def clean(value, vocab: AccountVocabulary) -> list[str]:
        names = _string_list(value, 200)
        allowed = getattr(vocab, kind)
        bad = [n for n in names if n not in allowed]
        if bad:
            raise _Bad(f"unknown_{kind[:-1] if kind == 'interests' else 'preference'}",
                       f"Unknown {kind}: {', '.join(bad)}.", value=bad,
                       suggestion=suggest(bad[0], allowed))
        return names
    return clean


def _languages(value, vocab: AccountVocabulary) -> list[str]:
    codes = [c.lower() for c in _string_list(value, 20)]
    bad = [c for c in codes if c not in vocab.languages]
    if not codes or bad:
        raise _Bad("unknown_language", "Use one or more of the account's languages: "
                   f"{', '.join(sorted(vocab.languages))}.", value=bad)
    return codes


def _url(value, vocab=None) -> str | None:
    if value in (None, ""):
        return None
    if not isinstance(value, str) or len(value) > 2000:
        raise _Bad("invalid_url", "An absolute http(s) URL.")
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname or any(
            c in value for c in " \t\r\n\\"):
        raise _Bad("invalid_url", f"{value!r} is not an absolute http(s) URL.", value=value)
    return value


def _urls(value, vocab=None) -> list[str]:
    return [_url(v) for v in _string_list(value, 20)]


def normalise_origin(value: str) -> str | None:
    """``scheme://host[:port]`` in lower case, or None when ``value`` is not an origin."""
    parts = urlsplit(value.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.path not in (
            "", "/") or parts.query or parts.fragment or parts.username:
        return None
    try:
        port = parts.port
    except ValueError:
        return None
    default = {"http": 80, "https": 443}[parts.scheme]
    return f"{parts.scheme}://{parts.hostname}" + (f":{port}" if port and port != default
                                                    else "")


def _origins(value, vocab=None) -> list[str]:
    out = []
    for item in _string_list(value, 20):
        origin = normalise_origin(item)
        if origin is None:
            raise _Bad("invalid_origin", f"{item!r} is not an origin such as "
                       "https://www.example.com (no path).", value=item)
        out.append(origin)
    return list(dict.fromkeys(out))


def _min_fill(value, vocab=None) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= 60:
        raise _Bad("invalid", "A number of seconds from 0 to 60.")
    return value


def _texts(value, vocab: AccountVocabulary) -> dict:
    if not isinstance(value, dict):
        raise _Bad("invalid", "An object {language: {key: text}}.")
    out = {}
    for lang, entries in value.items():
        if lang not in vocab.languages or not isinstance(entries, dict):
            raise _Bad("unknown_language", f"Texts for unknown language {lang!r}.", value=lang)
        for key, text in entries.items():
            if key not in TEXT_KEYS and not _LABEL_KEY.match(str(key)):
                raise _Bad("unknown_text", f"Unknown text {key!r}.", value=key,
                           allowed=sorted(TEXT_KEYS))
            if not isinstance(text, str) or len(text) > MAX_TEXT:
                raise _Bad("invalid", f"Text {lang}.{key} must be at most {MAX_TEXT} characters.")
        out[lang] = dict(entries)
    return out


def _mails(value, vocab: AccountVocabulary) -> dict:
    if not isinstance(value, dict):
        raise _Bad("invalid", "An object {confirm|welcome: {language: {subject, body}}}.")
    out: dict = {}
    for kind, by_lang in value.items():
        if kind not in MAIL_KINDS or not isinstance(by_lang, dict):
            raise _Bad("unknown_mail", f"Unknown mail {kind!r}; use {', '.join(MAIL_KINDS)}.")
        for lang, spec in by_lang.items():
            if lang not in vocab.languages or not isinstance(spec, dict) or set(spec) - {
                    "subject", "body"}:
                raise _Bad("invalid", f"mails.{kind}.{lang} must be {{subject, body}} for one "
                           "of the account's languages.")
            for part, source in spec.items():
                if not isinstance(source, str) or not source.strip() or len(source) > MAX_TEXT:
                    raise _Bad("invalid", f"mails.{kind}.{lang}.{part} must be a non-empty text.")
                try:
                    check_template(source)
                except MailTemplateError as exc:
                    raise _Bad("invalid_template", f"mails.{kind}.{lang}.{part}: {exc}") from None
        out[kind] = by_lang
    return out


_CLEANERS = {
    "name": _text, "slug": _slug, "source": _source, "fields": _fields,
    "preferences": _labels("preferences"), "interests": _labels("interests"),
    "languages": _languages, "texts": _texts, "mails": _mails, "double_opt_in": _bool,
    "welcome": _bool, "redirect_urls": _urls, "after_submit_url": _url,
    "after_confirm_url": _url, "allowed_origins": _origins, "min_fill_seconds": _min_fill,
}


# ---- the public snapshot -------------------------------------------------------------------

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
    vocab: AccountVocabulary = field(default_factory=AccountVocabulary)

    def texts_in(self, language: str) -> dict[str, str]:
        """Every text of the form in ``language``."""
        return texts_for(self.texts, language)


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
    stamp = _run(_FORM_STAMP, form_id).fetchone()
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


def snapshot(form: Form) -> PublicForm:
    """The public snapshot of a stored form (its own vocabulary included)."""
    account = AccountVocabulary.load(form.account_id)
    fields = tuple(form.fields or ())
    prefs = tuple(form.preferences or sorted(account.preferences))
    interests = tuple(form.interests or sorted(account.interests))
    custom = {n: account.fields[n] for n in fields if n in account.fields}
    # The form's own vocabulary: a visitor can only send what the form offers.
    vocab = AccountVocabulary(
        languages=set(form.languages) & account.languages, sources={form.source},
        preferences=set(prefs) & account.preferences if "preferences" in fields else set(),
        interests=set(interests) & account.interests if "interests" in fields else set(),
        fields=custom)
    redirects = set(form.redirect_urls or ())
    redirects.update(u for u in (form.after_submit_url, form.after_confirm_url) if u)
    return PublicForm(
        id=form.id, account_id=form.account_id, slug=form.slug, name=form.name,
        source=form.source, fields=fields, preferences=prefs, interests=interests,
        languages=tuple(form.languages or ("en",)), texts=form.texts or {},
        mails=form.mails or {}, double_opt_in=form.double_opt_in, welcome=form.welcome,
        redirect_urls=frozenset(redirects), after_submit_url=form.after_submit_url,
        after_confirm_url=form.after_confirm_url,
        allowed_origins=frozenset(form.allowed_origins or ()),
        min_fill_seconds=form.min_fill_seconds, custom=custom, vocab=vocab)


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
        elif name in ("preferences", "interests"):
            out.append(_input(t, name, "checkboxes", options=[
                {"value": v, "label": v} for v in getattr(form, name)]))
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


# ---- submissions ---------------------------------------------------------------------------

def read_submission(form: PublicForm, items: list[tuple[str, str]], language: str
                    ) -> tuple[dict, dict, list[FieldError]]:
    """``(raw values for re-display, clean contact, errors)`` from posted ``items``.

    Only the inputs the form shows are read; the source is the form's. A visitor may not clear
    a stored value, so ``.``/``-`` count as empty here.
    """
    multi: dict[str, list[str]] = {}
    for key, value in items[:200]:
        # NUL can't be stored (PostgreSQL text refuses it): drop it here, or the queued job
        # would fail after the visitor was told "thank you".
        multi.setdefault(key, []).append(value[:2000].replace("\x00", ""))

    def one(name):
        value = (multi.get(name) or [""])[0].strip()
        return "" if is_clear(value) else value
    raw: dict = {"email": one("email")}
    data: dict = {"email": raw["email"], "source": form.source, "language": language,
                  "custom_fields": {}}
    for name in form.fields:
        if name in ("first_name", "name"):
            raw[name] = data[name] = one(name)
        elif name == "language":
            raw[name] = one(name)
            data["language"] = raw[name] or language
        elif name in ("preferences", "interests"):
            raw[name] = data[name] = [v for v in multi.get(name, []) if v.strip()]
        elif name in form.custom:
            key = CUSTOM_PREFIX + name
            ftype = form.custom[name][0]
            if ftype == "multiple_choice":
                raw[key] = [v for v in multi.get(key, []) if v.strip()]
                if raw[key]:
                    data["custom_fields"][name] = raw[key]
            else:
                raw[key] = one(key)
                if raw[key]:
                    data["custom_fields"][name] = raw[key]
    clean, errors = clean_contact(form.vocab, data, creating=True)
    for err in errors:  # custom inputs carry their prefix on the page
        if err.field in form.custom:
            err.field = CUSTOM_PREFIX + err.field
    return raw, clean, errors


def submission_item(form: PublicForm, clean: dict, *, ip: str | None, user_agent: str | None,
                    language: str) -> dict:
    """The JSON-able job payload of an accepted submission."""
    return {"form_id": form.id, "account_id": form.account_id, "language": language,
            "contact": clean, "ip": ip, "user_agent": (user_agent or "")[:500],
            "at": time.time()}


def handle_submission(item_id: str, item: dict) -> str:
    """Write an accepted submission (idempotent per ``item_id``); returns the outcome.

    New address: created unconfirmed (confirmed without double opt-in) with a consent record
    and a confirmation mail. Known: merged under the merge rules; still unconfirmed gets a new
    confirmation mail (at most ``MAX_CONFIRMATION_MAILS`` a day). Blacklisted: untouched.
    The write and the mail are two transactions: a rerun after a crash between them sends
    the mail the crashed run owed, and never a second one.
    """
    with db.connection_context():
        form = public_form_by_id(item["form_id"])
        if form is None:
            return "form_gone"
        done = _run(_SUBMISSION, item_id).fetchone()
        if done is None:
            contact, outcome, owed = _write_submission(form, item_id, item)
        else:  # a rerun: the write is done; the mail too unless the run crashed before it
            contact_id, outcome, mail_sent = done
            owed = contact_id is not None and not mail_sent
            contact = Contact.get_by_id(contact_id) if owed else None
        if owed:
            _send_owed_mail(form, item_id, contact, outcome, item["language"])
        return outcome


def _write_submission(form: PublicForm, item_id: str, item: dict
                      ) -> tuple[Contact | None, str, bool]:
    """Store the contact and the ``Submission`` row in one transaction; returns
    ``(contact, outcome, mail owed)``."""
    # Re-validate: the account's vocabularies may have changed since the request.
    clean, errors = clean_contact(form.vocab, _unclean(item["contact"]), creating=True)
    if errors:
        _insert_submission(item_id, form.id, None, "invalid", mail_sent=True)
        return None, "invalid", False
    provenance = Provenance(channel="form", reference=str(form.id), actor=form.name,
                            ip=item.get("ip"), user_agent=item.get("user_agent"),
                            text=form.texts_in(item["language"])["consent"])
    status = "unconfirmed" if form.double_opt_in else "confirmed"
    with db.atomic():
        before = _run(_CONTACT_STATUS, form.account_id, clean["email"]).fetchone()
        if before is not None:
            # The form's source is for new contacts; the page language is only a guess.
            clean.pop("source", None)
            if "language" not in form.fields:
                clean.pop("language", None)
        contact, result = upsert(form.account_id, clean, status=status, provenance=provenance,
                                 field_types=form.vocab.field_types)
        outcome = result.outcome
        if before is not None and before[0] != "confirmed" and contact.status == "confirmed":
            outcome = "confirmed"
        owed = _owed_mail(form, contact, outcome) is not None
        # No mail owed (blacklisted, nothing new): marked sent now, which saves a statement.
        _insert_submission(item_id, form.id, contact.id, outcome, mail_sent=not owed)
    return contact, outcome, owed


def _owed_mail(form: PublicForm, contact: Contact, outcome: str) -> str | None:
    """The mail a submission's contact gets: "confirm", "welcome" or None."""
    if contact.status == "unconfirmed" and form.double_opt_in:
        return "confirm"
    if outcome in ("created", "confirmed") and form.welcome and contact.status == "confirmed":
        return "welcome"
    return None


def _send_owed_mail(form: PublicForm, item_id: str, contact: Contact, outcome: str,
                    language: str) -> None:
    """Queue the submission's mail and mark it sent in one transaction: a crash leaves both
    undone, so the rerun sends it once."""
    with db.atomic():
        kind = _owed_mail(form, contact, outcome)
        if kind == "confirm":
            queued = _queue_confirmation(form, contact, language) is not None
        else:
            queued = kind == "welcome" and _queue_welcome(form, contact, language)
        _run(_MARK_MAIL_SENT, True, item_id)
    if queued:
        schedule_delivery()  # after the commit: a drain must find the mail


def _insert_submission(item_id: str, form_id: int, contact_id: int | None, outcome: str, *,
                       mail_sent: bool) -> None:
    _run(_INSERT_SUBMISSION, item_id, form_id, contact_id, outcome, mail_sent, utcnow())


def _unclean(values: dict) -> dict:
    """The job payload back into ``clean_contact`` input (it is JSON: no CLEAR markers)."""
    return {k: v for k, v in values.items() if v is not None}


# A drain runs these for every submission; Peewee would build the same SQL each time, which
# costs more CPU than the database spends on them. ``{p}`` is the driver's placeholder.
_FORM_STAMP = "SELECT updated_at FROM form WHERE id = {p}"
_SUBMISSION = "SELECT contact_id, outcome, mail_sent FROM submission WHERE id = {p}"
_CONTACT_STATUS = "SELECT status FROM contact WHERE account_id = {p} AND email = {p}"
_INSERT_SUBMISSION = ("INSERT INTO submission (id, form_id, contact_id, outcome, mail_sent, "
                      "created_at) VALUES ({p}, {p}, {p}, {p}, {p}, {p})")
_MARK_MAIL_SENT = "UPDATE submission SET mail_sent = {p} WHERE id = {p}"
_CONFIRMATIONS_SINCE = ("SELECT COUNT(*) FROM confirmation WHERE contact_id = {p} "
                        "AND created_at >= {p}")
_LINK_MAIL = "UPDATE confirmation SET mail_id = {p} WHERE id = {p}"
_LOCK_CONTACT_PG = "SELECT id FROM contact WHERE id = {p} FOR UPDATE"
_LOCK_CONTACT_SQLITE = "UPDATE contact SET status = status WHERE id = {p}"


def _run(template: str, *params):
    """Execute one of the fixed statements above; returns the cursor."""
    return db.execute_sql(template.replace("{p}", db.param), params)


# ---- mails ---------------------------------------------------------------------------------

def send_confirmation(form_id: int, contact_id: int, *, language: str | None = None
                      ) -> Confirmation | None:
    """Send the double opt-in mail of form ``form_id`` to contact ``contact_id``.

    For other areas too (connectors: "send the opt-in mail of this form to a hook contact").
    Call inside ``db.connection_context()`` (a job). Sends nothing and returns None when the
    contact is not unconfirmed (confirmed or blacklisted), belongs to another account, or
    already got ``MAX_CONFIRMATION_MAILS`` confirmation mails in the last 24 hours; else
    stores a ``Confirmation`` (the single-use link) and queues the mail through
    ``gateway.mail.queue_mail``. ``language`` defaults to the contact's language when the
    form speaks it, else the form's first language.
    """
    form = public_form_by_id(form_id)
    contact = Contact.get_or_none(Contact.id == contact_id)
    if form is None or contact is None:
        return None
    with db.atomic():
        confirmation = _queue_confirmation(form, contact, language)
    if confirmation is not None:
        schedule_delivery()  # after the commit: a drain must find the mail
    return confirmation


def _queue_confirmation(form: PublicForm, contact: Contact, language: str | None
                        ) -> Confirmation | None:
    """``send_confirmation`` on loaded rows, without scheduling delivery: call inside a
    transaction, and ``schedule_delivery()`` after it when this returns a confirmation."""
    if contact.account_id != form.account_id or contact.status != "unconfirmed":
        return None
    _lock_contact(contact.id)  # two workers mailing one address must not both pass the cap
    since = utcnow() - CONFIRMATION_WINDOW
    if _run(_CONFIRMATIONS_SINCE, contact.id, since).fetchone()[0] >= MAX_CONFIRMATION_MAILS:
        return None
    lang = _mail_language(form, contact, language)
    settings = runtime.settings()
    confirmation = Confirmation.create(form=form.id, contact=contact.id, language=lang)
    token = tokens.confirm_token(settings.secret_key, confirmation.id, confirmation.nonce)
    mail = render_mail(form.mails, "confirm", lang, {
        **_person(contact), "form_name": form.name,
        "confirm_url": f"{settings.base_url}/confirm/{token}"})
    row = queue_mail(contact.email, mail["subject"], mail["text"], mail["html"],
                     account_id=form.account_id, purpose="form-confirm", schedule=False)
    _run(_LINK_MAIL, row.id, confirmation.id)
    confirmation.mail = row.id
    return confirmation


def _lock_contact(contact_id: int) -> None:
    """Hold the contact until the transaction ends: a row lock on PostgreSQL, the write lock
    on SQLite (a write first, so the count after it reads the latest commit)."""
    _run(_LOCK_CONTACT_PG if is_postgres() else _LOCK_CONTACT_SQLITE, contact_id)


def send_welcome(form_id: int, contact_id: int, *, language: str | None = None) -> bool:
    """Queue the form's welcome mail (with List-Unsubscribe) to a confirmed contact."""
    form = public_form_by_id(form_id)
    contact = Contact.get_or_none(Contact.id == contact_id)
    if form is None or contact is None:
        return False
    with db.atomic():  # the link row and its mail, or neither
        if not _queue_welcome(form, contact, language):
            return False
    schedule_delivery()
    return True


def _queue_welcome(form: PublicForm, contact: Contact, language: str | None) -> bool:
    """``send_welcome`` on loaded rows, without scheduling delivery (see
    ``_queue_confirmation``)."""
    if contact.status != "confirmed" or not form.welcome:
        return False
    settings = runtime.settings()
    lang = _mail_language(form, contact, language)
    link = UnsubscribeLink.create(contact=contact.id, form=form.id)
    token = tokens.unsubscribe_token(settings.secret_key, link.id, link.nonce)
    unsubscribe = f"{settings.base_url}/unsubscribe/{token}"
    mail = render_mail(form.mails, "welcome", lang, {
        **_person(contact), "form_name": form.name, "unsubscribe_url": unsubscribe})
    queue_mail(contact.email, mail["subject"], mail["text"], mail["html"],
               account_id=form.account_id, purpose="form-welcome", schedule=False,
               headers={"List-Unsubscribe": f"<{unsubscribe}>",
                        "List-Unsubscribe-Post": "List-Unsubscribe=One-Click"})
    return True


def _mail_language(form: PublicForm, contact: Contact, language: str | None) -> str:
    for code in (language, contact.language):
        if code and code in form.languages:
            return code
    return form.languages[0]


def _person(contact: Contact) -> dict:
    return {"first_name": contact.first_name or "", "name": contact.name or "",
            "email": contact.email}


# ---- confirming ----------------------------------------------------------------------------

@dataclass(frozen=True)
class LinkState:
    """What a confirmation link stands for, to choose the page to show."""

    state: str  # valid | used | expired | invalid
    confirmation_id: int | None = None
    form_id: int | None = None
    language: str | None = None
    nonce: str | None = None  # the link's own: keys its job, so no other link's is taken


def inspect_link(token: str, now: float | None = None) -> LinkState:
    """Check a confirmation token and its stored state (reads only)."""
    settings = runtime.settings()
    try:
        cid, nonce = tokens.read_confirm_token(settings.secret_key, token,
                                               settings.token_max_age, now)
        expired = False
    except tokens.ExpiredToken as exc:
        (cid, nonce), expired = exc.payload, True
    except tokens.InvalidToken:
        return LinkState("invalid")
    row = _confirmation(cid, nonce)
    if row is None:  # deleted (with its contact, say): the link is dead for good
        return LinkState("invalid")
    contact = Contact.get_by_id(row.contact_id)
    if row.used_at is not None or contact.status == "confirmed":
        state = "used"
    elif expired:
        state = "expired"
    else:
        state = "valid"
    return LinkState(state, row.id, row.form_id, row.language, row.nonce)


def _confirmation(confirmation_id: int, nonce: str | None) -> Confirmation | None:
    """The confirmation row a link names; its nonce must match when one is given."""
    query = Confirmation.id == confirmation_id
    if nonce is not None:
        query &= Confirmation.nonce == nonce
    return Confirmation.get_or_none(query)


def confirm(confirmation_id: int, ip: str | None = None, user_agent: str | None = None,
            nonce: str | None = None) -> str:
    """Use a confirmation link once: confirm the contact, then the welcome mail if enabled.

    Returns confirmed | used | blacklisted | gone. Idempotent: a rerun changes nothing, but
    still sends the welcome mail a crashed run confirmed without sending. ``nonce``: the
    link's (None only for jobs queued before links carried one).
    """
    with db.atomic():
        row = _confirmation(confirmation_id, nonce)
        if row is None:
            return "gone"
        outcome = _use_link(row, ip, user_agent) if row.used_at is None else "used"
    if row.confirmed and not row.welcome_sent:
        if send_welcome(row.form_id, row.contact_id, language=row.language):
            Confirmation.update(welcome_sent=True).where(Confirmation.id == row.id).execute()
    return outcome


def _use_link(row: Confirmation, ip: str | None, user_agent: str | None) -> str:
    contact = Contact.get_by_id(row.contact_id)
    row.used_at, row.used_ip, row.used_user_agent = utcnow(), ip, (user_agent or "")[:500]
    if contact.status != "unconfirmed":  # blacklisted: rule 5; confirmed: nothing to do
        row.save()
        return "blacklisted" if contact.status == "blacklisted" else "used"
    vocab = AccountVocabulary.load(contact.account_id)
    upsert(contact.account_id, {"email": contact.email}, status="confirmed",
           provenance=Provenance(channel="form", reference=str(row.form_id),
                                 ip=ip, user_agent=user_agent),
           field_types=vocab.field_types)
    row.confirmed = True
    row.save()
    return "confirmed"


def resend(confirmation_id: int) -> None:
    """A new confirmation mail for the contact of an (expired) link, within the daily cap."""
    row = Confirmation.get_or_none(Confirmation.id == confirmation_id)
    if row is not None:
        send_confirmation(row.form_id, row.contact_id, language=row.language)


@dataclass(frozen=True)
class UnsubscribeTarget:
    """The contact an unsubscribe link stands for."""

    contact_id: int
    account_id: int
    job_key: str  # unique per link: one link's click never swallows another's
    link_id: int | None = None  # None: a link mailed before links carried nonces


def unsubscribe_target(token: str) -> UnsubscribeTarget | None:
    """Who an unsubscribe link stands for; None when forged or its row is gone (for good)."""
    try:
        claim = tokens.read_unsubscribe_token(runtime.settings().secret_key, token)
    except tokens.InvalidToken:
        return None
    if isinstance(claim, tokens.LegacyUnsubscribe):
        return _legacy_target(claim)
    link_id, nonce = claim
    row = (UnsubscribeLink.select(UnsubscribeLink.contact, Contact.account)
           .join(Contact).where((UnsubscribeLink.id == link_id)
                                & (UnsubscribeLink.nonce == nonce)).tuples().first())
    if row is None:
        return None
    return UnsubscribeTarget(row[0], row[1], f"forms-unsubscribe-{nonce}", link_id)


def _legacy_target(claim: tokens.LegacyUnsubscribe) -> UnsubscribeTarget | None:
    """A link mailed before links carried nonces (schema 3) names a contact by id.

    Unsubscribe links must work for as long as old mails are read (RFC 8058 one-click, the
    right to object), so these stay valid, but only for a contact that already existed when
    the link was signed: one that later got a deleted contact's id was created after it.
    """
    contact = Contact.get_or_none((Contact.id == claim.contact_id)
                                  & (Contact.account == claim.account_id))
    # The signature's clock has whole seconds: a contact made in the same second counts.
    signed = datetime.fromtimestamp(claim.issued_at + 1, UTC).replace(tzinfo=None)
    if contact is None or contact.created_at >= signed:
        return None
    return UnsubscribeTarget(contact.id, claim.account_id,
                             f"forms-unsubscribe-{contact.id}-{claim.issued_at}")


def unsubscribe_by_token(token: str) -> None:
    """Blacklist the contact of a still valid unsubscribe link (checked again: it is a job)."""
    target = unsubscribe_target(token)
    if target is None:
        return
    with db.atomic():
        if target.link_id is not None:
            UnsubscribeLink.update(used_at=utcnow()).where(
                (UnsubscribeLink.id == target.link_id) & UnsubscribeLink.used_at.is_null()
            ).execute()
        unsubscribe(target.contact_id, target.account_id)


def unsubscribe(contact_id: int, account_id: int) -> None:
    """Blacklist a contact who asked to stop receiving mail (SPEC: unsubscribed = blacklisted)."""
    from gateway.contacts import blacklist
    try:
        blacklist(account_id, contact_id, Provenance(channel="form", reference="unsubscribe"))
    except NotFound:
        pass  # deleted meanwhile: nothing to do


def account_languages(account_id: int) -> list[str]:
    """The account's language codes (for the admin UI's pickers)."""
    return [v.name for v in Vocabulary.select().where(
        (Vocabulary.account == account_id) & (Vocabulary.kind == "language"))]

