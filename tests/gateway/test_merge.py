"""The merge rules, one by one (pure: no store needed)."""

from gateway.merge import CLEAR, merge

STORED = {"email": "ann@example.com", "first_name": "Ann", "name": "Peeters",
          "language": "nl", "source": "Website", "status": "confirmed",
          "preferences": ["Weekly"], "interests": ["Sports"],
          "custom_fields": {"city": "Gent", "topics": ["a", "b"]}}
TYPES = {"city": "text", "topics": "multiple_choice"}


def test_new_contact_takes_the_incoming_values_and_status():
    result = merge(None, {"email": "bob@example.com", "first_name": "Bob", "name": "",
                          "language": "fr", "source": "Fair", "preferences": ["Weekly"],
                          "custom_fields": {"city": "Liège"}}, TYPES, "unconfirmed")
    assert result.outcome == "created"
    assert result.values["first_name"] == "Bob"
    assert result.values["name"] is None
    assert result.values["status"] == "unconfirmed"
    assert result.values["custom_fields"] == {"city": "Liège"}


def test_rule1_empty_never_overwrites():
    result = merge(STORED, {"email": STORED["email"], "first_name": "", "name": None,
                            "custom_fields": {"city": "  "}, "preferences": []}, TYPES)
    assert result.outcome == "unchanged"
    assert result.values["first_name"] == "Ann"
    assert result.values["name"] == "Peeters"
    assert result.values["custom_fields"]["city"] == "Gent"


def test_rule2_dot_or_dash_clears_optional_fields():
    result = merge(STORED, {"email": STORED["email"], "first_name": ".", "name": "-",
                            "custom_fields": {"city": CLEAR}}, TYPES)
    assert result.outcome == "updated"
    assert result.values["first_name"] is None
    assert result.values["name"] is None
    assert "city" not in result.values["custom_fields"]


def test_rule2_does_not_clear_mandatory_language_or_source():
    result = merge(STORED, {"email": STORED["email"], "language": ".", "source": "-"}, TYPES)
    assert result.values["language"] == "nl"
    assert result.values["source"] == "Website"


def test_rule3_preferences_and_interests_are_added_never_removed():
    result = merge(STORED, {"email": STORED["email"], "preferences": ["Monthly"],
                            "interests": ["Sports", "Music"]}, TYPES)
    assert result.values["preferences"] == ["Weekly", "Monthly"]
    assert result.values["interests"] == ["Sports", "Music"]
    cleared = merge(STORED, {"email": STORED["email"], "preferences": ["."]}, TYPES)
    assert cleared.values["preferences"] == ["Weekly"]


def test_replace_labels_takes_the_whole_set_as_an_admin_edit_sends_it():
    edited = merge(STORED, {"email": STORED["email"], "preferences": ["Monthly"]}, TYPES,
                   replace_labels=True)
    assert edited.outcome == "updated"
    assert edited.values["preferences"] == ["Monthly"]
    assert edited.values["interests"] == []  # absent: none ticked
    same = merge(STORED, {"email": STORED["email"], "preferences": ["Weekly"],
                          "interests": ["Sports"]}, TYPES, replace_labels=True)
    assert same.outcome == "unchanged"


def test_rule4_multiple_choice_is_replaced_entirely():
    result = merge(STORED, {"email": STORED["email"], "custom_fields": {"topics": ["c"]}}, TYPES)
    assert result.values["custom_fields"]["topics"] == ["c"]
    kept = merge(STORED, {"email": STORED["email"], "custom_fields": {"topics": []}}, TYPES)
    assert kept.values["custom_fields"]["topics"] == ["a", "b"]


def test_rule5_blacklisted_is_never_changed_or_reactivated():
    stored = dict(STORED, status="blacklisted")
    result = merge(stored, {"email": STORED["email"], "first_name": "Eve",
                            "preferences": ["Monthly"]}, TYPES, "confirmed")
    assert result.outcome == "blacklisted"
    assert result.values == stored


def test_rule6_confirmed_never_goes_back_to_unconfirmed():
    result = merge(STORED, {"email": STORED["email"]}, TYPES, "unconfirmed")
    assert result.values["status"] == "confirmed"
    assert result.outcome == "unchanged"
    up = merge(dict(STORED, status="unconfirmed"), {"email": STORED["email"]}, TYPES,
               "confirmed")
    assert up.values["status"] == "confirmed"
    assert up.outcome == "updated"


def test_an_inbound_unsubscribe_may_blacklist():
    result = merge(STORED, {"email": STORED["email"]}, TYPES, "blacklisted")
    assert result.values["status"] == "blacklisted"


def test_values_other_than_plain_text_still_follow_rules_1_and_2():
    result = merge(STORED, {"email": STORED["email"], "first_name": "A", "name": " - ",
                            "language": "  ", "source": "Fair "}, TYPES)
    assert result.outcome == "updated"
    assert result.values["first_name"] == "A"  # one character is a value, not a marker
    assert result.values["name"] is None  # a marker with spaces around still clears
    assert result.values["language"] == "nl"  # blank never overwrites
    assert result.values["source"] == "Fair "


def test_the_same_values_again_change_nothing_and_share_no_list_with_the_stored():
    same = {name: value for name, value in STORED.items() if name != "status"}
    result = merge(STORED, dict(same, interests=None), TYPES, "confirmed")
    assert result.outcome == "unchanged"
    assert result.values == STORED
    result.values["interests"].append("Music")  # a caller changing the result...
    assert STORED["interests"] == ["Sports"]  # ...leaves the stored contact as it was
