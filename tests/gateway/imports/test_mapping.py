"""Suggested mapping from header synonyms (EN, NL, FR) and the account's remembered one."""

import pytest

from gateway.errors import ValidationFailed
from gateway.imports import mapping
from gateway.validation import AccountVocabulary

VOCAB = AccountVocabulary(fields={"birthday": ("date", []), "city": ("text", [])})


@pytest.mark.parametrize("columns,expected", [
    (["Email", "First name", "Last name", "Language", "Source"],
     ["email", "first_name", "name", "language", "source"]),
    (["E-mailadres", "Voornaam", "Achternaam", "Taal", "Bron", "Interesses"],
     ["email", "first_name", "name", "language", "source", "interests"]),
    (["Courriel", "Prénom", "Nom", "Langue", "Origine", "Préférences"],
     ["email", "first_name", "name", "language", "source", "preferences"]),
    (["e_mail", "BIRTHDAY", "City", "Notes"], ["email", "birthday", "city", None]),
])
def test_synonyms_in_three_languages_and_custom_field_names(columns, expected):
    assert mapping.suggest(columns, VOCAB, None) == dict(zip(columns, expected, strict=True))


def test_a_field_is_suggested_for_one_column_only():
    assert mapping.suggest(["email", "E-mail"], VOCAB, None) == {"email": "email",
                                                                "E-mail": None}


def test_remembered_mapping_comes_first(store, tenant):
    mapping.remember(tenant.id, {"Naam": "first_name", "Mail": "email", "Notes": None})
    assert mapping.recall(tenant.id) == {"naam": "first_name", "mail": "email",
                                         "notes": None}
    suggested = mapping.suggest(["mail", "NAAM", "notes", "Achternaam"], VOCAB,
                                mapping.recall(tenant.id))
    assert suggested == {"mail": "email", "NAAM": "first_name", "notes": None,
                         "Achternaam": "name"}
    mapping.remember(tenant.id, {"Naam": "name"})  # the last one wins
    assert mapping.recall(tenant.id) == {"naam": "name"}


def test_check_names_every_problem():
    with pytest.raises(ValidationFailed) as exc:
        mapping.check({"email": "email", "Nom": "name", "X": "name", "Zip": "zipcode",
                       "Ghost": "city"}, ["email", "Nom", "X", "Zip"], VOCAB)
    codes = {d["field"]: d["code"] for d in exc.value.details}
    assert codes == {"X": "mapped_twice", "Zip": "unknown_field", "Ghost": "unknown_column"}


def test_check_requires_an_email_column_and_fills_skipped_columns():
    with pytest.raises(ValidationFailed) as exc:
        mapping.check({"A": "name"}, ["A", "B"], VOCAB)
    assert exc.value.details[0]["field"] == "email"
    assert mapping.check({"B": "email", "A": ""}, ["A", "B", "C"], VOCAB) == {
        "A": None, "B": "email", "C": None}
