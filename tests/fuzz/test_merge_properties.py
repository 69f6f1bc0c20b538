"""Property tests of the merge rules: any stored contact × any incoming record.

Hypothesis generates stored contacts and incoming records full of the awkward values a real
import carries (blank text, ``.``/``-`` clear markers, duplicate labels, unknown custom fields)
and checks each rule as an invariant, plus idempotence: merging the same record twice changes
nothing the second time.
"""

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gateway.merge import CLEAR, MANDATORY_FIELDS, SCALAR_FIELDS, STATUS_RANK, merge

TYPES = {"city": "text", "size": "number", "topics": "multiple_choice", "vip": "boolean"}
STATUSES = ("unconfirmed", "confirmed", "blacklisted")
LABELS = st.sampled_from(["Weekly", "Monthly", "weekly", "Sports", "Music", " ", ""])
EMPTY = st.sampled_from([None, "", "   ", "\t"])
CLEARS = st.sampled_from([".", "-", " . ", CLEAR])
TEXT = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=12)
SCALAR = st.one_of(EMPTY, CLEARS, TEXT)
# Validation runs before merge, so each custom field carries a value of its own type.
CUSTOM_VALUES = {"city": TEXT, "size": st.integers(-5, 5) | st.floats(-1e6, 1e6),
                 "vip": st.booleans(), "topics": st.lists(st.sampled_from(["a", "b", "c"]),
                                                          max_size=4)}
FAST = settings(max_examples=100, deadline=None,
                suppress_health_check=[HealthCheck.too_slow])


@st.composite
def stored_contacts(draw):
    """A contact as the store holds it (always with language and source)."""
    return {
        "email": "ann@example.com",
        "first_name": draw(st.one_of(st.none(), TEXT.filter(str.strip))),
        "name": draw(st.one_of(st.none(), TEXT.filter(str.strip))),
        "language": draw(st.sampled_from(["nl", "fr", "en"])),
        "source": draw(st.sampled_from(["Website", "Fair"])),
        "status": draw(st.sampled_from(STATUSES)),
        "preferences": draw(st.lists(st.sampled_from(["Weekly", "Monthly"]), unique=True)),
        "interests": draw(st.lists(st.sampled_from(["Sports", "Music"]), unique=True)),
        "custom_fields": {name: draw(CUSTOM_VALUES[name].filter(lambda v: v not in ("", [])))
                          for name in draw(st.sets(st.sampled_from(sorted(TYPES))))},
    }


@st.composite
def incoming_records(draw):
    """An inbound record: any field may be missing, empty, a clear marker or a value."""
    record = {"email": "ann@example.com"}
    for name in SCALAR_FIELDS:
        if draw(st.booleans()):
            record[name] = draw(SCALAR)
    for name in ("preferences", "interests"):
        if draw(st.booleans()):
            record[name] = draw(st.one_of(st.none(), st.lists(st.one_of(LABELS, CLEARS))))
    record["custom_fields"] = {}
    for name in draw(st.sets(st.sampled_from(sorted(TYPES)))):
        record["custom_fields"][name] = draw(st.one_of(EMPTY, CLEARS, CUSTOM_VALUES[name]))
    return record


STATUS_IN = st.one_of(st.none(), st.sampled_from(STATUSES))


def _empty(value) -> bool:
    return value is None or (isinstance(value, str) and not value.strip()) or value == []


def _clear(value) -> bool:
    return value is CLEAR or (isinstance(value, str) and value.strip() in (".", "-"))


@FAST
@given(stored_contacts(), incoming_records(), STATUS_IN)
def test_blacklisted_is_never_changed(stored, incoming, status):
    stored["status"] = "blacklisted"
    result = merge(stored, incoming, TYPES, status)
    assert result.outcome == "blacklisted"
    assert result.values == stored


@FAST
@given(stored_contacts(), incoming_records(), STATUS_IN)
def test_labels_only_grow(stored, incoming, status):
    result = merge(stored, incoming, TYPES, status)
    for name in ("preferences", "interests"):
        assert result.values[name][:len(stored[name])] == stored[name]  # kept, in order
        assert len(set(result.values[name])) == len(result.values[name])  # no duplicates
        assert all(isinstance(v, str) and v.strip() and not _clear(v)
                   for v in result.values[name])


@FAST
@given(stored_contacts(), incoming_records(), STATUS_IN)
def test_status_never_moves_down(stored, incoming, status):
    result = merge(stored, incoming, TYPES, status)
    assert STATUS_RANK[result.values["status"]] >= STATUS_RANK[stored["status"]]
    if stored["status"] == "confirmed":
        assert result.values["status"] != "unconfirmed"


@FAST
@given(stored_contacts(), incoming_records(), STATUS_IN)
def test_empty_never_overwrites_and_clear_clears(stored, incoming, status):
    if stored["status"] == "blacklisted":
        return
    result = merge(stored, incoming, TYPES, status)
    for name in SCALAR_FIELDS:
        value = incoming.get(name)
        if _empty(value):
            assert result.values[name] == stored[name], name
        elif _clear(value):
            expected = stored[name] if name in MANDATORY_FIELDS else None
            assert result.values[name] == expected, name
        else:
            assert result.values[name] == value, name
    assert result.values["language"] and result.values["source"]  # mandatory never lost
    for name, value in incoming["custom_fields"].items():
        got = result.values["custom_fields"].get(name)
        if _clear(value):
            assert name not in result.values["custom_fields"]
        elif _empty(value):
            assert got == stored["custom_fields"].get(name)
        elif TYPES[name] == "multiple_choice":
            assert got == list(dict.fromkeys(value))  # rule 4: replaced entirely
        else:
            assert got == value


@FAST
@given(stored_contacts(), incoming_records(), STATUS_IN)
def test_merging_twice_is_merging_once(stored, incoming, status):
    first = merge(stored, incoming, TYPES, status)
    second = merge(first.values, incoming, TYPES, status)
    assert second.values == first.values
    assert second.outcome in ("unchanged", "blacklisted")


@FAST
@given(stored_contacts(), incoming_records(), STATUS_IN)
def test_outcome_says_whether_anything_changed(stored, incoming, status):
    result = merge(stored, incoming, TYPES, status)
    if result.outcome == "unchanged":
        assert result.values == stored
    elif result.outcome == "updated":
        assert result.values != stored
    assert result.values["email"] == stored["email"]


@FAST
@given(incoming_records(), STATUS_IN)
def test_a_new_contact_holds_no_empties_or_markers(incoming, status):
    result = merge(None, incoming, TYPES, status)
    assert result.outcome == "created"
    assert result.values["status"] == (status or "unconfirmed")
    for name in SCALAR_FIELDS:
        value = result.values[name]
        assert value is None or (not _empty(value) and not _clear(value))
    for value in result.values["custom_fields"].values():
        assert not _empty(value) and not _clear(value)
