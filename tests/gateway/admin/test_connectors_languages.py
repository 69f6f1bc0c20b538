"""Connector pages in Dutch and French (issue #21): a user whose language is nl or fr creates a
hook, edits its mapping with an error, tests it, sees its page with a test delivery, a refusal
and a dead letter replayed; the API answers in the browser's language; and the pages walked
at a laptop's and a phone's width in nl, fr and en, none scrolling sideways."""

from __future__ import annotations

import json
import os
import re
import uuid

import httpx2 as httpx
import pytest

from connectors import signatures
from gateway.admin.user_language import set_language
from gateway.models import User
from tests.gateway.admin.conftest import csrf_of, log_in, shows
from tests.gateway.admin.test_phone import LAPTOP, PHONE, WIDE_SCRIPT
from tests.gateway.admin.test_phone_languages import english_on

# What each step shows, in each language: real sentences of the translation, not just codes.
TEXTS = {
    "fr": {
        "list": ["Connecteurs", "Nouveau webhook", "Connecter Efficy CRM",
                 "Les outils qui envoient des webhooks"],
        "new": ["Nouveau webhook", "Nom du webhook", "Source des nouveaux contacts",
                "Correspondance : d'où vient chaque champ du contact", "Créer le webhook",
                "Avancé : modifier la correspondance en JSON", "toujours cette valeur"],
        "created": ["Le webhook « Zapier » a été créé.", "La clé secrète du webhook.",
                    "Copier la clé secrète", "Tester la correspondance", "Requêtes refusées",
                    "Envoyer une livraison de test", "Signez chaque requête : HMAC-SHA256"],
        "error": ["Le webhook n'a pas été enregistré : corrigez ces champs.",
                  "Champ inconnu « société » : utilisez email, first_name",
                  "Modifier « Zapier »"],
        "saved": ["Le webhook « Zapier » a été enregistré."],
        "preview": ["Résultat prévu", "en échec", "Aperçu"],
        "sent": ["Acceptée (202), en file d'attente.",
                 "Aucun processus d'arrière-plan ne l'a encore traitée"],
        "dead": ["Non distribuées", "Tout renvoyer (1)", "enregistrement 1 : email",
                 "1 tentative", "depuis "],
        "replayed": ["1 livraison est de nouveau en file d'attente.", "renvoyée 1×"],
        "api": ["Le webhook n'est pas valide.", "Champ inconnu « société »",
                "Source inconnue « Salon »"],
    },
    "nl": {
        "list": ["Koppelingen", "Nieuwe webhook", "Efficy CRM koppelen",
                 "Tools die webhooks versturen"],
        "new": ["Nieuwe webhook", "Naam van de webhook", "Bron van nieuwe contacten",
                "Toewijzing: waar elk contactveld vandaan komt", "Webhook aanmaken",
                "Geavanceerd: de toewijzing als JSON bewerken", "altijd deze waarde"],
        "created": ["De webhook 'Zapier' is aangemaakt.", "De geheime sleutel van de webhook.",
                    "Sleutel kopiëren", "De toewijzing testen", "Geweigerde verzoeken",
                    "Een testlevering versturen", "Onderteken elk verzoek: HMAC-SHA256"],
        "error": ["De webhook is niet opgeslagen: verbeter deze velden.",
                  "Onbekend veld 'société': gebruik email, first_name",
                  "Zapier bewerken"],
        "saved": ["De webhook 'Zapier' is opgeslagen."],
        "preview": ["Zou worden", "mislukt", "Voorbeeld tonen"],
        "sent": ["Aanvaard (202), in de wachtrij.",
                 "Nog geen achtergrondproces heeft ze verwerkt"],
        "dead": ["Niet afgeleverd", "Alle opnieuw versturen (1)", "record 1: email",
                 "1 poging", "van "],
        "replayed": ["1 levering staat opnieuw in de wachtrij.", "1× opnieuw verstuurd"],
        "api": ["De webhook is niet geldig.", "Onbekend veld 'société'",
                "Onbekende bron 'Salon'"],
    },
}



def _hook_form(page_html: str, **fields) -> dict:
    """The fields a person submits on the hook editor (the mapping as changed JSON)."""
    return {"csrf_token": csrf_of(page_html), "kind": "generic", "name": "Zapier",
            "auth": "standard-webhooks", "source": "Website", "language": "",
            "contact_status": "confirmed", "form_id": "", "consent_text": "",
            "mapping_original": "", "mapping": json.dumps({"email": "email"}),
            "language_map": "", "enabled": "yes", **fields}


