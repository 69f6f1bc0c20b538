"""What an import tells people: the reasons of row errors and their suggested fixes
(errors.csv), and counts written for people ("1 new contact", "1.234 nieuwe contacten").

Texts are catalogue texts (``gateway/locale``), in the task's language: the caller picks it
(``gateway.i18n.pick``: ``?lang``, else the account's report language, else the browser's)
and writes the file within ``with i18n.use(language):``.
"""

from __future__ import annotations

from gateway import i18n
from gateway.i18n import N_, _

# {code: reason}; ``%(value)s`` is the refused value. English keeps the validator's own (more
# detailed) message, stored with the error; other languages read these generic texts.
REASONS = {
    "invalid_email": N_("Not a valid e-mail address"),
    "blacklisted": N_("Blacklisted contact: an import never changes it"),
    "suppressed": N_("Erased at the person's request: this address cannot be added again"),
    "duplicate": N_("Duplicate in the file: only the first row of an address is imported"),
    "invalid_date": N_("Not a valid date"),
    "unknown_language": N_("Unknown language '%(value)s'"),
    "unknown_source": N_("Unknown source '%(value)s'"),
    "unknown_interest": N_("Unknown interest '%(value)s'"),
    "unknown_preference": N_("Unknown preference '%(value)s'"),
    "unknown_choice": N_("Unknown choice '%(value)s'"),
    "unknown_field": N_("Unknown custom field '%(value)s'"),
    "too_long": N_("Value too long"),
    "required": N_("Missing required value"),
    "invalid": N_("Not a valid value"),
    "invalid_number": N_("Not a valid number"),
    "invalid_boolean": N_("Not a valid yes/no value"),
    "number_out_of_range": N_("Number out of range: a number must be finite and between -2^53 "
                              "and 2^53"),
}

FIXES = {
    "use": N_("Use '%(suggestion)s'"),
    "invalid_date": N_("Write the date as 2018-08-25"),
    "unknown_label": N_("Add it in Settings, or choose a fix in the import's review"),
}

# The column headers errors.csv adds; "reason" stays English in every language: tools that
# read the file back look for it.
HEADERS = {"row": N_("row"), "reason": "reason", "fix": N_("suggested fix")}


def reason(code: str, value: str | None, stored: str) -> str:
    """The reason of one error in the task's language (English: the stored message)."""
    text = REASONS.get(code)
    if text is None or i18n.current() == i18n.SOURCE_LANGUAGE:
        return stored
    return _(text) % {"value": value if value is not None else ""}


def fix(code: str, suggestion: str | None) -> str:
    """The suggested fix of one error in the task's language, or "" when we have none."""
    if suggestion and code.startswith("unknown_"):
        return _(FIXES["use"]) % {"suggestion": suggestion}
    if code == "invalid_date":
        return _(FIXES["invalid_date"])
    if code in ("unknown_source", "unknown_interest", "unknown_preference"):
        return _(FIXES["unknown_label"])
    return suggestion or ""


def header(name: str) -> str:
    """The header of an added column ("row", "reason", "fix") in the task's language."""
    return _(HEADERS[name]) if name != "reason" else HEADERS[name]


def count(n: int, text: str) -> str:
    """``text`` (an ``ngettext`` choice holding ``%(num)s``) with ``n`` written for people:
    ``count(n, ngettext("%(num)s row", "%(num)s rows", n))`` → "1.234 rijen"."""
    return text % {"num": i18n.number(n)}
