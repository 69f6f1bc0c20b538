"""Checks one incoming contact against its account's vocabularies, for every inbound path."""

from __future__ import annotations

import math
import re
from dataclasses import asdict, dataclass, field
from datetime import date
from functools import partial

import email_validator
from email_validator import EmailNotValidError, validate_email

from gateway import i18n
from gateway.i18n import N_, _
from gateway.merge import CLEAR, is_clear, is_empty, is_plain
from gateway.models import CustomField, Vocabulary

MAX_LENGTHS = {"email": 254, "first_name": 200, "name": 200, "text": 1000}
LABEL_FIELDS = {"preferences": "preference", "interests": "interest"}
TRUE_WORDS = frozenset({"true", "yes", "1", "y", "ja", "oui", "x"})
FALSE_WORDS = frozenset({"false", "no", "0", "n", "nee", "non"})
_EMAIL_SHAPE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
# The common plain-ASCII address, which email-validator always accepts unchanged (modulo
# case): dot-separated atoms, LDH domain labels, an alphabetic TLD. Anything else goes to
# email-validator; tests/gateway/test_validation.py checks the verdicts agree (Hypothesis).
_FAST_EMAIL = re.compile(r"[A-Za-z0-9_%+-]{1,64}(?:\.[A-Za-z0-9_%+-]{1,64})*"
                         r"@(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.){1,8}"
                         r"[A-Za-z]{2,63}")
_SPECIAL_DOMAINS = tuple(email_validator.SPECIAL_USE_DOMAIN_NAMES)
# Never part of a name or a label: control characters (C0, DEL, C1), line and paragraph
# separators, lone surrogates. A CR/LF in a first name would otherwise start a new line in the
# body of every mail that greets the person; NUL and surrogates no store can keep.
_NOT_SINGLE_LINE = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\ud800-\udfff]+")
# Multi-line text keeps tab, LF and CR; the rest of the above goes.
_NOT_TEXT = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff]+")
# A number field holds what a spreadsheet and JavaScript keep exactly: |x| < 2**53.
MAX_NUMBER = 2.0**53
# A field's name inside a sentence, one text per field (a translation names it its own way);
# messages are translated only when an error is made, never for a clean row.
_MUST_BE_TEXT = {"first_name": N_("The first_name must be text."),
                 "name": N_("The name must be text."),
                 "language": N_("The language must be text."),
                 "source": N_("The source must be text.")}
_REQUIRED = {"language": N_("The language is required."),
             "source": N_("The source is required.")}
_UNKNOWN_LABEL = {"source": N_("Unknown source '%(value)s'."),
                  "preference": N_("Unknown preference '%(value)s'."),
                  "interest": N_("Unknown interest '%(value)s'.")}
_NOT_VALID = {"number": N_("Not a valid number."), "date": N_("Not a valid date."),
              "boolean": N_("Not a valid boolean."), "choice": N_("Not a valid choice."),
              "multiple_choice": N_("Not a valid multiple_choice."),
              "text": N_("Not a valid text.")}
_NOT_A_VALUE = N_("Not a valid value.")


@dataclass
class FieldError:
    """One problem with one field, with a fix where we can guess one."""

    field: str
    code: str
    message: str
    value: object = None
    suggestion: str | None = None

    def to_dict(self) -> dict:
        return {k: v for k, v in asdict(self).items() if v is not None}


@dataclass
class AccountVocabulary:
    """A snapshot of an account's languages, sources, labels and custom fields."""

    languages: set[str] = field(default_factory=set)
    sources: set[str] = field(default_factory=set)
    preferences: set[str] = field(default_factory=set)
    interests: set[str] = field(default_factory=set)
    fields: dict[str, tuple[str, list]] = field(default_factory=dict)

    @classmethod
    def load(cls, account_id: int) -> AccountVocabulary:
        """Read the vocabularies of ``account_id`` (two queries)."""
        vocab = cls()
        buckets = {"language": vocab.languages, "source": vocab.sources,
                   "preference": vocab.preferences, "interest": vocab.interests}
        for kind, name in (Vocabulary.select(Vocabulary.kind, Vocabulary.name)
                           .where(Vocabulary.account == account_id).tuples()):
            buckets[kind].add(name)
        for cf in CustomField.select().where(CustomField.account == account_id):
            vocab.fields[cf.name] = (cf.type, list(cf.choices or []))
        return vocab

    @property
    def field_types(self) -> dict[str, str]:
        return {name: spec[0] for name, spec in self.fields.items()}


