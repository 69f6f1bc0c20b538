"""Field mappings: dotted paths into a JSON record → contact fields, constants, value maps.

A mapping is a JSON object ``{target: rule}``. Targets are ``email``, ``first_name``,
``name``, ``language``, ``source``, ``preferences``, ``interests``, ``status`` and
``custom_fields.<name>``. A rule is one of:

* ``"data.email"`` — a dotted path (list items by index: ``"emails.0.value"``);
* ``{"path": "data.email"}`` or ``{"path": ["EMAIL1", "EMAIL"]}`` — the first non-empty;
* ``{"value": "Zapier"}`` — a constant;
* any of these with ``"map": {"unsubscribed": "blacklisted"}`` translating values.

Without a mapping, a generic hook takes a flat body: ``flat(custom_field_names)`` maps each
field from the key of its own name (``{"email": …, "first_name": …, "company": …}``), the
shape Zapier, Make and n8n send.

``status`` only ever maps to ``blacklisted`` (for unsubscribe events); whether a contact is
confirmed comes from the hook. ``language`` values also go through the hook's language map
(``{"Dutch": "nl"}``, matched exactly, then case-insensitively).
"""

from __future__ import annotations

import re

from gateway.errors import ValidationFailed
from gateway.i18n import _
from gateway.merge import is_empty

SCALAR_TARGETS = ("email", "first_name", "name", "language", "source", "status")
LIST_TARGETS = ("preferences", "interests")
CUSTOM_PREFIX = "custom_fields."
FLAT_FIELDS = ("email", "first_name", "name", "language", "source", "preferences", "interests")
_MISSING = object()
# A list index: ASCII digits only ("²".isdigit() is true, int("²") fails), and short enough
# that int() is cheap and never over Python's digit limit.
_INDEX = re.compile(r"-?[0-9]{1,18}")


def resolve(record, path: str):
    """The value at a dotted ``path`` in ``record`` (None when any step is missing)."""
    value = record
    for step in path.split("."):
        if isinstance(value, dict):
            value = value.get(step, _MISSING)
        elif isinstance(value, list) and _INDEX.fullmatch(step):
            index = int(step)
            value = value[index] if -len(value) <= index < len(value) else _MISSING
        else:
            return None
        if value is _MISSING:
            return None
    return value


def flat(custom_fields=()) -> dict:
    """The default mapping of a generic hook: every field from the key of its own name."""
    rules = {name: name for name in FLAT_FIELDS}
    rules.update({CUSTOM_PREFIX + name: name for name in custom_fields})
    return rules


def _lookup(table: dict, value):
    """``table[value]``, exactly or case-insensitively; ``_MISSING`` when absent."""
    if not isinstance(value, str | int | float | bool):
        return _MISSING
    key = str(value)
    if key in table:
        return table[key]
    folded = key.strip().casefold()
    for name, mapped in table.items():
        if name.casefold() == folded:
            return mapped
    return _MISSING


def evaluate(rule, record):
    """The value one mapping rule takes from ``record``."""
    if isinstance(rule, str):
        return resolve(record, rule)
    if "value" in rule:
        value = rule["value"]
    else:
        paths = rule["path"] if isinstance(rule["path"], list) else [rule["path"]]
        value = None
        for path in paths:
            value = resolve(record, path)
            if not is_empty(value):
                break
    if "map" in rule and not is_empty(value):
        mapped = _lookup(rule["map"], value)
        value = value if mapped is _MISSING else mapped
    return value


def apply(mapping: dict, record, language_map: dict | None = None) -> dict:
    """Contact data (the shape ``clean_contact`` takes) for one record, plus ``status``."""
    data: dict = {}
    custom: dict = {}
    for target, rule in mapping.items():
        value = evaluate(rule, record)
        if target.startswith(CUSTOM_PREFIX):
            if not is_empty(value):  # an absent value says nothing, even of a removed field
                custom[target.removeprefix(CUSTOM_PREFIX)] = value
        else:
            data[target] = value
    if language_map and not is_empty(data.get("language")):
        mapped = _lookup(language_map, data["language"])
        if mapped is not _MISSING:
            data["language"] = mapped
    status = data.pop("status", None)
    data["status"] = "blacklisted" if str(status or "").strip() == "blacklisted" else None
    for name in SCALAR_TARGETS[:-1]:
        if isinstance(data.get(name), int | float) and not isinstance(data[name], bool):
            data[name] = str(data[name])
    if custom:
        data["custom_fields"] = custom
    return data


def check(mapping, language_map=None, *, required_email: bool = True) -> dict:
    """Validate a mapping (and language map) as given by a client; 422 naming each problem."""
    details = []
    if not isinstance(mapping, dict):
        raise ValidationFailed(_("mapping must be an object {field: rule}."),
                               details=[{"field": "mapping", "code": "invalid"}])
    for target, rule in mapping.items():
        problem = _target_problem(target) or _rule_problem(rule)
        if problem:
            details.append({"field": f"mapping.{target}", "code": "invalid",
                            "message": problem})
    if required_email and "email" not in mapping:
        details.append({"field": "mapping.email", "code": "required",
                        "message": _("Map the e-mail address, e.g. %(example)s.")
                        % {"example": '{"email": "data.email"}'}})
    if language_map is not None and not (
            isinstance(language_map, dict)
            and all(isinstance(v, str) for v in language_map.values())):
        details.append({"field": "language_map", "code": "invalid",
                        "message": _("language_map is an object {value: language code}.")})
    if details:
        raise ValidationFailed(_("The mapping is not valid."), details=details)
    return mapping


def _target_problem(target) -> str | None:
    if target in SCALAR_TARGETS or target in LIST_TARGETS:
        return None
    if isinstance(target, str) and target.startswith(CUSTOM_PREFIX) and len(target) > 14:
        return None
    return _("Unknown field '%(field)s': use %(targets)s or %(custom)s.") % {
        "field": target, "targets": ", ".join(SCALAR_TARGETS[:-1] + LIST_TARGETS
                                                   + SCALAR_TARGETS[-1:]),
        "custom": CUSTOM_PREFIX + "<name>"}


def _rule_problem(rule) -> str | None:
    if isinstance(rule, str):
        return None if rule.strip() else _("A path may not be empty.")
    if not isinstance(rule, dict) or ("path" in rule) == ("value" in rule):
        return _("A rule is a path, %(path)s or %(value)s.") % {
            "path": '{"path": ...}', "value": '{"value": ...}'}
    if "path" in rule:
        paths = rule["path"] if isinstance(rule["path"], list) else [rule["path"]]
        if not paths or not all(isinstance(p, str) and p.strip() for p in paths):
            return _("path is a dotted path or a list of them.")
    if "map" in rule and not isinstance(rule["map"], dict):
        return _("map is an object {incoming value: stored value}.")
    unknown = set(rule) - {"path", "value", "map"}
    return _("Unknown keys %(keys)s.") % {"keys": sorted(unknown)} if unknown else None
