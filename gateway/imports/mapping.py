"""Column → field mapping: suggested from header synonyms (English, Dutch, French) and the
mapping of the account's last finished import; checked before it is used."""

from __future__ import annotations

import re
import unicodedata

from gateway.db import utcnow
from gateway.errors import ValidationFailed
from gateway.i18n import _
from gateway.imports.models import ImportMappingMemory
from gateway.validation import AccountVocabulary

CORE_FIELDS = ("email", "first_name", "name", "language", "source", "preferences", "interests")

SYNONYMS = {
    "email": ["email", "e-mail", "e_mail", "mail", "email address", "e-mail address",
              "emailadres", "e-mailadres", "mailadres", "courriel", "adresse e-mail",
              "adresse email", "adresse mail", "adresse électronique"],
    "first_name": ["first name", "firstname", "first", "given name", "forename", "voornaam",
                   "prénom", "prenom"],
    "name": ["name", "last name", "lastname", "surname", "family name", "achternaam", "naam",
             "familienaam", "nom", "nom de famille"],
    "language": ["language", "lang", "locale", "taal", "langue", "language code", "taalcode"],
    "source": ["source", "bron", "herkomst", "origine", "provenance"],
    "preferences": ["preferences", "preference", "voorkeuren", "voorkeur", "préférences",
                    "préférence"],
    "interests": ["interests", "interest", "interesses", "interesse", "intérêts", "intérêt",
                  "centres d'intérêt"],
}


def normalise(header: str) -> str:
    """Lower-case, accents and punctuation dropped: ``Prénom`` → ``prenom``."""
    text = unicodedata.normalize("NFKD", header).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]", "", text.lower())


_LOOKUP = {normalise(word): field for field, words in SYNONYMS.items() for word in words}


def fields(vocab: AccountVocabulary) -> list[str]:
    """Every field a column may map to: the core fields and the account's custom fields."""
    return [*CORE_FIELDS, *sorted(vocab.fields)]


def memory(account_id: int) -> ImportMappingMemory | None:
    """What the account's last finished import left: mapping, fallbacks and its origin."""
    return ImportMappingMemory.get_or_none(ImportMappingMemory.account == account_id)


def recall(account_id: int) -> dict[str, str]:
    """The mapping of the account's last finished import ({normalised column: field})."""
    row = memory(account_id)
    return dict(row.mapping) if row else {}


def remember(account_id: int, mapping: dict[str, str | None], fallbacks: dict | None = None,
             origin: dict | None = None) -> None:
    """Keep a finished import's ``mapping`` (per normalised column name), its ``fallbacks``
    and its ``origin`` ({"id", "filename", "finished_at"}) as the account's last ones."""
    keyed = {normalise(col): field for col, field in mapping.items()}
    values = {"mapping": keyed, "fallbacks": {k: v for k, v in (fallbacks or {}).items() if v},
              "origin": origin or {}}
    updated = (ImportMappingMemory.update(**values, updated_at=utcnow())
               .where(ImportMappingMemory.account == account_id).execute())
    if not updated:
        ImportMappingMemory.insert(account=account_id, **values).on_conflict(
            conflict_target=[ImportMappingMemory.account],
            update={getattr(ImportMappingMemory, k): v for k, v in values.items()}).execute()


def suggest(columns: list[str], vocab: AccountVocabulary, remembered: dict[str, str] | None
            ) -> dict[str, str | None]:
    """A field (or None) per column: the remembered mapping first, then synonyms."""
    allowed = set(fields(vocab))
    by_name = {normalise(name): name for name in vocab.fields}
    remembered = remembered or {}
    mapping: dict[str, str | None] = {}
    used: set[str] = set()
    for column in columns:  # first pass: what the account chose last time
        key = normalise(column)
        if key in remembered:
            field = remembered[key]
            field = field if field in allowed and field not in used else None
            mapping[column] = field
            used.add(field) if field else None
    for column in columns:
        if column in mapping:
            continue
        key = normalise(column)
        field = _LOOKUP.get(key) or by_name.get(key)
        mapping[column] = field if field and field not in used else None
        used.add(field) if mapping[column] else None
    return {column: mapping[column] for column in columns}


def check(mapping, columns: list[str], vocab: AccountVocabulary) -> dict[str, str | None]:
    """The mapping for every column (unnamed ones skipped), or 422 naming each problem."""
    if not isinstance(mapping, dict):
        raise ValidationFailed(_("mapping must be an object {column: field or null}."))
    allowed = fields(vocab)
    details, seen = [], {}
    for column, field in mapping.items():
        if column not in columns:
            details.append({"field": column, "code": "unknown_column",
                            "message": _("The file has no column '%(column)s'.")
                            % {"column": column}})
        elif field not in (None, "") and field not in allowed:
            details.append({"field": column, "code": "unknown_field", "value": field,
                            "message": _("'%(field)s' is not a field; use one of %(fields)s "
                                         "or null to skip the column.")
                            % {"field": field, "fields": ", ".join(allowed)}})
        elif field:
            if field in seen:
                details.append({"field": column, "code": "mapped_twice", "value": field,
                                "message": _("Both '%(first)s' and '%(second)s' map to "
                                             "'%(field)s'.")
                                % {"first": seen[field], "second": column, "field": field}})
            seen[field] = column
    if "email" not in seen and not details:
        details.append({"field": "email", "code": "required",
                        "message": _("Map one column to email.")})
    if details:
        raise ValidationFailed(_("The mapping is not valid."), details=details)
    return {column: (mapping.get(column) or None) for column in columns}
