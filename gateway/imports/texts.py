"""What an import tells people, in English, Dutch and French: the reasons of row errors and
their suggested fixes (errors.csv), and counts written for people ("1 new contact")."""

from __future__ import annotations

LANGUAGES = ("en", "nl", "fr")

# {code: {language: reason}}; ``{value}`` is the refused value. English falls back to the
# validator's own (more detailed) message, so only codes with a useful generic text are here.
REASONS = {
    "invalid_email": {"en": "Not a valid e-mail address",
                      "nl": "Geen geldig e-mailadres", "fr": "Adresse e-mail non valide"},
    "blacklisted": {"en": "Blacklisted contact: an import never changes it",
                    "nl": "Contact op de zwarte lijst: een import wijzigt het nooit",
                    "fr": "Contact sur liste noire : un import ne le modifie jamais"},
    "duplicate": {"en": "Duplicate in the file: only the first row of an address is imported",
                  "nl": "Dubbel in het bestand: alleen de eerste rij van een adres wordt "
                        "geïmporteerd",
                  "fr": "Doublon dans le fichier : seule la première ligne d'une adresse est "
                        "importée"},
    "invalid_date": {"en": "Not a valid date", "nl": "Geen geldige datum",
                     "fr": "Date non valide"},
    "unknown_language": {"en": "Unknown language '{value}'", "nl": "Onbekende taal '{value}'",
                         "fr": "Langue inconnue « {value} »"},
    "unknown_source": {"en": "Unknown source '{value}'", "nl": "Onbekende bron '{value}'",
                       "fr": "Source inconnue « {value} »"},
    "unknown_interest": {"en": "Unknown interest '{value}'",
                         "nl": "Onbekende interesse '{value}'",
                         "fr": "Intérêt inconnu « {value} »"},
    "unknown_preference": {"en": "Unknown preference '{value}'",
                           "nl": "Onbekende voorkeur '{value}'",
                           "fr": "Préférence inconnue « {value} »"},
    "unknown_choice": {"en": "Unknown choice '{value}'", "nl": "Onbekende keuze '{value}'",
                       "fr": "Choix inconnu « {value} »"},
    "too_long": {"en": "Value too long", "nl": "Waarde te lang", "fr": "Valeur trop longue"},
    "required": {"en": "Missing required value", "nl": "Verplichte waarde ontbreekt",
                 "fr": "Valeur obligatoire manquante"},
    "invalid_number": {"en": "Not a valid number", "nl": "Geen geldig getal",
                       "fr": "Nombre non valide"},
    "invalid_boolean": {"en": "Not a valid yes/no value", "nl": "Geen geldige ja/nee-waarde",
                        "fr": "Valeur oui/non non valide"},
}

FIXES = {
    "use": {"en": "Use '{suggestion}'", "nl": "Gebruik '{suggestion}'",
            "fr": "Utilisez « {suggestion} »"},
    "invalid_date": {"en": "Write the date as 2018-08-25", "nl": "Schrijf de datum als "
                     "2018-08-25", "fr": "Écrivez la date sous la forme 2018-08-25"},
    "unknown_label": {"en": "Add it in Settings, or choose a fix in the import's review",
                      "nl": "Voeg het toe bij Instellingen, of kies een oplossing in het "
                            "importoverzicht",
                      "fr": "Ajoutez-le dans les Paramètres, ou choisissez une correction "
                            "dans la revue de l'import"},
}

HEADERS = {"row": {"en": "row", "nl": "rij", "fr": "ligne"},
           "reason": {"en": "reason", "nl": "reason", "fr": "reason"},  # kept for tools
           "fix": {"en": "suggested fix", "nl": "voorgestelde oplossing",
                   "fr": "correction suggérée"}}


def pick_language(*candidates: str | None) -> str:
    """The first candidate we have texts for (``nl-BE`` counts as ``nl``), else English."""
    for candidate in candidates:
        code = (candidate or "").strip().lower()[:2]
        if code in LANGUAGES:
            return code
    return "en"


def from_accept_language(header: str | None) -> str | None:
    """The first language of an Accept-Language header we have texts for, or None."""
    for part in (header or "").split(","):
        code = part.split(";")[0].strip().lower()[:2]
        if code in LANGUAGES:
            return code
    return None


def reason(code: str, value: str, stored: str, language: str) -> str:
    """The reason of one error in ``language`` (the stored English text when untranslated)."""
    texts = REASONS.get(code)
    if language == "en" or not texts:
        return stored
    return texts[language].format(value=value)


def fix(code: str, suggestion: str | None, language: str) -> str:
    """The suggested fix of one error in ``language``, or "" when we have none."""
    if suggestion and code.startswith("unknown_"):
        return FIXES["use"][language].format(suggestion=suggestion)
    if code == "invalid_date":
        return FIXES["invalid_date"][language]
    if code in ("unknown_source", "unknown_interest", "unknown_preference"):
        return FIXES["unknown_label"][language]
    return suggestion or ""


def number(n: int) -> str:
    """A count with thousands separators: 40000 → "40,000"."""
    return f"{n:,}"


def count(n: int, singular: str, plural: str | None = None) -> str:
    """"1 new contact", "2 new contacts", "40,000 rows"."""
    return f"{number(n)} {singular if n == 1 else (plural or singular + 's')}"