def _signed(client, url: str, secret: str, payload) -> int:
    raw = json.dumps(payload).encode()
    return client.post(url.removeprefix("http://testserver"), content=raw, headers={
        "content-type": "application/json",
        **signatures.headers(secret, f"msg_{uuid.uuid4().hex}", raw)}).status_code


@pytest.mark.parametrize("language", ["fr", "nl"])
def test_a_hook_from_start_to_replay_in_the_users_language(admin_client, admin, tenant,
                                                          run_jobs, language):
    set_language(User.get(User.email == admin.email).id, language)
    said = TEXTS[language]
    r = admin_client.get("/admin/connectors")
    assert f'<html lang="{language}"' in r.text
    shows(r, said["list"])
    new = admin_client.get("/admin/connectors/new?kind=generic")
    shows(new, said["new"])

    r = admin_client.post("/admin/connectors/new", data=_hook_form(new.text))
    assert r.status_code == 200 and "/admin/connectors/" in str(r.url)
    shows(r, said["created"])
    secret = re.search(r'id="hook-secret">(whsec_[^<]+)<', r.text).group(1)
    url = re.search(r'id="hook-url">([^<]+)<', r.text).group(1)
    hook_path = str(r.url.path)

    # The mapping edited with a field the account does not have: 422, said in the language.
    edit = admin_client.get(f"{hook_path}/edit")
    r = admin_client.post(f"{hook_path}/edit", data=_hook_form(
        edit.text, mapping=json.dumps({"email": "email", "société": "company"})))
    assert r.status_code == 422
    shows(r, said["error"])
    r = admin_client.post(f"{hook_path}/edit", data=_hook_form(edit.text))
    shows(r, said["saved"])

    r = admin_client.post(f"{hook_path}/test", data={"csrf_token": csrf_of(r.text),
                                                      "payload": '{"first_name": "Zoë"}'})
    assert r.status_code == 200
    shows(r, said["preview"])
    assert {"fr": 'aria-label="Aperçu du contenu de test"',
            "nl": 'aria-label="Voorbeeld van de testinhoud"'}[language] in r.text

    r = admin_client.post(f"{hook_path}/send-test", data={"csrf_token": csrf_of(r.text)})
    shows(r, said["sent"])

    # A sender's mistakes: a refused request and a record without an address (dead letter).
    assert _signed(admin_client, url, "whsec_" + "A" * 32, {"email": "x@example.com"}) == 401
    assert _signed(admin_client, url, secret, {"first_name": "Zoë"}) == 202
    run_jobs()
    r = admin_client.get(hook_path)
    shows(r, said["dead"])
    r = admin_client.post(f"{hook_path}/dead-letters/replay",
                          data={"csrf_token": csrf_of(r.text)})
    run_jobs()
    shows(r, said["replayed"])


@pytest.mark.parametrize("language", ["fr", "nl"])
def test_the_api_explains_a_bad_hook_in_the_browsers_language(client, tenant, language):
    r = client.post("/api/hooks", headers={**tenant.headers, "accept-language": language},
                    json={"name": "Zapier", "source": "Salon",
                          "mapping": {"email": "email", "société": "company"}})
    assert r.status_code == 422
    error = r.json()["error"]
    assert error["code"] == "validation_failed"  # codes stay English identifiers
    shown = error["message"] + " " + " ".join(d["message"] for d in error["details"])
    for text in TEXTS[language]["api"]:
        assert text in shown, (text, shown)
    english = client.post("/api/hooks", headers=tenant.headers, json={"name": ""})
    assert english.json()["error"]["message"] == "The hook is not valid."


# ---- the pages at two widths, in three languages ------------------------------------------