def single_line(text: str) -> str:
    """``text`` trimmed, each run of control characters turned into one space."""
    if not text.isprintable():  # str.isprintable is C-fast and false for all we remove
        text = _NOT_SINGLE_LINE.sub(" ", text)
    return text.strip()


def multi_line(text: str) -> str:
    """``text`` trimmed, without NUL and the control characters other than tab, CR and LF."""
    return _NOT_TEXT.sub("", text).strip()


def suggest(value: str, allowed) -> str | None:
    """The allowed label that differs from ``value`` only by case or surrounding space."""
    wanted = value.strip().casefold()
    for label in allowed:
        if label.casefold() == wanted:
            return label
    return None


def fast_email(raw: str) -> str | None:
    """The lower-cased address when ``raw`` is a plain ASCII one email-validator accepts as
    is; None means "ask email-validator" (never "invalid")."""
    if len(raw) > 254 or not _FAST_EMAIL.fullmatch(raw):
        return None
    local, _, domain = raw.rpartition("@")
    domain = domain.lower()
    if len(local) > 64 or "--" in domain or domain.endswith(_SPECIAL_DOMAINS):
        return None  # length, IDNA-style labels and special-use names: the full check
    return raw.lower()


def normalise_email(value) -> tuple[str | None, FieldError | None]:
    """Syntax-check an address (no DNS) and lower-case it."""
    raw = str(value).strip()
    fast = fast_email(raw)
    if fast is not None:
        return fast, None
    if len(raw) > MAX_LENGTHS["email"]:
        return None, FieldError("email", "too_long", _("The e-mail address is too long."), raw)
    if not _EMAIL_SHAPE.match(raw):
        return None, FieldError("email", "invalid_email", _("This is not a valid e-mail address."),
                                raw)
    try:
        checked = validate_email(raw, check_deliverability=False)
    except EmailNotValidError as exc:
        # email-validator explains in English only: other languages get our own words
        why = str(exc) if i18n.current() == i18n.SOURCE_LANGUAGE \
            else _("This is not a valid e-mail address.")
        return None, FieldError("email", "invalid_email", why, raw)
    return checked.normalized.lower(), None


def clean_contact(vocab: AccountVocabulary, data: dict, *, creating: bool = True,
                  memo: dict | None = None) -> tuple[dict, list[FieldError]]:
    """Validate ``data``; returns clean values (``CLEAR`` for ``.``/``-``) and the errors.

    ``memo``: a dict kept across calls with the same ``vocab`` and ``creating`` on text
    values (an import's cells) remembers the verdicts on the labels and typed custom-field
    values, which repeat from row to row. Clean values are then shared: never mutate them.
    """
    clean: dict = {}
    errors: list[FieldError] = []
    email = data.get("email")
    if is_empty(email):
        errors.append(FieldError("email", "required", _("An e-mail address is required.")))
    else:
        clean["email"], err = normalise_email(email)
        errors.extend([err] if err else [])
    for name in ("first_name", "name"):
        _clean_text(clean, errors, name, data.get(name))
    labels = (data.get("language"), data.get("source"), data.get("preferences"),
              data.get("interests"))
    found, errs = _remembered(memo, labels, partial(_clean_vocab, vocab, labels, creating))
    clean.update(found)
    errors.extend(errs)
    custom = data.get("custom_fields") or {}
    if not isinstance(custom, dict):
        errors.append(FieldError("custom_fields", "invalid",
                                 _("custom_fields must be an object.")))
        custom = {}
    clean["custom_fields"] = out = {}
    for name, value in custom.items():
        if value.__class__ is not str or vocab.fields.get(name, _NO_FIELD)[0] == "text":
            # Free text rarely repeats, and only text values make safe keys (1 == True).
            _clean_custom(out, errors, vocab, name, value)
            continue
        found, errs = _remembered(memo, (name, value),
                                  partial(_cleaned, _clean_custom, vocab, name, value))
        out.update(found)
        errors.extend(errs)
    return clean, errors


