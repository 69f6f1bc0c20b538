"""The import wizard and the opt-in forms in the user's own language (issue #21): a French
and a Dutch user walk an import end to end (upload, mapping, review with its fixes, report)
and the forms list, editor and detail; then the same walk in chromium in nl, fr and en on a
laptop and a phone, where nothing may scroll sideways."""

import html
import os
import re

import pytest

from gateway.accounts import add_custom_field
from gateway.admin.user_language import set_language
from gateway.imports.models import Import
from gateway.models import Contact, User
from tests.conftest import ARTIFACTS
from tests.gateway.admin.conftest import csrf_of
from tests.gateway.admin.test_phone import LAPTOP, PHONE, WIDE_SCRIPT

# An unknown source (Beurs), one differing only by case (website), a bad date, no language.
CSV = ("E-mail;Voornaam;Taal;Bron;Geboortedatum\r\n"
       "ann@example.com;Ann;nl;Website;1990-02-03\r\n"
       "bob@example.com;Bob;fr;Beurs;1985-03-04\r\n"
       "carl@example.com;Carl;en;website;2001-05-06\r\n"
       "dan@example.com;Dan;;Website;\r\n"
       "eve@example.com;Eve;fr;Website;31/12/1999\r\n")

# Whole phrases of the English pages: none may be left on a translated page.
ENGLISH = ["Upload a file", "Before you start", "Map the columns", "can be imported",
           "Values this account does not know yet", "What to do", "Decide later",
           "Fallback values", "Finalise import", "Errors by reason", "Download the rows",
           "Cancel this import", "Check the file", "Skip this column", "(suggested)",
           "New contacts", "Failed rows by reason", "See the contacts", "Opt-in forms",
           "New form", "Source given to new contacts", "Languages and texts", "Save form",
           "Create form", "Put it on your site", "Preview", "Edit form", "Behaviour",
           "Embedding", "Texts in", "Fixes applied", "rows", "Step"]

