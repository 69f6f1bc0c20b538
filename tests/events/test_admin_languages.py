"""Event endpoint pages in Dutch and French (issue #21): a user whose language is nl or fr adds
an endpoint (a bad address first), sends test events, sees their attempts, disables it, and
reads why the sweep disabled it; the pages walked at a laptop's and a phone's width in nl, fr
and en, none scrolling sideways."""

from __future__ import annotations

import re

import pytest

from events.models import EventDelivery, EventEndpoint
from gateway.admin.user_language import set_language
from gateway.models import User
from tests.gateway.admin.conftest import csrf_of, shows
from tests.gateway.admin.test_connectors_languages import login, shots

TEXTS = {
    "fr": {
        "list": ["Points de terminaison d'événements", "Ajouter un point de terminaison",
                 "Événements à envoyer", "Aucun point de terminaison pour l'instant.",
                 "Groupés : jusqu'à 100 événements par POST, dans un tableau JSON",
                 "Inlet envoie par POST des événements signés"],
        "bad": ["url doit commencer par https:// (ou http://) et indiquer un hôte."],
        "added": ["Le point de terminaison a été ajouté.",
                  "La clé secrète de signature de ce point de terminaison.",
                  "Envoyer un événement de test", "Nouvelle clé secrète", "Désactiver",
                  "Aucune pour l'instant : les événements sont envoyés à mesure que les "
                  "contacts changent."],
        "delivered": ["Livré : le point de terminaison a répondu 200", "Tentatives",
                      "livré · 1 tentative", "livrés : 1 · en attente : 0"],
        "refused": ["Non accepté : le point de terminaison a répondu 410",
                    "— a répondu 410", "nouvel essai prévu · 1 tentative · prochain essai"],
        "disabled": ["Le point de terminaison est désactivé.", "Activer", "désactivé"],
        "swept": ["Désactivé le 2026-12-01 : en échec depuis le 2026-11-28 09:00 UTC. Réparez "
                  "le destinataire, activez le point de terminaison et renvoyez ses "
                  "livraisons non distribuées.", "Renvoyer les non distribués (1)"],
        "replayed": ["1 livraison non distribuée est de nouveau en file d'attente."],
        "listed": ["activé", "En échec", "Non distribués"],
    },
    "nl": {
        "list": ["Eindpunten voor gebeurtenissen", "Een eindpunt toevoegen",
                 "Te versturen gebeurtenissen", "Nog geen eindpunten.",
                 "Gebundeld: tot 100 gebeurtenissen per POST, als JSON-lijst",
                 "Inlet stuurt ondertekende gebeurtenissen"],
        "bad": ["url moet met https:// (of http://) beginnen en een host noemen."],
        "added": ["Het eindpunt is toegevoegd.",
                  "De geheime sleutel waarmee dit eindpunt ondertekend wordt.",
                  "Testgebeurtenis versturen", "Nieuwe geheime sleutel", "Uitschakelen",
                  "Nog geen: gebeurtenissen worden verstuurd wanneer contacten veranderen."],
        "delivered": ["Afgeleverd: het eindpunt antwoordde 200", "Pogingen",
                      "afgeleverd · 1 poging", "1 afgeleverd · 0 wachtend"],
        "refused": ["Niet aanvaard: het eindpunt antwoordde 410", "— antwoordde 410",
                    "wordt opnieuw geprobeerd · 1 poging · volgende"],
        "disabled": ["Het eindpunt is uitgeschakeld.", "Inschakelen", "uitgeschakeld"],
        "swept": ["Uitgeschakeld op 2026-12-01: mislukt sinds 2026-11-28 09:00 UTC. Herstel de "
                  "ontvanger, schakel het eindpunt in en verstuur de niet afgeleverde "
                  "leveringen opnieuw.", "Niet afgeleverde opnieuw versturen (1)"],
        "replayed": ["1 niet afgeleverde levering staat opnieuw in de wachtrij."],
        "listed": ["ingeschakeld", "Mislukt", "Niet afgeleverd"],
    },
}



