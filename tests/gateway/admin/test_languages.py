"""The core admin pages in the user's language (issue #21): the choice made in Settings, else
the browser's, else the account's first language; numbers written the way each language
writes them; and the longer Dutch and French texts still fit a phone."""

from __future__ import annotations

import os
from datetime import datetime, timedelta

import pytest

from gateway import contacts, i18n
from gateway.accounts import add_vocabulary, create_account
from gateway.admin.dates import created_label
from gateway.admin.user_language import set_language
from gateway.admin.wording import about
from gateway.auth import create_user
from gateway.contacts import Provenance
from gateway.db import utcnow
from gateway.models import Contact, User
from tests.conftest import ARTIFACTS
from tests.gateway.admin.conftest import PASSWORD, login_client
from tests.gateway.admin.test_phone import LAPTOP, PHONE, WIDE_SCRIPT, long_data
from tests.gateway.admin.test_phone_languages import english_on

NNBSP = "\u202f"  # what French puts between thousands


def log_in(page, base: str, email: str, password: str = PASSWORD) -> None:
    """Log in through the form, whatever language it speaks."""
    page.goto(f"{base}/admin/login")
    page.locator("input[name=email]").fill(email)
    page.locator("input[name=password]").fill(password)
    page.locator("main form button[type=submit]").click()
    page.wait_for_url("**/admin/contacts")


def lang_of(page) -> str:
    return page.locator("html").get_attribute("lang")


def a_contact(account_id: int, email: str = "ann@example.com") -> Contact:
    return contacts.create(account_id, {
        "email": email, "first_name": "Ann", "name": "Peeters", "language": "nl",
        "source": "Website", "status": "confirmed"},
        Provenance(channel="admin", reference="user:1", actor="boss@acme.example.com"))


# ---- the words and numbers themselves -------------------------------------------------------

def test_counts_and_estimates_in_each_language():
    with i18n.use("nl"):
        assert i18n.number(1234) == "1.234"
        assert about(1_234_567, True) == "ongeveer 1,2 miljoen"
        assert about(56_789, True) == "ongeveer 57.000"
        assert about(3, True, floor=10_000) == "meer dan 10.000"
    with i18n.use("fr"):
        assert i18n.number(1234) == f"1{NNBSP}234"
        assert about(1_234_567, True) == "environ 1,2 million"
        assert about(2_500_000, True) == "environ 2,5 millions"
        assert about(56_789, True) == f"environ 57{NNBSP}000"
        assert about(3, True, floor=10_000) == f"plus de 10{NNBSP}000"
    assert about(1_234_567, True) == "about 1.2 million" and i18n.number(1234) == "1,234"


def test_just_now_and_today_in_each_language():
    now, earlier = datetime(2026, 11, 25, 15, 0), datetime(2026, 11, 25, 9, 0)
    with i18n.use("fr"):
        assert (created_label(now, now), created_label(earlier, now)) == \
            ("À l'instant", "Aujourd'hui")
        assert created_label(earlier - timedelta(days=1), now) == "24 nov. 2026"
    with i18n.use("nl"):
        assert created_label(earlier - timedelta(days=1), now) == "24 nov 2026"
    with i18n.use("nl"):
        assert (created_label(now, now), created_label(earlier, now)) == ("Zonet", "Vandaag")
    assert (created_label(now, now), created_label(earlier, now)) == ("Just now", "Today")


# ---- the language: the user's, the browser's, the account's ---------------------------------