WORDS = {
    "fr": {
        "new": ["Téléverser un fichier", "Avant de commencer : les règles du fichier",
                "Consentement", "Envoyer un e-mail de bienvenue à chaque nouveau contact"],
        "mapping": ["Associer les colonnes de people.csv", "5 lignes, séparées par <code>;</code>",
                    "Adresse e-mail (suggéré)", "Ignorer cette colonne",
                    "geboortedatum (champ personnalisé)", "Vérifier le fichier"],
        "review": ["people.csv : 2 lignes sur 5 peuvent être importées",
                   "Valeurs que ce compte ne connaît pas encore", "Source <code>Beurs</code>",
                   "Créer la source « Beurs »", "Utiliser « Website »",
                   "Décider plus tard (la ligne est écartée)", "Erreurs par motif",
                   "Finaliser l'import", "Télécharger les lignes en erreur (errors.csv)"],
        "fixed": ["people.csv : 4 lignes sur 5 peuvent être importées",
                  "Corrections appliquées", "Source <code>Beurs</code> : créée",
                  "Source <code>website</code> : utilise « Website »",
                  "Langue des lignes qui n'en ont pas (1)",
                  "Certains nouveaux contacts n'ont pas de langue."],
        "report": ["Rapport de people.csv", "Nouveaux contacts", "Lignes en échec par motif",
                   "Importer un autre fichier"],
        "list": ["Étape", "Terminé"],
        "forms": ["Formulaires d'inscription", "Nouveau formulaire",
                  "Aucun formulaire pour l'instant."],
        "editor": ["Source donnée aux nouveaux contacts", "Langues et textes", "Titre (fr)",
                   "Objet de l'e-mail de confirmation (fr)", "Comportement",
                   "Préférences proposées dans ce formulaire", "Créer le formulaire"],
        "refused": ["n'est pas une origine comme https://www.example.com",
                    "Un nombre de secondes de 0 à 60."],
        "detail": ["Placez-le sur votre site", "Code iframe", "Modifier le formulaire",
                   "double opt-in <strong>activé</strong>",
                   "Le formulaire « Lettre » a été créé."],
    },
    "nl": {
        "new": ["Een bestand uploaden", "Voor je begint: de regels voor het bestand",
                "Toestemming", "Stuur elk nieuw contact een welkomstmail"],
        "mapping": ["Wijs de kolommen van people.csv toe",
                    "5 rijen, gescheiden door <code>;</code>",
                    "E-mailadres (voorgesteld)", "Deze kolom overslaan",
                    "geboortedatum (eigen veld)", "Bestand controleren"],
        "review": ["people.csv: 2 van de 5 rijen kunnen geïmporteerd worden",
                   "Waarden die dit account nog niet kent", "Bron <code>Beurs</code>",
                   "Bron ‘Beurs’ aanmaken", "Gebruik ‘Website’",
                   "Later beslissen (de rij wordt weggelaten)", "Fouten per reden",
                   "Import afronden", "Download de rijen met fouten (errors.csv)"],
        "fixed": ["people.csv: 4 van de 5 rijen kunnen geïmporteerd worden",
                  "Toegepaste oplossingen", "Bron <code>Beurs</code>: aangemaakt",
                  "Bron <code>website</code>: gebruikt ‘Website’",
                  "Taal voor rijen zonder taal (1)", "Sommige nieuwe contacten hebben geen taal."],
        "report": ["Rapport van people.csv", "Nieuwe contacten", "Mislukte rijen per reden",
                   "Nog een bestand importeren"],
        "list": ["Stap", "Afgerond"],
        "forms": ["Opt-in-formulieren", "Nieuw formulier", "Nog geen formulieren."],
        "editor": ["Bron voor nieuwe contacten", "Talen en teksten", "Titel (nl)",
                   "Onderwerp van de bevestigingsmail (nl)", "Gedrag",
                   "Voorkeuren op dit formulier", "Formulier aanmaken"],
        "refused": ["is geen origin zoals https://www.example.com",
                    "Een aantal seconden van 0 tot 60."],
        "detail": ["Zet het op je site", "iframe-code", "Formulier bewerken",
                   "dubbele opt-in <strong>aan</strong>",
                   "Het formulier 'Lettre' is aangemaakt."],
    },
}


def _says(page: str, language: str, step: str) -> None:
    """The page holds the step's texts of ``language`` and none of the English phrases."""
    page = html.unescape(page)
    missing = [w for w in WORDS[language][step] if w not in page]
    assert not missing, f"{step}: {missing}"
    text = re.sub(r"<[^>]+>", " ", re.sub(r"<(script|style|code|textarea)\b.*?</\1>", "", page,
                                           flags=re.S))
    english = [w for w in ENGLISH if re.search(rf"\b{re.escape(w)}", text)]
    assert not english, f"{step}: English left: {english}"


def _speaks(admin, language: str) -> None:
    set_language(User.get(User.email == admin.email).id, language)


@pytest.fixture
def birthday(tenant):
    add_custom_field(tenant.id, {"name": "geboortedatum", "label": "Geboortedatum",
                                 "type": "date"})