_NO_FIELD = (None, [])
# Bounds the memo of one import: a column of distinct values (dates) stays cheap to hold.
_MEMO_LIMIT = 50_000


def _remembered(memo: dict | None, key: tuple, compute) -> tuple[dict, list]:
    """``compute()`` (clean values, errors), remembered under ``key`` in ``memo``."""
    if memo is None:
        return compute()
    try:
        hit = memo.get(key)
    except TypeError:  # JSON lists or objects as values: nothing to remember them by
        return compute()
    if hit is None:
        hit = compute()
        if len(memo) >= _MEMO_LIMIT:
            memo.clear()
        memo[key] = hit
    return hit


def _cleaned(cleaner, *args) -> tuple[dict, list]:
    found: dict = {}
    errors: list = []
    cleaner(found, errors, *args)
    return found, errors


def _clean_vocab(vocab: AccountVocabulary, values: tuple, creating: bool) -> tuple[dict, list]:
    """Language, source, preferences and interests (``values`` in that order)."""
    found: dict = {}
    errors: list = []
    language, source, *labels = values
    _clean_label(found, errors, "language", language, vocab.languages, creating)
    _clean_label(found, errors, "source", source, vocab.sources, creating)
    for (name, kind), value in zip(LABEL_FIELDS.items(), labels, strict=True):
        _clean_labels(found, errors, name, kind, value, getattr(vocab, name))
    return found, errors


def _clean_text(clean: dict, errors: list, name: str, value) -> None:
    if is_plain(value) and len(value) <= MAX_LENGTHS[name] and value.isprintable():
        clean[name] = value  # the common case, decided first: already clean
        return
    if is_empty(value):
        return
    if is_clear(value):
        clean[name] = CLEAR
        return
    if isinstance(value, list | dict):  # JSON clients: never store "['a']"
        errors.append(FieldError(name, "invalid", _(_MUST_BE_TEXT[name]), value))
        return
    text = single_line(str(value))
    if not text:
        return  # only control characters: as empty as a blank cell
    if len(text) > MAX_LENGTHS[name]:
        errors.append(FieldError(name, "too_long",
                                 _("At most %(max)s characters.") % {"max": MAX_LENGTHS[name]},
                                 text))
    else:
        clean[name] = text


def _clean_label(clean, errors, name, value, allowed, required) -> None:
    if is_empty(value) or is_clear(value):
        if required:
            errors.append(FieldError(name, "required", _(_REQUIRED[name])))
        return
    if isinstance(value, list | dict):
        errors.append(FieldError(name, "invalid", _(_MUST_BE_TEXT[name]), value))
        return
    text = single_line(str(value))
    if name == "language":
        text_cmp = text.lower()  # ISO 639-1 codes are case-insensitive, stored lower-case
        if text_cmp in allowed:
            clean[name] = text_cmp
            return
        errors.append(FieldError(name, "unknown_language",
                                 _("Unknown language '%(value)s'; use one of the account's "
                                   "language codes.") % {"value": text},
                                 text, suggest(text, allowed)))
        return
    if text in allowed:
        clean[name] = text
        return
    hint = suggest(text, allowed)
    errors.append(FieldError(name, "unknown_source", _unknown("source", text, hint), text, hint))


def _unknown(kind: str, value: str, hint: str | None) -> str:
    """"Unknown source 'x'." with "Did you mean 'X'?" when we can guess."""
    msg = _(_UNKNOWN_LABEL[kind]) % {"value": value}
    return msg + " " + _("Did you mean '%(hint)s'?") % {"hint": hint} if hint else msg


