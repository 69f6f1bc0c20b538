"""The field-by-field mapping editor of a generic hook: rows ⇄ a ``connectors.mapping`` dict.

Each contact field is one row: taken from a path in the body, always one value, or not
mapped. Rules the rows cannot show (several paths, a value map) stay as they are and are
edited in the raw JSON, which remains as an advanced option: when the JSON box was changed,
it wins over the rows.
"""

from __future__ import annotations

import json

from starlette.datastructures import FormData

from connectors import mapping
from gateway import web
from gateway.errors import InletError
from gateway.i18n import N_, _

LABELS = {"email": N_("E-mail address"), "first_name": N_("First name"), "name": N_("Name"),
          "language": N_("Language"), "source": N_("Source"), "preferences": N_("Preferences"),
          "interests": N_("Interests"), "status": N_("Unsubscribe (status)")}
MODES = ("path", "value", "none", "advanced")


class BadJson(Exception):
    """A JSON textarea that does not parse; ``field`` names it."""

    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field = field


def parse_json(form: FormData, name: str, default):
    """The JSON value of a textarea (``default`` when empty), or BadJson."""
    raw = str(form.get(name) or "").strip()
    if not raw:
        return default
    try:
        return web.parse_json(raw)
    except InletError as exc:
        raise BadJson(name, _(exc.message)) from None


def _label(target: str) -> str:
    if target.startswith(mapping.CUSTOM_PREFIX):
        return target.removeprefix(mapping.CUSTOM_PREFIX)
    return _(LABELS[target]) if target in LABELS else target


def _mode(rule) -> tuple[str, str]:
    """(mode, text in the value box) of one rule."""
    if rule is None:
        return "none", ""
    if isinstance(rule, str):
        return "path", rule
    if isinstance(rule, dict) and set(rule) == {"value"} and isinstance(
            rule["value"], str | int | float):
        return "value", str(rule["value"])
    if isinstance(rule, dict) and set(rule) == {"path"} and isinstance(rule["path"], str):
        return "path", rule["path"]
    return "advanced", ""


def rows(rules: dict, custom_fields, record=None) -> list[dict]:
    """One row per contact field (and per other target the mapping has), with a preview.

    ``record``: the body the preview reads (the last delivery's first record, or a sample).
    """
    targets = list(mapping.FLAT_FIELDS)
    targets += [mapping.CUSTOM_PREFIX + name for name in custom_fields]
    targets += [t for t in rules if t not in targets]
    out = []
    for index, target in enumerate(targets):
        rule = rules.get(target)
        mode, text = _mode(rule)
        preview = None
        if rule is not None and record is not None:
            try:
                preview = mapping.evaluate(rule, record)
            except (KeyError, TypeError, AttributeError):
                preview = None
        out.append({"index": index, "target": target, "label": _label(target), "mode": mode,
                    "text": text, "rule": json.dumps(rule, ensure_ascii=False),
                    "preview": _shown(preview)})
    return out


def _shown(value) -> str:
    if value is None or value == "" or value == []:
        return ""
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False)


def from_form(form: FormData) -> dict:
    """The mapping a submitted editor describes: the JSON box if it was changed, else rows."""
    original = str(form.get("mapping_original") or "")
    raw = str(form.get("mapping") or "")
    if raw.strip() and _normal(raw) != _normal(original):
        return parse_json(form, "mapping", {})
    rules: dict = {}
    for target in form.getlist("rule_target"):
        mode = form.get(f"rule_mode-{target}")
        text = str(form.get(f"rule_text-{target}") or "").strip()
        if mode == "path" and text:
            rules[target] = text
        elif mode == "value" and text:
            rules[target] = {"value": text}
        elif mode == "advanced":
            try:
                rules[target] = json.loads(str(form.get(f"rule_json-{target}") or "null"))
            except ValueError:
                raise BadJson("mapping", _("The rule of %(field)s is not valid JSON.")
                              % {"field": target}) from None
    return {t: r for t, r in rules.items() if r is not None}


def _normal(text: str):
    try:
        return json.loads(text or "{}")
    except ValueError:
        return text


def first_record(payload):
    """The record of a payload the preview shows (the first of a batch)."""
    if isinstance(payload, list):
        return payload[0] if payload and isinstance(payload[0], dict) else None
    return payload if isinstance(payload, dict) else None
