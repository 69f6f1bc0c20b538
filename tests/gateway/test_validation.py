"""The e-mail fast path gives exactly email-validator's verdict (Hypothesis)."""

import string

from email_validator import EmailNotValidError, validate_email
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.validation import _FAST_EMAIL, fast_email, normalise_email


def slow(raw: str) -> str | None:
    """email-validator's verdict: the normalised, lower-cased address or None."""
    try:
        return validate_email(raw, check_deliverability=False).normalized.lower()
    except EmailNotValidError:
        return None


LOCAL = st.text(string.ascii_letters + string.digits + "._%+-!#'", min_size=0, max_size=70)
LABEL = st.text(string.ascii_letters + string.digits + "-", min_size=0, max_size=66)
TLD = st.sampled_from(["com", "be", "nl", "fr", "io", "test", "local", "c0m", "x", "COM",
                       "localhost", "onion", "museum", "a1", "arpa"])
ADDRESS = st.builds(lambda lo, labels, tld: f"{lo}@{'.'.join([*labels, tld])}",
                    LOCAL, st.lists(LABEL, min_size=0, max_size=4), TLD)


@settings(max_examples=800, deadline=None)
@given(ADDRESS)
def test_fast_path_never_disagrees_with_email_validator(raw):
    fast = fast_email(raw)
    if fast is not None:
        assert slow(raw) == fast


@settings(max_examples=100, deadline=None)
@given(st.from_regex(_FAST_EMAIL, fullmatch=True))
def test_addresses_of_the_fast_shape_are_accepted_alike(raw):
    fast = fast_email(raw)
    assert fast is None or slow(raw) == fast


@settings(max_examples=400, deadline=None)
@given(st.one_of(ADDRESS, st.text(max_size=80)))
def test_normalise_email_matches_email_validator_on_any_text(raw):
    clean, error = normalise_email(raw)
    expected = slow(raw.strip())
    if expected is None:
        assert clean is None and error is not None
    else:
        assert clean == expected and error is None


def test_common_addresses_take_the_fast_path():
    for raw in ("ann@example.com", "Jan.Peeters+news@mail.Company.be", "a_b-c@x-y.io"):
        assert fast_email(raw) == raw.lower()
    for raw in ("ann@localhost", "a..b@example.com", ".a@example.com", "ann@exa--mple.com",
                "ann@example.test", "josé@example.com"):
        assert fast_email(raw) is None


VOCAB_TEXT = st.sampled_from(["nl", "NL", "fr", "de", "", ".", "-", " nl ", "Website",
                              "website", "Fair", "Sports,Music", "sports", "Music, Chess",
                              "1977-03-12", "1977-13-12", "yes", "maybe", "12,5", "x"])
ROW = st.fixed_dictionaries({
    "email": st.sampled_from(["ann@example.com", "not-an-address", ""]),
    "language": VOCAB_TEXT, "source": VOCAB_TEXT, "preferences": VOCAB_TEXT,
    "interests": VOCAB_TEXT,
    "custom_fields": st.fixed_dictionaries({"birthday": VOCAB_TEXT, "vip": VOCAB_TEXT,
                                            "score": VOCAB_TEXT, "note": VOCAB_TEXT})})


def _vocab():
    from gateway.validation import AccountVocabulary
    return AccountVocabulary(languages={"nl", "fr"}, sources={"Website", "Fair"},
                             preferences={"Weekly"}, interests={"Sports", "Music"},
                             fields={"birthday": ("date", []), "vip": ("boolean", []),
                                     "score": ("number", []), "note": ("text", [])})


@settings(max_examples=300, deadline=None)
@given(st.lists(ROW, min_size=1, max_size=8), st.booleans())
def test_an_imports_memo_never_changes_a_verdict(rows, creating):
    """Remembered verdicts (an import's repeating cells) equal fresh ones, errors included,
    row after row."""
    from gateway.validation import clean_contact
    vocab, memo = _vocab(), {}
    for row in rows:
        assert clean_contact(vocab, row, creating=creating, memo=memo) == \
            clean_contact(vocab, row, creating=creating)


def test_a_repeated_bad_cell_is_reported_on_every_row():
    from gateway.validation import clean_contact
    vocab, memo = _vocab(), {}
    for _ in range(3):
        clean, errors = clean_contact(vocab, {"email": "a@example.com", "source": "website"},
                                      creating=False, memo=memo)
        assert [(e.code, e.suggestion) for e in errors] == [("unknown_source", "Website")]
        assert "source" not in clean


def test_single_line_fields_and_multi_line_text_drop_control_characters():
    from gateway.validation import multi_line, single_line
    assert single_line(" Eve\r\nBcc: x@example.com ") == "Eve Bcc: x@example.com"
    assert single_line("a\x00\x1b\x7f\x85\u2028b\ud800") == "a b"
    assert single_line("Zoë 😀 \u200d") == "Zoë 😀 \u200d"  # printable or joiner: kept
    assert multi_line("line 1\r\nline\t2\x00\x07") == "line 1\r\nline\t2"


def test_numbers_are_finite_and_within_two_to_the_53():
    from gateway.validation import convert_value
    for good, expected in (("12,5", 12.5), ("3", 3), (2.0, 2), (-(2**53) + 1, -(2**53) + 1)):
        assert convert_value("n", "number", [], good) == (expected, None)
    for bad in ("NaN", "nan", "inf", "-Infinity", "1e400", float("nan"), float("inf"),
                10**400, 2**53, "9" * 400, True, "²", [1], {"a": 1}):
        value, error = convert_value("n", "number", [], bad)
        assert value is None and error.code in ("number_out_of_range", "invalid_number"), bad
