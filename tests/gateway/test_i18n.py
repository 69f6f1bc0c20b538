"""The catalogues are complete and consistent; the language follows the user, then the browser."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg

from gateway import i18n

ROOT = Path(__file__).resolve().parents[2]
TRANSLATED = [language for language in i18n.LANGUAGES if language != i18n.SOURCE_LANGUAGE]
# Words a marketer meets everywhere, said the same way on every screen (issue #21): a text
# naming the English term uses the term of its language.
TERMS = {
    "nl": {r"\bsources?\b": "bron", r"\bpreferences?\b": "voorkeur",
           r"\binterests?\b": "interesse"},
    "fr": {r"\bsources?\b": "source", r"\bpreferences?\b": "préférence",
           r"\binterests?\b": "centre"},
}


def extracted() -> dict[str, tuple[str, int]]:
    """Every text the code and templates mark for translation (as ``pybabel extract`` sees
    them), with where one is used."""
    with (ROOT / "babel.cfg").open() as cfg:
        method_map, options_map = parse_mapping_cfg(cfg)
    found = {}
    for filename, lineno, message, _comments, context in extract_from_dir(
            str(ROOT), method_map, options_map):
        key = message if isinstance(message, str) else message[0]  # ngettext: by its singular
        found[(context, key)] = (filename, lineno)
    return found


@pytest.fixture(scope="module")
def marked():
    return extracted()


def test_the_code_marks_texts_at_all(marked):
    assert len(marked) > 300
    assert (None, "Your language") in marked


@pytest.mark.parametrize("language", TRANSLATED)
def test_every_marked_text_is_translated(marked, language):
    catalogue = i18n.read_catalogue(language)
    missing = []
    for (context, text), (filename, lineno) in sorted(marked.items(), key=str):
        entry = catalogue.get(text, context=context)
        strings = entry.string if entry and isinstance(entry.string, tuple) else (
            entry.string if entry else "",)
        if entry is None or entry.fuzzy or not all(strings):
            missing.append(f"{filename}:{lineno}: {text!r}")
    assert not missing, f"{len(missing)} texts lack a {language} translation:\n" + \
        "\n".join(missing[:40])


@pytest.mark.parametrize("language", TRANSLATED)
def test_translations_keep_their_placeholders(language):
    catalogue = i18n.read_catalogue(language)
    problems = [f"{message.id!r}: {errors}" for message, errors in catalogue.check()]
    for message in catalogue:
        if not message.id:
            continue
        ids = message.id if isinstance(message.id, tuple) else (message.id,)
        wanted = set(re.findall(r"%\(\w+\)s", ids[-1]))
        for string in _strings(message.string):
            if set(re.findall(r"%\(\w+\)s", string)) != wanted:
                problems.append(f"{message.id!r} → {string!r}")
    assert not problems, "\n".join(problems[:40])


@pytest.mark.parametrize("language", TRANSLATED)
def test_the_same_terms_everywhere(language):
    catalogue = i18n.read_catalogue(language)
    odd = []
    for message in catalogue:
        source = message.id if isinstance(message.id, str) else message.id[0]
        for pattern, term in TERMS[language].items():
            if re.search(pattern, source or "", re.IGNORECASE):
                for string in _strings(message.string):
                    if term not in string.lower():
                        odd.append(f"{source!r} → {string!r} (expected '{term}')")
    assert not odd, "\n".join(odd[:40])


@pytest.mark.parametrize("language", TRANSLATED)
def test_no_translation_is_left_over_from_removed_texts(marked, language):
    texts = {text for _context, text in marked}
    stale = [message.id for message in i18n.read_catalogue(language)
             if message.id and (message.id if isinstance(message.id, str) else message.id[0])
             not in texts]
    assert not stale, stale[:20]


def _strings(string) -> list[str]:
    strings = list(string) if isinstance(string, tuple) else [string]
    return [s for s in strings if s]


def test_texts_follow_the_task_language():
    with i18n.use("fr"):
        assert i18n.gettext("Your language") == "Votre langue"
        with i18n.use("nl"):
            assert i18n.gettext("Your language") == "Jouw taal"
        assert i18n.current() == "fr"
    assert i18n.gettext("Your language") == "Your language"


def test_numbers_as_each_language_writes_them():
    with i18n.use("nl"):
        assert i18n.number(1234) == "1.234"
    with i18n.use("fr"):
        assert i18n.number(1234) == "1\u202f234"
    with i18n.use("en"):
        assert i18n.number(1234) == "1,234"


@pytest.mark.parametrize("header, expected", [
    ("fr-BE,fr;q=0.9,en;q=0.8", "fr"),
    ("de-DE,de;q=0.9,nl;q=0.5,en;q=0.7", "en"),
    ("en;q=0.2, nl-BE", "nl"),
    ("de", None),
    ("", None),
    (None, None),
    ("nl;q=nan, fr;q=0", None),
    ("x" * 10_000, None),
])
def test_the_browser_language(header, expected):
    assert i18n.from_accept_language(header) == expected


def test_pick_takes_the_first_known_language():
    assert i18n.pick(None, "de", "nl-BE") == "nl"
    assert i18n.pick("\x00", "") == "en"


def test_a_stored_english_text_reads_in_the_readers_language():
    known = i18n.stored_texts("answered %(status)s", "refused: %(reason)s")
    with i18n.use("fr"):
        assert i18n.stored("answered 503", known) == "a répondu 503"
        assert i18n.stored("refused: Not found.", known) == "refusé : Introuvable."
        assert i18n.stored("Not found.") == "Introuvable."
        assert i18n.stored("something a server said", known) == "something a server said"
        assert i18n.stored(None) == ""
    assert i18n.stored("answered 503", known) == "answered 503"
