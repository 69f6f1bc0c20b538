"""Default texts of a form and its mails in nl, fr and en; a form overrides any of them.

Mail bodies are Jinja2 templates an account may edit: they see ``first_name``, ``name``,
``email``, ``form_name`` and ``confirm_url`` (confirmation) or ``unsubscribe_url`` (welcome).
"""

from __future__ import annotations

FALLBACK_LANGUAGE = "en"

DEFAULTS: dict[str, dict[str, str]] = {
    "en": {
        "title": "Subscribe to our newsletter",
        "intro": "",
        "email": "E-mail address",
        "first_name": "First name",
        "name": "Name",
        "language": "Language",
        "preferences": "How often?",
        "interests": "Interests",
        "submit": "Subscribe",
        "consent": "I agree to receive e-mails and know I can unsubscribe at any time.",
        "thanks": "Thank you! Please check your inbox to confirm your subscription.",
        "thanks_confirmed": "Thank you for subscribing!",
        "too_fast": "That was quick! Please press the button once more to subscribe.",
        "invalid": "Please correct the marked fields.",
        "rate_limited": "Too many attempts. Please try again later.",
        "failed": "Something went wrong. Please try again later.",
        "confirmed": "Your subscription is confirmed. Thank you!",
        "already_confirmed": "Your subscription was already confirmed.",
        "link_invalid": "This link is not valid. Please subscribe again.",
        "link_expired": "This link has expired. We can send you a new one.",
        "resend": "Send me a new link",
        "resent": "If your address can still be confirmed, a new mail is on its way.",
        "unsubscribe": "Unsubscribe",
        "unsubscribe_ask": "Do you want to stop receiving our e-mails?",
        "unsubscribed": "You are unsubscribed and will not receive our e-mails any more.",
        "back": "Back to the website",
    },
    "nl": {
        "title": "Schrijf je in op onze nieuwsbrief",
        "intro": "",
        "email": "E-mailadres",
        "first_name": "Voornaam",
        "name": "Naam",
        "language": "Taal",
        "preferences": "Hoe vaak?",
        "interests": "Interesses",
        "submit": "Inschrijven",
        "consent": "Ik wil e-mails ontvangen en weet dat ik me altijd kan uitschrijven.",
        "thanks": "Bedankt! Kijk in je mailbox om je inschrijving te bevestigen.",
        "thanks_confirmed": "Bedankt voor je inschrijving!",
        "too_fast": "Dat ging snel! Druk nog een keer op de knop om je in te schrijven.",
        "invalid": "Verbeter de aangeduide velden.",
        "rate_limited": "Te veel pogingen. Probeer het later opnieuw.",
        "failed": "Er ging iets mis. Probeer het later opnieuw.",
        "confirmed": "Je inschrijving is bevestigd. Bedankt!",
        "already_confirmed": "Je inschrijving was al bevestigd.",
        "link_invalid": "Deze link is niet geldig. Schrijf je opnieuw in.",
        "link_expired": "Deze link is verlopen. We kunnen je een nieuwe sturen.",
        "resend": "Stuur me een nieuwe link",
        "resent": "Als je adres nog bevestigd kan worden, is er een nieuwe mail onderweg.",
        "unsubscribe": "Uitschrijven",
        "unsubscribe_ask": "Wil je onze e-mails niet meer ontvangen?",
        "unsubscribed": "Je bent uitgeschreven en ontvangt onze e-mails niet meer.",
        "back": "Terug naar de website",
    },
    "fr": {
        "title": "Inscrivez-vous à notre newsletter",
        "intro": "",
        "email": "Adresse e-mail",
        "first_name": "Prénom",
        "name": "Nom",
        "language": "Langue",
        "preferences": "À quelle fréquence ?",
        "interests": "Centres d'intérêt",
        "submit": "S'inscrire",
        "consent": "J'accepte de recevoir des e-mails et je sais que je peux me désinscrire "
                   "à tout moment.",
        "thanks": "Merci ! Consultez votre boîte mail pour confirmer votre inscription.",
        "thanks_confirmed": "Merci pour votre inscription !",
        "too_fast": "C'était rapide ! Appuyez encore une fois sur le bouton pour vous inscrire.",
        "invalid": "Veuillez corriger les champs indiqués.",
        "rate_limited": "Trop de tentatives. Réessayez plus tard.",
        "failed": "Une erreur s'est produite. Réessayez plus tard.",
        "confirmed": "Votre inscription est confirmée. Merci !",
        "already_confirmed": "Votre inscription était déjà confirmée.",
        "link_invalid": "Ce lien n'est pas valide. Veuillez vous réinscrire.",
        "link_expired": "Ce lien a expiré. Nous pouvons vous en envoyer un nouveau.",
        "resend": "Envoyez-moi un nouveau lien",
        "resent": "Si votre adresse peut encore être confirmée, un nouvel e-mail est en route.",
        "unsubscribe": "Se désinscrire",
        "unsubscribe_ask": "Vous ne voulez plus recevoir nos e-mails ?",
        "unsubscribed": "Vous êtes désinscrit et ne recevrez plus nos e-mails.",
        "back": "Retour au site",
    },
}