@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_a_user_who_picks_french_sees_the_admin_in_french(page, live_server, admin, tenant):
    contact = a_contact(tenant.id)
    page.set_default_timeout(10_000)
    log_in(page, live_server, admin.email)
    assert lang_of(page) == "en"  # the browser's (Playwright's en-US)

    page.goto(f"{live_server}/admin/settings")
    page.locator("#user-language").select_option("fr")
    page.locator("form:has(#user-language) button[type=submit]").click()
    page.wait_for_url("**/admin/settings")
    assert lang_of(page) == "fr"
    assert "L'administration parle désormais votre langue." in \
        page.get_by_role("status").first.inner_text()
    assert User.get(User.email == admin.email).language == "fr"
    settings = page.locator("main").inner_text()
    for text in ("Paramètres", "Expéditeur, rapports et site web", "Champs personnalisés",
                 "Fuseau horaire", "Durée de conservation des données",
                 "Fermer toutes mes sessions"):
        assert text in settings, text
    assert page.locator("#user-language").input_value() == "fr"

    base = live_server + "/admin"
    expected = {
        "/contacts": ("Tous les contacts", "Ajouter des contacts", "Confirmés", "À l'instant"),
        f"/contacts/{contact.id}": ("Prénom", "Historique", "créé via l'administration",
                                    "Mettre sur liste noire", "Télécharger toutes les données"),
        f"/contacts/{contact.id}/edit": ("Modifier ann@example.com",
                                         "Enregistrer les modifications", "(obligatoire)"),
        "/contacts/new": ("Ajouter un contact", "Adresse e-mail",
                          "Je confirme que les données de ce contact"),
        "/contacts/add": ("Ajouter des contacts", "Autres possibilités"),
        "/api": ("Se connecter via l'API", "Créer un jeton d'API", "Identifiant de compte :"),
        "/no-such-page": ("Introuvable", "Cette page n'existe pas"),
    }
    for path, texts in expected.items():
        page.goto(base + path)
        assert lang_of(page) == "fr", path
        shown = page.locator("body").inner_text()
        for text in texts:
            assert text in shown, (path, text)
        assert page.get_by_role("link", name="Paramètres").count() == 1

    # Logged out, the login page keeps the user's language (not the English browser's).
    page.locator("form.logout button").click()
    page.wait_for_url("**/admin/login")
    assert lang_of(page) == "fr"
    assert page.get_by_role("heading", name="Se connecter à Inlet").is_visible()
    assert page.get_by_label("Mot de passe").is_visible()

    # "The browser's" again: English, as the browser asks.
    log_in(page, live_server, admin.email)
    assert lang_of(page) == "fr"
    page.goto(f"{live_server}/admin/settings")
    page.locator("#user-language").select_option("")
    page.locator("form:has(#user-language) button[type=submit]").click()
    page.wait_for_url("**/admin/settings")
    assert lang_of(page) == "en" and page.get_by_role("heading", name="Settings").is_visible()
    assert User.get(User.email == admin.email).language is None


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_without_a_choice_the_browser_language_counts(browser, live_server, admin, tenant,
                                                      request):
    a_contact(tenant.id)
    context = browser.new_context(locale="nl-BE")
    page = context.new_page()
    page.set_default_timeout(10_000)
    try:
        page.goto(f"{live_server}/admin/login")
        assert lang_of(page) == "nl"
        assert page.get_by_role("heading", name="Aanmelden bij Inlet").is_visible()
        log_in(page, live_server, admin.email)
        assert lang_of(page) == "nl"
        shown = page.locator("body").inner_text()
        for text in ("Alle contacten", "Contacten toevoegen", "Bevestigd", "Zonet",
                     "Instellingen", "Afmelden"):
            assert text in shown, text
        page.goto(f"{live_server}/admin/settings")
        assert page.locator("#user-language").input_value() == ""  # nothing chosen
        assert "Jouw taal" in page.locator("main").inner_text()
        page.screenshot(path=os.path.join(ARTIFACTS, "lang-nl-browser-settings.png"))
    finally:
        context.close()
    assert User.get(User.email == admin.email).language is None


def test_a_browser_we_have_no_texts_for_gets_the_accounts_first_language(client, store):
    account = create_account("Lux SA", languages=("fr", "en"))
    user = create_user(account.id, "chef@lux.example.com", PASSWORD)
    client.headers["Accept-Language"] = "de-DE,de;q=0.9"
    page = client.get("/admin/login").text
    assert '<html lang="en"' in page  # nobody known yet: the source language
    assert login_client(client, user.email, PASSWORD).status_code == 303
    page = client.get("/admin/contacts").text
    assert '<html lang="fr"' in page
    assert "Tous les contacts" in page and "Aucun contact pour l'instant." in page
    page = client.get("/admin/settings").text
    assert "Paramètres" in page and "Nouvelle source" in page and "Fuseau horaire" in page
    assert '<option value="fr" lang="fr" selected>' not in page  # followed, not chosen