@pytest.mark.parametrize("language", ["fr", "nl"])
def test_the_import_wizard_in_the_users_language(admin_client, admin, tenant, birthday,
                                                 run_jobs, language):
    _speaks(admin, language)
    client = admin_client
    page = client.get("/admin/imports/new").text
    _says(page, language, "new")
    r = client.post("/admin/imports/new", data={"csrf_token": csrf_of(page), "consent": "yes"},
                    files={"file": ("people.csv", CSV.encode(), "text/csv")},
                    follow_redirects=False)
    assert r.status_code == 303
    imp = Import.get()
    page = client.get(f"/admin/imports/{imp.id}").text
    _says(page, language, "mapping")
    mapping = {f"map-{i}": field for i, field in enumerate(
        ["email", "first_name", "language", "source", "geboortedatum"])}
    r = client.post(f"/admin/imports/{imp.id}/mapping",
                    data={"csrf_token": csrf_of(page), **mapping})
    assert {"fr": "Vérification de chaque ligne de people.csv",
            "nl": "Elke rij van people.csv wordt gecontroleerd"}[language] in r.text
    run_jobs()

    page = client.get(f"/admin/imports/{imp.id}").text
    _says(page, language, "review")
    unknown = re.findall(r'name="fix-(\d+)-value" value="([^"]+)"', page)
    assert sorted(value for _i, value in unknown) == ["Beurs", "website"]
    answers = {}
    for i, value in unknown:
        answers[f"fix-{i}-kind"] = "source"
        answers[f"fix-{i}-value"] = value
        answers[f"fix-{i}-action"] = "create" if value == "Beurs" else "map"
        answers[f"fix-{i}-to"] = "Website"
    r = client.post(f"/admin/imports/{imp.id}/fixes",
                    data={"csrf_token": csrf_of(page), **answers}, follow_redirects=False)
    assert r.status_code == 303
    run_jobs()
    page = client.get(f"/admin/imports/{imp.id}").text
    _says(page, language, "fixed")

    # Finalising without the fallback asked for: the reason in the user's language.
    r = client.post(f"/admin/imports/{imp.id}/finalise", data={"csrf_token": csrf_of(page)})
    assert r.status_code == 422
    assert {"fr": "Choisissez une langue par défaut pour les lignes qui n'en ont pas.",
            "nl": "Kies een standaardtaal voor de rijen zonder taal."}[language] in \
        html.unescape(r.text)
    r = client.post(f"/admin/imports/{imp.id}/finalise",
                    data={"csrf_token": csrf_of(page), "language": language},
                    follow_redirects=False)
    assert r.status_code == 303
    run_jobs()
    assert Contact.select().count() == 4
    page = client.get(f"/admin/imports/{imp.id}").text
    _says(page, language, "report")
    page = client.get("/admin/imports").text
    _says(page, language, "list")


@pytest.mark.parametrize("language", ["fr", "nl"])
def test_the_forms_in_the_users_language(admin_client, admin, tenant, language):
    _speaks(admin, language)
    client = admin_client
    page = client.get("/admin/forms").text
    _says(page, language, "forms")
    page = client.get("/admin/forms/new").text
    _says(page, language, "editor")
    data = {"csrf_token": csrf_of(page), "name": "Lettre", "source": "Website",
            "languages": ["nl", "fr", "en"], "default_language": language,
            "fields": ["first_name"], "double_opt_in": "yes", "min_fill_seconds": "99",
            "allowed_origins": "https://www.example.com/path"}
    r = client.post("/admin/forms/new", data=data)
    assert r.status_code == 422
    _says(r.text, language, "refused")
    data.update(min_fill_seconds="2", allowed_origins="https://www.example.com")
    r = client.post("/admin/forms/new", data=data)
    assert r.status_code == 200 and "/admin/forms/" in str(r.url)
    _says(r.text, language, "detail")
    r = client.get(f"{r.url}/edit")
    assert {"fr": "Modifier « Lettre »", "nl": "Lettre bewerken"}[language] in r.text
    assert {"fr": "Enregistrer le formulaire", "nl": "Formulier opslaan"}[language] in r.text


# ---- in chromium: nl, fr and en on a laptop and a phone -----------------------------------

SIZES = (("laptop", LAPTOP), ("phone", PHONE))
NAMES = {"en": {"upload": "Upload", "check": "Check the file",
                "apply": "Apply and check the rows again",
                "finalise": "Finalise import", "language": "Language for rows without one (1)",
                "create": "Create form"},
         "nl": {"upload": "Uploaden", "check": "Bestand controleren",
                "apply": "Toepassen en de rijen opnieuw controleren",
                "finalise": "Import afronden", "language": "Taal voor rijen zonder taal (1)",
                "create": "Formulier aanmaken"},
         "fr": {"upload": "Téléverser", "check": "Vérifier le fichier",
                "apply": "Appliquer et revérifier les lignes",
                "finalise": "Finaliser l'import",
                "language": "Langue des lignes qui n'en ont pas (1)",
                "create": "Créer le formulaire"}}


