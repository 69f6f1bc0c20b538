"""Dotted paths, constants, value maps and the language map."""

from __future__ import annotations

import pytest

from connectors.mapping import apply, check, resolve
from gateway.errors import ValidationFailed

RECORD = {"data": {"email": "ann@example.com", "names": ["Ann", "Peeters"],
                   "lang": "Dutch", "event": "contact.unsubscribed", "city": "Gent",
                   "age": 42, "tags": ["Sports", "Music"]}}


def test_resolve_walks_objects_and_list_indexes():
    assert resolve(RECORD, "data.email") == "ann@example.com"
    assert resolve(RECORD, "data.names.1") == "Peeters"
    assert resolve(RECORD, "data.names.-1") == "Peeters"
    assert resolve(RECORD, "data.names.5") is None
    assert resolve(RECORD, "data.missing.deeper") is None
    assert resolve(RECORD, "data.email.x") is None


def test_apply_maps_paths_constants_custom_fields_and_languages():
    mapping = {"email": "data.email", "first_name": "data.names.0", "name": "data.names.1",
               "language": "data.lang", "source": {"value": "Zapier"},
               "interests": "data.tags", "custom_fields.city": "data.city",
               "custom_fields.age": "data.age"}
    assert apply(mapping, RECORD, {"dutch": "nl"}) == {
        "email": "ann@example.com", "first_name": "Ann", "name": "Peeters",
        "language": "nl", "source": "Zapier", "interests": ["Sports", "Music"],
        "status": None, "custom_fields": {"city": "Gent", "age": 42}}


def test_status_maps_only_to_blacklisted():
    unsubscribe = {"email": "data.email", "status": {
        "path": "data.event", "map": {"contact.unsubscribed": "blacklisted"}}}
    assert apply(unsubscribe, RECORD)["status"] == "blacklisted"
    assert apply({"email": "data.email", "status": {"value": "confirmed"}},
                 RECORD)["status"] is None


def test_first_non_empty_path_wins():
    rule = {"path": ["data.nothing", "data.email"]}
    assert apply({"email": rule}, RECORD)["email"] == "ann@example.com"


def test_unmapped_languages_pass_through_for_validation_to_judge():
    assert apply({"language": "data.lang"}, RECORD, {"French": "fr"})["language"] == "Dutch"


def test_check_names_every_problem():
    with pytest.raises(ValidationFailed) as exc:
        check({"mail": "data.email", "name": "", "source": {"path": 1},
               "first_name": {"value": "x", "path": "y"}})
    fields = sorted(d["field"] for d in exc.value.details)
    assert fields == ["mapping.email", "mapping.first_name", "mapping.mail", "mapping.name",
                      "mapping.source"]
    with pytest.raises(ValidationFailed):
        check({"email": "e"}, {"Dutch": 1})
    assert check({"email": "e", "custom_fields.city": "c"}, {"Dutch": "nl"})


@pytest.mark.parametrize("step", ["²", "١", "-²", "9" * 5000, "0x1", " 1"])
def test_a_path_step_that_is_not_a_plain_index_finds_nothing(step):
    """``"²".isdigit()`` is true and ``int("²")`` fails: it was a 500 / a dead letter."""
    record = {"items": ["a", "b"]}
    assert resolve(record, f"items.{step}") is None
    assert apply({"email": f"items.{step}"}, record) == {"email": None, "status": None}