MAIL_DEFAULTS: dict[str, dict[str, dict[str, str]]] = {
    "confirm": {
        "en": {"subject": "Please confirm your subscription",
               "body": "Hello{{ ' ' ~ first_name if first_name else '' }},"
                       "\n\nPlease confirm your subscription to "
                       "{{ form_name }} by opening this link:\n\n{{ confirm_url }}\n\n"
                       "If you did not ask for this, ignore this mail: nothing happens."},
        "nl": {"subject": "Bevestig je inschrijving",
               "body": "Hallo{{ ' ' ~ first_name if first_name else '' }},"
                       "\n\nBevestig je inschrijving op "
                       "{{ form_name }} met deze link:\n\n{{ confirm_url }}\n\n"
                       "Heb je dit niet gevraagd? Negeer deze mail: er gebeurt niets."},
        "fr": {"subject": "Confirmez votre inscription",
               "body": "Bonjour{{ ' ' ~ first_name if first_name else '' }},"
                       "\n\nConfirmez votre inscription à "
                       "{{ form_name }} en ouvrant ce lien :\n\n{{ confirm_url }}\n\n"
                       "Si vous n'avez rien demandé, ignorez cet e-mail : rien ne se passera."},
    },
    "welcome": {
        "en": {"subject": "Welcome!",
               "body": "Hello{{ ' ' ~ first_name if first_name else '' }},"
                       "\n\nWelcome to {{ form_name }}. "
                       "Glad to have you.\n\nUnsubscribe: {{ unsubscribe_url }}"},
        "nl": {"subject": "Welkom!",
               "body": "Hallo{{ ' ' ~ first_name if first_name else '' }},"
                       "\n\nWelkom bij {{ form_name }}. "
                       "Fijn dat je erbij bent.\n\nUitschrijven: {{ unsubscribe_url }}"},
        "fr": {"subject": "Bienvenue !",
               "body": "Bonjour{{ ' ' ~ first_name if first_name else '' }},"
                       "\n\nBienvenue à {{ form_name }}. "
                       "Ravis de vous compter parmi nous.\n\n"
                       "Se désinscrire : {{ unsubscribe_url }}"},
    },
}

TEXT_KEYS = frozenset(DEFAULTS["en"])
MAIL_KINDS = tuple(MAIL_DEFAULTS)


def texts_for(overrides: dict, language: str) -> dict[str, str]:
    """The form's texts in ``language``: its overrides over the defaults (English if none)."""
    base = DEFAULTS.get(language, DEFAULTS[FALLBACK_LANGUAGE])
    return {**DEFAULTS[FALLBACK_LANGUAGE], **base, **(overrides or {}).get(language, {})}


def mail_for(overrides: dict, kind: str, language: str) -> dict[str, str]:
    """The ``subject`` and ``body`` templates of a ``kind`` mail in ``language``."""
    defaults = MAIL_DEFAULTS[kind]
    base = defaults.get(language, defaults[FALLBACK_LANGUAGE])
    return {**base, **(overrides or {}).get(kind, {}).get(language, {})}