def _fits(page, language: str, size: str, width: int, step: str, request) -> None:
    """A screenshot of the step, and (on the phone) nothing wider than the screen."""
    page.wait_for_load_state()
    os.makedirs(ARTIFACTS, exist_ok=True)
    page.screenshot(path=os.path.join(ARTIFACTS, f"lang-{language}-{size}-{step}.png"),
                    full_page=True)
    if width <= 400:  # (a wide table may scroll inside its own box: the page may not)
        assert page.evaluate("document.documentElement.scrollWidth") <= width, \
            (step, page.evaluate(WIDE_SCRIPT))


# French, the longest: English and Dutch walk every page in test_phone.py and
# test_phone_languages.py
@pytest.mark.parametrize("language", ["fr"])
@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_the_wizard_and_forms_fit_in_every_language(admin_page, admin, tenant, birthday,
                                                    run_jobs, tmp_path, request, language):
    page = admin_page
    _speaks(admin, language)
    names = NAMES[language]
    for size, viewport in SIZES:
        width = viewport["width"]
        page.set_viewport_size(viewport)
        source = tmp_path / f"people-{size}.csv"
        unknown = {"laptop": "Beurs", "phone": "Salon"}[size]  # new in each round
        source.write_text(CSV.replace("@example.com", f"@{size}.example.com")
                          .replace("Beurs", unknown), encoding="utf-8")
        page.goto(f"{page.base}/admin/imports/new")
        assert page.locator("html").get_attribute("lang") == language
        page.locator("#file").set_input_files(str(source))
        page.locator("#consent").check()
        _fits(page, language, size, width, "import-upload", request)
        page.get_by_role("button", name=names["upload"], exact=True).click()
        page.locator("#map-0").wait_for()
        _fits(page, language, size, width, "import-mapping", request)
        page.get_by_role("button", name=names["check"]).click()
        page.locator("#progress").wait_for()
        _fits(page, language, size, width, "import-progress", request)
        run_jobs()
        page.locator("#h-unknown").wait_for()
        _fits(page, language, size, width, "import-review", request)
        beurs = page.locator("table.fixes tr", has=page.locator("code", has_text=unknown))
        beurs.locator("input[value=create]").check()
        page.get_by_role("button", name=names["apply"]).click()
        page.locator("#progress").wait_for()
        run_jobs()
        page.locator("#h-fixed").wait_for()
        page.get_by_label(names["language"]).select_option(language)
        _fits(page, language, size, width, "import-fixed", request)
        page.get_by_role("button", name=names["finalise"]).click()
        page.locator("#progress").wait_for()
        run_jobs()
        page.wait_for_url("**/admin/contacts")
        page.goto(f"{page.base}/admin/imports")
        _fits(page, language, size, width, "import-list", request)
        page.locator("tbody tr th a").first.click()
        page.locator("dl.fields").wait_for()
        _fits(page, language, size, width, "import-report", request)

        page.goto(f"{page.base}/admin/forms/new")
        for section in page.locator("details[data-section]").all():
            section.evaluate("el => el.open = true")
        page.locator("#name").fill(f"Nieuwsbrief {size}")
        page.locator("#source").select_option("Website")
        _fits(page, language, size, width, "form-editor", request)
        page.get_by_role("button", name=names["create"]).first.click()
        page.locator("#h-embed").wait_for()
        _fits(page, language, size, width, "form-detail", request)
        page.goto(f"{page.base}/admin/forms")
        _fits(page, language, size, width, "form-list", request)