@pytest.mark.parametrize("language", ["fr", "nl"])
def test_an_endpoint_from_start_to_replay_in_the_users_language(admin_client, admin, receiver,
                                                               language):
    set_language(User.get(User.email == admin.email).id, language)
    said = TEXTS[language]
    r = admin_client.get("/admin/event-endpoints")
    assert f'<html lang="{language}"' in r.text
    shows(r, said["list"])
    form = {"csrf_token": csrf_of(r.text), "events": ["contact.created", "contact.deleted"],
            "description": "CRM"}
    r = admin_client.post("/admin/event-endpoints", data=form | {"url": "ftp://example.com"})
    assert r.status_code == 422
    shows(r, said["bad"])

    r = admin_client.post("/admin/event-endpoints", data=form | {"url": receiver.url},
                          follow_redirects=True)
    shows(r, said["added"])
    url = str(r.url)
    r = admin_client.post(f"{url}/test", data={"csrf_token": csrf_of(r.text)})
    shows(r, said["delivered"])
    receiver.answer = (410, {})
    r = admin_client.post(f"{url}/test", data={"csrf_token": csrf_of(r.text)})
    shows(r, said["refused"])
    r = admin_client.post(f"{url}/disable", data={"csrf_token": csrf_of(r.text)},
                          follow_redirects=True)
    shows(r, said["disabled"])

    # What the sweep stores in English when it disables an endpoint reads in the language.
    endpoint_id = int(url.rsplit("/", 1)[1])
    EventEndpoint.update(disabled_reason="disabled on 2026-12-01: failing since "
                                         "2026-11-28 09:00 UTC").execute()
    EventDelivery.update(status="dead").where(
        EventDelivery.id == EventDelivery.select().order_by(EventDelivery.id).first().id
    ).execute()
    r = admin_client.get(url)
    shows(r, said["swept"])
    r = admin_client.post(f"{url}/replay", data={"csrf_token": csrf_of(r.text)},
                          follow_redirects=True)
    shows(r, said["replayed"])
    assert endpoint_id
    r = admin_client.post(f"{url}/enable", data={"csrf_token": csrf_of(r.text)})
    shows(admin_client.get("/admin/event-endpoints"), said["listed"])


@pytest.mark.parametrize("language", ["fr", "nl"])
def test_the_api_explains_a_bad_endpoint_in_the_browsers_language(client, tenant, language):
    r = client.post("/api/event-endpoints", json={"url": "https://crm.example.com/x",
                                                  "events": ["contact.exploded"]},
                    headers={**tenant.headers, "accept-language": language})
    assert r.status_code == 422, r.text
    detail = r.json()["error"]["details"][0]
    assert detail["code"] == "invalid"
    expected = {"fr": "Type d'événement inconnu « contact.exploded » ; types connus :",
                "nl": "Onbekend soort gebeurtenis 'contact.exploded'; bekende soorten:"}
    assert expected[language] in detail["message"]


LABELS = {
    "en": {"add": "Add endpoint", "description": "Description", "test": "Send test event"},
    "nl": {"add": "Eindpunt toevoegen", "description": "Beschrijving",
           "test": "Testgebeurtenis versturen"},
    "fr": {"add": "Ajouter le point de terminaison", "description": "Description",
           "test": "Envoyer un événement de test"},
}


# French, the longest: English and Dutch walk every page in test_phone.py and
# test_phone_languages.py
@pytest.mark.parametrize("language", ["fr"])
@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_the_endpoint_pages_at_both_widths(browser, live_server, admin, receiver, language):
    page = login(browser, live_server, admin, language)
    labels = LABELS[language]
    try:
        page.goto(f"{live_server}/admin/event-endpoints")
        shots(page, language, "endpoints-empty")
        page.get_by_label("URL").fill(receiver.url + "/" + "long-segment/" * 8)
        page.get_by_label(labels["description"]).fill("Le CRM de l'équipe commerciale")
        page.get_by_role("button", name=labels["add"]).click()
        page.locator("#endpoint-secret").wait_for()
        shots(page, language, "endpoint-created")
        page.get_by_role("button", name=labels["test"]).click()
        page.locator("#test-outcome").wait_for()
        receiver.answer = (503, {})
        page.get_by_role("button", name=labels["test"]).click()
        page.locator("#test-outcome.notice-error").wait_for()
        assert re.search(r"\b503\b", page.locator("#test-outcome").inner_text())
        shots(page, language, "endpoint")
        page.goto(f"{live_server}/admin/event-endpoints")
        shots(page, language, "endpoints")
    finally:
        page.context.close()