LOCALES = {"nl": "nl-BE", "fr": "fr-BE", "en": "en-GB"}
# The names of what the walk clicks, in each language.
CLICKS = {
    "en": {"new": "New webhook", "name": "Name of the hook", "create": "Create hook",
           "edit": "Edit hook", "advanced": "Advanced: edit the mapping as JSON",
           "json": "Mapping as JSON", "save": "Save hook", "send": "Send a test delivery",
           "error": "Unknown field 'société'"},
    "nl": {"new": "Nieuwe webhook", "name": "Naam van de webhook", "create": "Webhook aanmaken",
           "edit": "Webhook bewerken", "advanced": "Geavanceerd: de toewijzing als JSON bewerken",
           "json": "Toewijzing als JSON", "save": "Webhook opslaan",
           "send": "Een testlevering versturen", "error": "Onbekend veld 'société'"},
    "fr": {"new": "Nouveau webhook", "name": "Nom du webhook", "create": "Créer le webhook",
           "edit": "Modifier le webhook", "advanced": "Avancé : modifier la correspondance en JSON",
           "json": "Correspondance en JSON", "save": "Enregistrer le webhook",
           "send": "Envoyer une livraison de test", "error": "Champ inconnu « société »"},
}


def login(browser, live_server, admin, language):
    """A browser page of a person whose browser speaks ``language``, logged in."""
    context = browser.new_context(locale=LOCALES[language])
    page = context.new_page()
    page.set_default_timeout(10_000)
    log_in(page, live_server, admin)
    assert page.locator("html").get_attribute("lang") == language
    return page


def shots(page, language: str, name: str) -> None:
    """The page at a laptop's and a phone's width, kept as lang-<language>-<size>-<name>.png;
    at 390 px nothing may stick out sideways."""
    from tests.conftest import ARTIFACTS
    os.makedirs(ARTIFACTS, exist_ok=True)
    for size, label in ((LAPTOP, "laptop"), (PHONE, "phone")):
        page.set_viewport_size(size)
        page.screenshot(path=os.path.join(ARTIFACTS, f"lang-{language}-{label}-{name}.png"),
                        full_page=True)
        if label == "phone":  # what sticks out, when the page scrolls sideways
            wide = page.evaluate("document.documentElement.scrollWidth") > size["width"]
            assert not wide, (name, language, page.evaluate(WIDE_SCRIPT))
    page.set_viewport_size(LAPTOP)
    if language != "en":
        assert english_on(page) == [], name


# French, the longest: English and Dutch walk every page in test_phone.py and
# test_phone_languages.py
@pytest.mark.parametrize("language", ["fr"])
@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_the_connector_pages_at_both_widths(browser, live_server, admin, tenant, run_jobs,
                                            language):
    page = login(browser, live_server, admin, language)
    clicks = CLICKS[language]
    try:
        page.goto(f"{live_server}/admin/connectors")
        page.get_by_role("link", name=clicks["new"]).click()
        page.get_by_role("heading", name=clicks["new"]).wait_for()
        shots(page, language, "hook-new")
        page.get_by_label(clicks["name"]).fill("Formulaire de contact du salon " + "x" * 40)
        page.get_by_role("button", name=clicks["create"]).last.click()
        page.locator("#hook-secret").wait_for()
        secret = page.locator("#hook-secret").inner_text()
        url = page.locator("#hook-url").inner_text().replace("http://testserver", live_server)
        hook_page = page.url
        shots(page, language, "hook-created")

        # A refusal and a dead letter for the hook's page.
        assert httpx.post(url, content=b"email=x", timeout=10, headers={
            "content-type": "application/x-www-form-urlencoded"}).status_code == 415
        raw = json.dumps({"first_name": "Zoë"}).encode()
        assert httpx.post(url, content=raw, timeout=10, headers={
            "content-type": "application/json",
            **signatures.headers(secret, f"msg_{uuid.uuid4().hex}", raw)}).status_code == 202
        run_jobs()

        page.goto(f"{live_server}/admin/connectors")
        shots(page, language, "hooks")
        page.goto(hook_page)
        page.get_by_role("link", name=clicks["edit"]).click()
        page.get_by_text(clicks["advanced"]).click()
        page.get_by_label(clicks["json"]).fill('{"email": "email", "société": "company"}')
        page.get_by_role("button", name=clicks["save"]).last.click()
        page.locator("#error-summary").wait_for()
        assert clicks["error"] in page.locator("main").inner_text()
        shots(page, language, "hook-edit")

        page.goto(hook_page)
        page.get_by_role("button", name=clicks["send"]).click()
        page.locator("#test-outcome").wait_for()
        shots(page, language, "hook")
    finally:
        page.context.close()