@pytest.mark.parametrize("language, total, position", [
    ("nl", "1.234", "1–50 van 1.234"),
    ("fr", f"1{NNBSP}234", f"1–50 sur 1{NNBSP}234"),
    ("en", "1,234", "1–50 of 1,234"),
])
def test_counts_follow_the_language(admin_client, admin, tenant, language, total, position):
    now = utcnow()
    Contact.insert_many([{"account": tenant.id, "email": f"c{i}@x.example.com",
                          "language": "nl", "source": "Website", "status": "confirmed",
                          "created_at": now, "updated_at": now} for i in range(1234)]).execute()
    set_language(User.get(User.email == admin.email).id, language)
    page = admin_client.get("/admin/contacts").text
    assert f'<html lang="{language}"' in page
    assert f'<span class="count">{total}</span>' in page
    assert position in page
    # the removal page of a source counts its contacts the same way
    source = add_vocabulary(tenant.id, "source", "Beurs")
    Contact.update(source="Beurs").execute()
    page = admin_client.get(f"/admin/settings/sources/{source.id}/delete").text
    assert f"<strong>{total} " in page


# ---- every core page at two sizes, in each language -----------------------------------------

def core_urls(ids: dict) -> list[tuple[str, str]]:
    contact = ids["contact_id"]
    removal = ids["by_route"]
    return [("contacts", "/admin/contacts"), ("contact", f"/admin/contacts/{contact}"),
            ("contact_edit", f"/admin/contacts/{contact}/edit"),
            ("add_contacts", "/admin/contacts/add"), ("add_one", "/admin/contacts/new"),
            ("erase", f"/admin/contacts/{contact}/erase"), ("settings", "/admin/settings"),
            ("source_removal",
             f"/admin/settings/sources/{removal['entry_delete']['entry_id']}/delete"),
            ("field_removal",
             f"/admin/settings/custom-fields/{removal['field_delete']['entry_id']}/delete"),
            ("api", "/admin/api"), ("not_found", "/admin/no-such-page"),
            ("contacts_search", f"/admin/contacts?q={'q' * 120}&tab=blacklisted")]


def shot(page, name: str) -> None:
    os.makedirs(ARTIFACTS, exist_ok=True)
    page.screenshot(path=os.path.join(ARTIFACTS, f"{name}.png"), full_page=True)


# Dutch: every page, in test_phone_languages.py (French, the longest, walks here too)
@pytest.mark.parametrize("language", ["fr", "en"])
@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_the_core_pages_fit_a_phone_and_a_laptop_in_each_language(
        browser, live_server, admin, tenant, run_jobs, language):
    ids = long_data(tenant.id, run_jobs)
    set_language(User.get(User.email == admin.email).id, language)
    context = browser.new_context(locale=language)
    page = context.new_page()
    page.set_default_timeout(10_000)
    wide, english, wrong_language = {}, {}, []
    try:
        for size, label in ((PHONE, "phone"), (LAPTOP, "laptop")):
            page.set_viewport_size(size)
            page.goto(f"{live_server}/admin/login")
            shot(page, f"lang-{language}-{label}-login")
            if page.evaluate("document.documentElement.scrollWidth") > size["width"]:
                wide[f"login {label}"] = page.evaluate(WIDE_SCRIPT)
        log_in(page, live_server, admin.email)
        for name, path in core_urls(ids):
            for size, label in ((PHONE, "phone"), (LAPTOP, "laptop")):
                page.set_viewport_size(size)
                page.goto(live_server + path)
                if lang_of(page) != language:
                    wrong_language.append(name)
                shot(page, f"lang-{language}-{label}-{name}")
                if page.evaluate("document.documentElement.scrollWidth") > size["width"]:
                    wide[f"{name} {label}"] = page.evaluate(WIDE_SCRIPT)
            if language != "en":
                found = [t for t in english_on(page) if not t.startswith("Europe/")]
                if found:
                    english[name] = found
    finally:
        context.close()
    assert wrong_language == []
    assert wide == {}
    assert english == {}