def split_labels(value) -> list[str]:
    """Labels from a list or a comma-separated cell."""
    if isinstance(value, list | tuple | set):
        items = value
    else:
        items = str(value).split(",")
    labels = (single_line(str(item)) for item in items if not is_empty(item))
    return [label for label in labels if label]


def _clean_labels(clean, errors, name, kind, value, allowed) -> None:
    if is_empty(value) or is_clear(value):
        return
    labels = []
    for label in split_labels(value):
        if label in allowed:
            labels.append(label)
            continue
        hint = suggest(label, allowed)
        errors.append(FieldError(name, f"unknown_{kind}", _unknown(kind, label, hint), label,
                                 hint))
    clean[name] = labels


def _clean_custom(out: dict, errors: list, vocab: AccountVocabulary, name: str, value) -> None:
    if name not in vocab.fields:
        hint = suggest(name, vocab.fields)
        errors.append(FieldError(name, "unknown_field",
                                 _("Unknown custom field '%(name)s'.") % {"name": name},
                                 name, hint))
        return
    if is_empty(value):
        return
    if is_clear(value):
        out[name] = CLEAR
        return
    ftype, choices = vocab.fields[name]
    converted, err = convert_value(name, ftype, choices, value)
    if err:
        errors.append(err)
    else:
        out[name] = converted


def convert_value(name: str, ftype: str, choices: list, value):
    """Convert one custom-field value to its type; returns (value, error)."""
    try:
        if ftype == "text":
            text = value if is_plain(value) and value.isprintable() \
                else multi_line(str(value))
            if len(text) > MAX_LENGTHS["text"]:
                return None, FieldError(name, "too_long",
                                        _("At most %(max)s characters.")
                                        % {"max": MAX_LENGTHS["text"]}, text)
            return text, None
        if ftype == "number":
            return _number(name, value)
        if ftype == "date":
            return date.fromisoformat(str(value).strip()).isoformat(), None
        if ftype == "boolean":
            return _boolean(value), None
        if ftype == "choice":
            return _choice(single_line(str(value)), choices), None
        if ftype == "multiple_choice":
            return [_choice(v, choices) for v in split_labels(value)], None
    except _BadChoice as exc:
        return None, FieldError(name, "unknown_choice",
                                _("Unknown choice '%(value)s'.") % {"value": exc.value},
                                exc.value, suggest(exc.value, choices))
    except (ValueError, TypeError, OverflowError):
        code = {"date": "invalid_date", "number": "invalid_number",
                "boolean": "invalid_boolean"}.get(ftype, "invalid")
        hint = _("Use an ISO 8601 date such as 2018-08-25.") if ftype == "date" else None
        return None, FieldError(name, code, _(_NOT_VALID.get(ftype, _NOT_A_VALUE)),
                                value, hint)
    return None, FieldError(name, "invalid", _("Unknown field type %(type)s.") % {"type": ftype},
                            value)


def _number(name: str, value) -> tuple[object, FieldError | None]:
    """A finite number within ±2**53 (an int when whole); NaN, 1e999 and 10**400 are errors."""
    if isinstance(value, str):
        value = value.strip().replace(",", ".")
    elif isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError(value)
    number = float(value)  # OverflowError past 1e308: the caller makes it invalid_number
    if not math.isfinite(number) or abs(number) >= MAX_NUMBER:
        return None, FieldError(name, "number_out_of_range",
                                _("A number must be finite and between -2^53 and 2^53."),
                                str(value)[:40])
    return (int(number) if number.is_integer() else number), None


class _BadChoice(Exception):
    def __init__(self, value: str):
        self.value = value


def _choice(value: str, choices: list) -> str:
    if value not in choices:
        raise _BadChoice(value)
    return value


def _boolean(value) -> bool:
    if isinstance(value, bool):
        return value
    word = str(value).strip().lower()
    if word in TRUE_WORDS:
        return True
    if word in FALSE_WORDS:
        return False
    raise ValueError(value)
