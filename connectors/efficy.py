"""Efficy Enterprise payloads: which records are contacts and how their fields map.

Efficy posts ``{"database", "version", "records": [{"table": 11000, "key": 123,
"operation": "Create|Update|Delete", "user", "subject", "fields": {...}, "date"}]}``.
Table 11000 holds contacts; on ``Update`` the ``fields`` hold only the changed values.
"""

from __future__ import annotations

from dataclasses import dataclass

from gateway.errors import BadRequest
from gateway.i18n import N_, _

CONTACT_TABLE = 11000
OPERATIONS = ("Create", "Update", "Delete")

# Efficy's contact columns (EMAIL1 is the main address; some set-ups post EMAIL).
DEFAULT_MAPPING = {
    "email": {"path": ["fields.EMAIL1", "fields.EMAIL"]},
    "first_name": "fields.FIRSTNAME",
    "name": "fields.NAME",
    "language": "fields.LANGUAGE",
}
# Efficy stores the language as a one-letter code, an ISO code or a word, per set-up.
DEFAULT_LANGUAGE_MAP = {
    "N": "nl", "NL": "nl", "NED": "nl", "Dutch": "nl", "Nederlands": "nl",
    "F": "fr", "FR": "fr", "FRA": "fr", "French": "fr", "Français": "fr", "Frans": "fr",
    "E": "en", "EN": "en", "ENG": "en", "English": "en", "Engels": "en",
    "D": "de", "DE": "de", "German": "de", "Deutsch": "de", "Duits": "de",
}


@dataclass
class EfficyRecord:
    """One contact operation out of an Efficy payload."""

    key: str
    operation: str
    record: dict


def split(payload) -> tuple[list[EfficyRecord], int]:
    """The contact records of a payload and how many other-table records were skipped."""
    if not isinstance(payload, dict) or not isinstance(payload.get("records"), list):
        raise BadRequest(N_("An Efficy payload is an object with a records list."))
    found, skipped = [], 0
    for index, record in enumerate(payload["records"]):
        if not isinstance(record, dict):
            raise BadRequest(_("records[%(index)s] is not an object.") % {"index": index})
        if str(record.get("table")) != str(CONTACT_TABLE):
            skipped += 1
            continue
        operation = str(record.get("operation", "")).capitalize()
        if operation not in OPERATIONS or record.get("key") in (None, ""):
            raise BadRequest(_("records[%(index)s] needs a key and an operation "
                               "(Create, Update or Delete).") % {"index": index})
        found.append(EfficyRecord(str(record["key"]), operation, record))
    return found, skipped


def mapping_for(custom: dict | None) -> dict:
    """The default mapping with a hook's overrides on top."""
    return {**DEFAULT_MAPPING, **(custom or {})}


def language_map_for(custom: dict | None) -> dict:
    """The default language map with a hook's overrides on top."""
    return {**DEFAULT_LANGUAGE_MAP, **(custom or {})}
