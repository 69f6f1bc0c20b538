"""What people read, in English, Dutch and French: Babel catalogues and the current language.

Source texts are English; ``gateway/locale/<language>/LC_MESSAGES/*.po`` hold the Dutch and
French. The catalogues are compiled in memory the first time a language is used, so a newcomer
runs no extra command (``babel.cfg`` says what ``pybabel extract`` reads; README, "Adding a
language").

The language is per task (a ``ContextVar``): a request sets it from the user's choice or the
browser (``gateway.middleware.Language``, ``gateway.admin.pages``); a job sets it with
``use(language)`` for the mail or file it writes.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import date, datetime, tzinfo
from io import BytesIO
from pathlib import Path

from babel import Locale, dates, numbers, support
from babel.messages.catalog import Catalog
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

LANGUAGES = ("en", "nl", "fr")
NAMES = {"en": "English", "nl": "Nederlands", "fr": "Français"}  # each in its own language
SOURCE_LANGUAGE = "en"
LOCALE_DIR = Path(__file__).resolve().parent / "locale"

# None: nobody named a language (no Accept-Language, a job): texts are in English, and what is
# written for someone later (an import's report) may take the account's language instead.
_current: ContextVar[str | None] = ContextVar("inlet_language", default=None)


def catalogue_files(language: str) -> list[Path]:
    """The ``.po`` files of ``language`` (one per part of the product)."""
    return sorted((LOCALE_DIR / language / "LC_MESSAGES").glob("*.po"))


def read_catalogue(language: str) -> Catalog:
    """Every ``.po`` of ``language`` as one catalogue (the first file wins on a shared text)."""
    merged = Catalog(locale=language)
    for path in catalogue_files(language):
        with path.open("rb") as fp:
            part = read_po(fp, locale=language)
        # The files' own Plural-Forms count (French: two, as translators write them, not
        # CLDR's three), else ngettext would miss a form and fall back to English.
        merged.mime_headers = [h for h in part.mime_headers if h[0].lower() == "plural-forms"]
        for message in part:
            if message.id:
                merged[message.id] = message
    return merged


@functools.cache
def translations(language: str) -> support.NullTranslations:
    """The compiled catalogue of ``language`` (compiled once, in memory)."""
    if language == SOURCE_LANGUAGE or not catalogue_files(language):
        return support.NullTranslations()
    compiled = BytesIO()
    write_mo(compiled, read_catalogue(language))  # fuzzy entries are left out, as msgfmt does
    compiled.seek(0)
    return support.Translations(compiled)


def current() -> str:
    """The language of the task (``en`` unless set)."""
    return _current.get() or SOURCE_LANGUAGE


def named() -> str | None:
    """The task's language when someone asked for one (a user, a browser), else None."""
    return _current.get()


def activate(language: str | None) -> None:
    """Make ``language`` (one of ``LANGUAGES``; None: nobody's) the task's language."""
    _current.set(pick(language) if language else None)


@contextmanager
def use(language: str | None) -> Iterator[str]:
    """Within the block, texts are in ``language`` (jobs writing a mail or a file)."""
    token = _current.set(pick(language) if language else None)
    try:
        yield current()
    finally:
        _current.reset(token)


def in_english(step: Callable) -> Callable:
    """Run ``step`` in English whatever the caller's language: what a job stores (reasons,
    warnings) is English, translated when shown, and a job run inline in a request must
    store the same as one a worker runs."""
    @functools.wraps(step)
    def run(*args, **kwargs):
        with use(SOURCE_LANGUAGE):
            return step(*args, **kwargs)
    return run


def gettext(message: str) -> str:
    """``message`` in the task's language."""
    return translations(current()).ugettext(message)


def ngettext(singular: str, plural: str, n: int) -> str:
    """The singular or plural of a text, by ``n``, in the task's language."""
    return translations(current()).ungettext(singular, plural, n)


def pgettext(context: str, message: str) -> str:
    """``message`` in the task's language, told apart by ``context`` ("Import" the noun)."""
    return translations(current()).upgettext(context, message)


_ = gettext


def N_(message: str) -> str:
    """Mark a text for the catalogue where it is defined; translated where it is shown."""
    return message


def stored_texts(*texts: str) -> tuple[tuple[re.Pattern, str], ...]:
    """Marked English texts with ``%(name)s`` values, as patterns ``stored`` reads back."""
    return tuple((_stored_pattern(text), text) for text in texts)


def _stored_pattern(text: str) -> re.Pattern:
    seen: set[str] = set()

    def group(match: re.Match) -> str:  # a value named twice must be the same both times
        name = match.group(1)
        if name in seen:
            return f"(?P={name})"
        seen.add(name)
        return f"(?P<{name}>.+?)"
    return re.compile(re.sub(r"%\\\((\w+)\\\)s", group, re.escape(text)), re.DOTALL)


def stored(text: str | None, known: tuple[tuple[re.Pattern, str], ...] = ()) -> str:
    """A text a job stored in English (an error, a reason) in the task's language.

    Jobs run in no one's language, so what they store is English; the reader's page matches
    it back to one of the ``known`` texts (values kept) or to any marked text. A value named
    ``reason`` is such a text too ("refused: <why>"). Anything else is shown as it is."""
    if not text:
        return text or ""
    for pattern, english in known:
        found = pattern.fullmatch(text)
        if found:
            values = found.groupdict()
            if "reason" in values:
                values["reason"] = stored(values["reason"], known)
            return gettext(english) % values
    return gettext(text)


def pick(*candidates: str | None) -> str:
    """The first candidate we have texts for (``nl-BE`` counts as ``nl``), else English."""
    for candidate in candidates:
        code = (candidate or "").strip().lower().replace("_", "-").split("-")[0]
        if code in LANGUAGES:
            return code
    return SOURCE_LANGUAGE


def from_accept_language(header: str | None) -> str | None:
    """The language of an ``Accept-Language`` header we have texts for (by weight), or None."""
    weighted = []
    for position, part in enumerate((header or "").split(",")):
        tag, _sep, params = part.strip().partition(";")
        weight = 1.0
        if params.strip().startswith("q="):
            try:
                weight = float(params.strip()[2:])
            except ValueError:
                weight = 0.0
        code = tag.strip().lower().split("-")[0]
        if code in LANGUAGES and weight > 0:  # ``nan`` compares False: never chosen
            weighted.append((-weight, position, code))
    return min(weighted)[2] if weighted else None


def locale() -> Locale:
    """The Babel locale of the task's language."""
    return Locale.parse(current())


def number(value: int | float | None) -> str:
    """A number as people of the task's language write it: 1,234 · 1.234 · 1 234."""
    return numbers.format_decimal(value or 0, locale=current())


def format_date(value: date, style: str = "medium") -> str:
    """A date in the task's language ("7 Dec 2026", "7 dec 2026", "7 déc. 2026")."""
    return dates.format_date(value, style, locale=current())


def format_datetime(value: datetime, style: str = "medium", tz: tzinfo | None = None) -> str:
    """A moment in the task's language, in ``tz`` when given."""
    return dates.format_datetime(value, style, tzinfo=tz, locale=current())


def format_pattern(value: date | datetime, pattern: str) -> str:
    """A date or moment by a CLDR pattern ("d MMM", "HH:mm") in the task's language."""
    if isinstance(value, datetime):
        return dates.format_datetime(value, pattern, locale=current())
    return dates.format_date(value, pattern, locale=current())
