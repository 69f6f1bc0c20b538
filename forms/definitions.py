"""Form definitions: list, create and change an account's forms, each value validated (a
refusal names every problem and stores nothing). The admin UI, the API and the CLI call these.
"""

from __future__ import annotations

import re
import secrets
import unicodedata
from urllib.parse import urlsplit

import peewee

from forms.mails import MailTemplateError, check_template
from forms.models import Form
from forms.public import clear_cache
from forms.texts import MAIL_KINDS, TEXT_KEYS
from gateway import runtime
from gateway.db import db, utcnow
from gateway.errors import Conflict, ValidationFailed
from gateway.i18n import _
from gateway.models import Vocabulary
from gateway.tenancy import owned
from gateway.validation import AccountVocabulary, suggest

BUILTIN_FIELDS = ("first_name", "name", "language", "preferences", "interests")
_SLUG = re.compile(r"^[a-z0-9][a-z0-9-]{2,63}$")
_LABEL_KEY = re.compile(r"^label_[a-z][a-z0-9_]{0,63}$")
MAX_TEXT = 5000


def form_to_dict(form: Form, base_url: str | None = None) -> dict:
    """The API shape of a form definition."""
    base = (base_url or runtime.settings().base_url).rstrip("/")
    return {
        "id": form.id, "slug": form.slug, "name": form.name, "source": form.source,
        "fields": form.fields or [], "preferences": form.preferences or [],
        "interests": form.interests or [], "label_texts": form.label_texts or {},
        "languages": form.languages or [],
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
        raise Conflict(_("The slug '%(slug)s' is taken.") % {"slug": values["slug"]}) from None


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
        raise Conflict(_("The slug '%(slug)s' is taken.")
                       % {"slug": values.get("slug")}) from None
    clear_cache()  # this process sees the change at once; others within CACHE_SECONDS
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
        raise ValidationFailed(_("The body must be a JSON object."))
    vocab = AccountVocabulary.load(account_id)
    errors: list[dict] = []
    out: dict = {}
    unknown = sorted(set(data) - set(_CLEANERS))
    for key in unknown:
        errors.append({"field": key, "code": "unknown_field",
                       "message": _("Unknown key '%(key)s'.") % {"key": key}})
    for key, cleaner in _CLEANERS.items():
        if key in data:
            try:
                out[key] = cleaner(data[key], vocab)
            except _Bad as bad:
                errors.append({"field": key, **bad.detail})
    if creating:
        for key in ("name", "source"):
            if key not in data:
                errors.append({"field": key, "code": "required",
                               "message": _("%(key)s is required.") % {"key": key}})
        out.setdefault("languages", _default_languages(vocab))
        # A new form showing labels offers those that exist now, listed: ones added later in
        # Settings stay off it until chosen.
        for kind in ("preferences", "interests"):
            if kind in out.get("fields", ()):
                out.setdefault(kind, sorted(getattr(vocab, kind)))
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
        raise _Bad("invalid", _("A text of %(min)s to %(max)s characters.")
                   % {"min": 1 if required else 0, "max": limit})
    return value.strip()


def _bool(value, vocab=None) -> bool:
    if not isinstance(value, bool):
        raise _Bad("invalid", _("true or false."))
    return value


def _slug(value, vocab=None) -> str:
    if not isinstance(value, str) or not _SLUG.match(value):
        raise _Bad("invalid", _("3 to 64 lower-case letters, digits and dashes."))
    return value


def _source(value, vocab: AccountVocabulary) -> str:
    if isinstance(value, str) and value in vocab.sources:
        return value
    hint = suggest(str(value), vocab.sources)
    message = _("Unknown source '%(value)s'.") % {"value": value}
    if hint:
        message += " " + _("Did you mean '%(hint)s'?") % {"hint": hint}
    raise _Bad("unknown_source", message, value=value, suggestion=hint)


def _string_list(value, limit: int = 50) -> list[str]:
    if not isinstance(value, list) or len(value) > limit or not all(
            isinstance(v, str) and v.strip() for v in value):
        raise _Bad("invalid", _("A list of at most %(num)s texts.") % {"num": limit})
    return list(dict.fromkeys(v.strip() for v in value))


def _fields(value, vocab: AccountVocabulary) -> list[str]:
    names = _string_list(value)
    bad = [n for n in names if n not in BUILTIN_FIELDS and n not in vocab.fields]
    if bad:
        raise _Bad("unknown_field", _("Unknown fields: %(fields)s. Use %(builtin)s or one of the "
                                      "account's custom fields.")
                   % {"fields": ", ".join(bad), "builtin": ", ".join(BUILTIN_FIELDS)}, value=bad)
    return names


def _labels(kind: str):
    def clean(value, vocab: AccountVocabulary) -> list[str]:
        names = _string_list(value, 200)
        allowed = getattr(vocab, kind)
        bad = [n for n in names if n not in allowed]
        if bad:
            message = (_("Unknown interests: %(labels)s.") if kind == "interests"
                       else _("Unknown preferences: %(labels)s.")) % {"labels": ", ".join(bad)}
            raise _Bad(f"unknown_{kind[:-1] if kind == 'interests' else 'preference'}",
                       message, value=bad, suggestion=suggest(bad[0], allowed))
        return names
    return clean


def _languages(value, vocab: AccountVocabulary) -> list[str]:
    codes = [c.lower() for c in _string_list(value, 20)]
    bad = [c for c in codes if c not in vocab.languages]
    if not codes or bad:
        raise _Bad("unknown_language", _("Use one or more of the account's languages: "
                                         "%(languages)s.")
                   % {"languages": ", ".join(sorted(vocab.languages))}, value=bad)
    return codes


def _url(value, vocab=None) -> str | None:
    if value in (None, ""):
        return None
    if not isinstance(value, str) or len(value) > 2000:
        raise _Bad("invalid_url", _("An absolute http(s) URL."))
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname or any(
            c in value for c in " \t\r\n\\"):
        raise _Bad("invalid_url", _("'%(url)s' is not an absolute http(s) URL.") % {"url": value},
                   value=value)
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
            raise _Bad("invalid_origin", _("'%(origin)s' is not an origin such as "
                                           "https://www.example.com (no path).")
                       % {"origin": item}, value=item)
        out.append(origin)
    return list(dict.fromkeys(out))


def _min_fill(value, vocab=None) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= 60:
        raise _Bad("invalid", _("A number of seconds from 0 to 60."))
    return value


def _texts(value, vocab: AccountVocabulary) -> dict:
    if not isinstance(value, dict):
        raise _Bad("invalid", _("An object {language: {key: text}}."))
    out = {}
    for lang, entries in value.items():
        if lang not in vocab.languages or not isinstance(entries, dict):
            raise _Bad("unknown_language", _("Texts for unknown language '%(language)s'.")
                       % {"language": lang}, value=lang)
        for key, text in entries.items():
            if key not in TEXT_KEYS and not _LABEL_KEY.match(str(key)):
                raise _Bad("unknown_text", _("Unknown text '%(key)s'.") % {"key": key}, value=key,
                           allowed=sorted(TEXT_KEYS))
            if not isinstance(text, str) or len(text) > MAX_TEXT:
                raise _Bad("invalid", _("Text %(text)s must be at most %(num)s characters.")
                           % {"text": f"{lang}.{key}", "num": MAX_TEXT})
        out[lang] = dict(entries)
    return out


def _mails(value, vocab: AccountVocabulary) -> dict:
    if not isinstance(value, dict):
        raise _Bad("invalid", _("An object {confirm|welcome: {language: {subject, body}}}."))
    out: dict = {}
    for kind, by_lang in value.items():
        if kind not in MAIL_KINDS or not isinstance(by_lang, dict):
            raise _Bad("unknown_mail", _("Unknown mail '%(kind)s'; use %(kinds)s.")
                       % {"kind": kind, "kinds": ", ".join(MAIL_KINDS)})
        for lang, spec in by_lang.items():
            if lang not in vocab.languages or not isinstance(spec, dict) or set(spec) - {
                    "subject", "body"}:
                raise _Bad("invalid", _("%(mail)s must be {subject, body} for one of the "
                                        "account's languages.") % {"mail": f"mails.{kind}.{lang}"})
            for part, source in spec.items():
                if not isinstance(source, str) or not source.strip() or len(source) > MAX_TEXT:
                    raise _Bad("invalid", _("%(part)s must be a non-empty text.")
                               % {"part": f"mails.{kind}.{lang}.{part}"})
                try:
                    check_template(source)
                except MailTemplateError as exc:
                    raise _Bad("invalid_template", f"mails.{kind}.{lang}.{part}: {exc}") from None
        out[kind] = by_lang
    return out


def _label_texts(value, vocab: AccountVocabulary) -> dict:
    if not isinstance(value, dict):
        raise _Bad("invalid", _("An object {label: {language: text}}."))
    labels = vocab.preferences | vocab.interests
    out: dict = {}
    for label, by_lang in value.items():
        if label not in labels:
            raise _Bad("unknown_label", _("Unknown preference or interest '%(label)s'.")
                       % {"label": label}, value=label, suggestion=suggest(str(label), labels))
        if not isinstance(by_lang, dict):
            raise _Bad("invalid", _("%(key)s must be {language: text}.")
                       % {"key": f"label_texts.{label}"})
        for lang, text in by_lang.items():
            if lang not in vocab.languages:
                raise _Bad("unknown_language", _("Text of '%(label)s' for unknown language "
                                                 "'%(language)s'.")
                           % {"label": label, "language": lang}, value=lang)
            if not isinstance(text, str) or len(text) > 200 or "\n" in text:
                raise _Bad("invalid", _("The %(language)s text of '%(label)s': one line of at "
                                        "most 200 characters.")
                           % {"language": lang, "label": label})
        texts = {lang: text.strip() for lang, text in by_lang.items() if text.strip()}
        if texts:
            out[label] = texts
    return out


_CLEANERS = {
    "name": _text, "slug": _slug, "source": _source, "fields": _fields,
    "preferences": _labels("preferences"), "interests": _labels("interests"),
    "label_texts": _label_texts,
    "languages": _languages, "texts": _texts, "mails": _mails, "double_opt_in": _bool,
    "welcome": _bool, "redirect_urls": _urls, "after_submit_url": _url,
    "after_confirm_url": _url, "allowed_origins": _origins, "min_fill_seconds": _min_fill,
}


def account_languages(account_id: int) -> list[str]:
    """The account's language codes (for the admin UI's pickers)."""
    return [v.name for v in Vocabulary.select().where(
        (Vocabulary.account == account_id) & (Vocabulary.kind == "language"))]
