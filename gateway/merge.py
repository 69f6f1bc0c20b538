"""The merge rules (README, "Concepts"), in one place: every inbound path calls ``merge``.

1. An empty value never overwrites a stored value.
2. A value of ``.`` or ``-`` clears the field.
3. Preferences and interests are added; existing ones are never removed. (One exception,
   asked for explicitly with ``replace_labels``: a person editing a contact in the admin edits
   the whole set, so an unticked label is removed. No inbound record ever does this.)
4. A ``multiple_choice`` field is replaced entirely by the incoming values.
5. A blacklisted contact is never changed or re-activated.
6. A confirmed contact never goes back to unconfirmed.
"""

from __future__ import annotations

from dataclasses import dataclass, field

CLEAR_MARKERS = frozenset({".", "-"})
SCALAR_FIELDS = ("first_name", "name", "language", "source")
# Mandatory fields can't be cleared: a contact without them would break the merge rules.
MANDATORY_FIELDS = frozenset({"language", "source"})
SET_FIELDS = ("preferences", "interests")
STATUS_RANK = {"unconfirmed": 0, "confirmed": 1, "blacklisted": 2}


class _Clear:
    """Marker for "clear this field" once validation has recognised ``.`` or ``-``."""

    def __repr__(self) -> str:
        return "CLEAR"

    def __reduce__(self) -> str:
        return "CLEAR"  # pickles as a reference to the one marker, so ``is CLEAR`` holds


CLEAR = _Clear()


_COLLECTIONS = (list, tuple, set, dict)


# These two run several times per imported row: exact type checks first keep them cheap.
def is_empty(value) -> bool:
    """Rule 1's notion of empty: nothing, blank text or an empty collection."""
    if value is None:
        return True
    if value.__class__ is str or isinstance(value, str):
        return not value or value.isspace()
    if isinstance(value, _COLLECTIONS):
        return not value
    return False


def is_clear(value) -> bool:
    """Rule 2: ``.`` or ``-`` (or the CLEAR marker) clears."""
    if value is CLEAR:
        return True
    return (value.__class__ is str or isinstance(value, str)) and len(value) < 64 \
        and value.strip() in CLEAR_MARKERS


@dataclass
class MergeResult:
    """What a merge decided: the outcome and the full values to store."""

    outcome: str  # created | updated | unchanged | blacklisted
    values: dict = field(default_factory=dict)

    @property
    def changed(self) -> bool:
        return self.outcome in ("created", "updated")


def merge(stored: dict | None, incoming: dict, field_types: dict[str, str] | None = None,
          status: str | None = None, *, replace_labels: bool = False) -> MergeResult:
    """Merge ``incoming`` (clean values) into ``stored`` (None for a new contact).

    ``replace_labels``: ``incoming`` holds the whole sets of preferences and interests (absent
    means none), as an admin edit sends them; otherwise rule 3 only adds."""
    field_types = field_types or {}
    if stored is None:
        return MergeResult("created", _new_values(incoming, field_types, status))
    if stored.get("status") == "blacklisted":
        return MergeResult("blacklisted", dict(stored))
    values = dict(stored)
    for name in SCALAR_FIELDS:
        value = incoming.get(name)
        if value is not None:  # None: rule 1, decided here (most records leave fields out)
            _merge_scalar(values, name, value)
    for name in SET_FIELDS:
        kept = [] if replace_labels else stored.get(name) or []
        values[name] = _add_labels(kept, incoming.get(name))
    values["custom_fields"] = _merge_custom(stored.get("custom_fields") or {},
                                            incoming.get("custom_fields") or {}, field_types)
    values["status"] = _merge_status(stored.get("status", "unconfirmed"), status)
    outcome = "unchanged" if _same(values, stored) else "updated"
    return MergeResult(outcome, values)


def is_plain(value) -> bool:
    """Text that is surely neither empty nor a clear marker (the common case, decided fast):
    two or more characters without surrounding space."""
    return value.__class__ is str and len(value) > 1 and not value[0].isspace() \
        and not value[-1].isspace()


def _new_values(incoming: dict, field_types: dict[str, str], status: str | None) -> dict:
    values = {"email": incoming["email"]}
    for name in SCALAR_FIELDS:
        value = incoming.get(name)
        if not is_plain(value) and (value is None or is_empty(value) or is_clear(value)):
            value = None
        values[name] = value
    for name in SET_FIELDS:
        labels = incoming.get(name)
        values[name] = _add_labels([], labels) if labels else []
    custom = incoming.get("custom_fields")
    values["custom_fields"] = _merge_custom({}, custom, field_types) if custom else {}
    values["status"] = status or "unconfirmed"
    return values


def _merge_scalar(values: dict, name: str, value) -> None:
    if is_plain(value):
        values[name] = value  # the common case first: plain text
        return
    if is_empty(value):
        return  # rule 1
    if is_clear(value):
        if name not in MANDATORY_FIELDS:
            values[name] = None  # rule 2
        return
    values[name] = value


def _add_labels(stored: list, incoming) -> list:
    """Rule 3: union, stored order first; never removes."""
    result = list(stored)
    if not incoming:
        return result
    for label in incoming:
        if label not in result and (is_plain(label)
                                    or not (is_clear(label) or is_empty(label))):
            result.append(label)
    return result


def _merge_custom(stored: dict, incoming: dict, field_types: dict[str, str]) -> dict:
    result = dict(stored)
    for name, value in incoming.items():
        if is_plain(value) and field_types.get(name) != "multiple_choice":
            result[name] = value  # the common case first: plain text
        elif is_clear(value):
            result.pop(name, None)  # rule 2
        elif is_empty(value):
            continue  # rule 1
        elif field_types.get(name) == "multiple_choice":
            result[name] = list(dict.fromkeys(value))  # rule 4: replaced entirely
        else:
            result[name] = value
    return result


def _merge_status(stored: str, incoming: str | None) -> str:
    """Rule 6 (and 5): status only moves up unconfirmed → confirmed → blacklisted."""
    if incoming is None:
        return stored
    return incoming if STATUS_RANK[incoming] > STATUS_RANK[stored] else stored


_COMPARED = (*SCALAR_FIELDS, *SET_FIELDS, "custom_fields", "status")


def _same(values: dict, stored: dict) -> bool:
    for key in _COMPARED:
        if values.get(key) != stored.get(key):
            return False
    return True
