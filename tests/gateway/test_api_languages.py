"""What the API, errors.csv, the import report mail and the CLI say, in Dutch and French
(issue #21): the client's Accept-Language, the recipient's language, the shell's."""

import csv
import io

import pytest
from click.testing import CliRunner

from gateway import i18n
from gateway.clitools import environment_language
from gateway.models import Account, User
from tests.gateway.imports.conftest import Importer, csv_bytes

ANN = {"email": "ann@example.com", "language": "nl", "source": "Website"}


@pytest.fixture
def importer(client, tenant, run_jobs) -> Importer:
    return Importer(client, tenant, run_jobs)


def post_contact(client, tenant, language: str | None, **fields):
    headers = dict(tenant.headers)
    if language:
        headers["Accept-Language"] = language
    return client.post("/api/contacts", json=ANN | fields, headers=headers)


@pytest.mark.parametrize(("language", "message", "detail"), [
    ("fr-BE,fr;q=0.9,en;q=0.5", "Certains champs ne sont pas valides.",
     "Source inconnue « website ». Vouliez-vous dire « Website » ?"),
    ("nl-BE", "Sommige velden zijn niet geldig.",
     "Onbekende bron 'website'. Bedoel je 'Website'?"),
    (None, "Some fields are not valid.", "Unknown source 'website'. Did you mean 'Website'?"),
])
def test_validation_errors_in_the_clients_language_with_stable_codes(client, tenant, language,
                                                                     message, detail):
    r = post_contact(client, tenant, language, source="website")
    assert r.status_code == 422
    error = r.json()["error"]
    assert error["code"] == "validation_failed" and error["message"] == message
    [source] = error["details"]
    assert source["code"] == "unknown_source" and source["suggestion"] == "Website"
    assert source["message"] == detail


def test_raised_messages_and_class_defaults_are_translated(client, tenant):
    fr = {**tenant.headers, "Accept-Language": "fr"}
    r = client.get("/api/contacts/999999", headers=fr)
    assert r.status_code == 404
    assert r.json()["error"] == {"code": "not_found", "message": "Ce contact n'existe pas.",
                                 "details": []}
    r = client.get("/api/contacts", headers={"Accept-Language": "nl"})
    assert r.status_code == 401 and r.json()["error"]["code"] == "unauthorized"
    assert r.json()["error"]["message"] == "Aanmelden is vereist."
    r = client.get("/api/contacts?sort=name", headers=fr)
    assert r.json()["error"]["message"] == "sort doit valoir -created_at ou created_at."
    r = client.post("/api/sources", json={"name": "Website"},
                    headers={**tenant.headers, "Accept-Language": "nl"})
    assert r.status_code == 409 and r.json()["error"]["code"] == "conflict"
    assert r.json()["error"]["message"] == "De bron 'Website' bestaat al."
    r = client.post("/api/contacts", content=b"{nope", headers={
        **fr, "content-type": "application/json"})
    assert r.json()["error"]["code"] == "malformed_json"
    assert r.json()["error"]["message"].startswith("JSON non valide (ligne 1, colonne 2) : ")


def test_the_language_is_per_request(client, tenant):
    assert post_contact(client, tenant, "fr", source="x").json()["error"]["message"] == \
        "Certains champs ne sont pas valides."
    assert post_contact(client, tenant, None, source="x").json()["error"]["message"] == \
        "Some fields are not valid."


@pytest.mark.parametrize("header", [
    "x" * 10_000,
    "fr;q=nan, nl;q=nan",
    ",".join(["de-DE;q=0.9", "zz;q=abc", ";;;", "fr;q=", "nl;q=-1"] * 500)[:10_000],
    "".join(chr(c) for c in range(1, 128) if chr(c) not in "\r\n") * 40,
])
def test_a_hostile_accept_language_gets_english(client, tenant, header):
    r = post_contact(client, tenant, header, source="website")
    assert r.status_code == 422
    assert r.json()["error"]["message"] == "Some fields are not valid."
    assert r.json()["error"]["details"][0]["message"].startswith("Unknown source 'website'.")


ROWS = [["email", "language", "source", "interests"],
        ["ann@example.com", "nl", "Website", "Sports"],
        ["not-an-address", "nl", "Website", ""],
        ["bob@example.com", "xx", "website", "Knitting"],
        ["ann@example.com", "fr", "Fair", ""],
        ["cy@example.com", "nl", "", ""]]
ENGLISH = ("Unknown", "Not a valid", "Duplicate", "Did you mean", "Use '", "required",
           "Missing", "This is not", "Add it in Settings", "only that row")


def test_errors_csv_in_french_has_no_english_reasons(importer):
    imp = importer.validate(csv_bytes(ROWS))
    r = importer.client.get(f"/api/imports/{imp['id']}/errors.csv",
                            headers={**importer.tenant.headers, "Accept-Language": "fr-BE"})
    rows = list(csv.reader(io.StringIO(r.content.decode("utf-8-sig"))))
    assert rows[0][-3:] == ["ligne", "reason", "correction suggérée"]  # "reason": for tools
    assert len(rows) == 4
    text = "\n".join(" ".join(row[-2:]) for row in rows[1:])
    assert not [word for word in ENGLISH if word in text], text
    by_email = {row[0]: row for row in rows[1:]}
    assert by_email["bob@example.com"][-2] == ("language: Langue inconnue « xx » | source: "
                                               "Source inconnue « website » | interests: "
                                               "Centre d'intérêt inconnu « Knitting »")
    assert "source: Utilisez « Website »" in by_email["bob@example.com"][-1]
    # the stored reasons stay English: errors.csv in English still has the detailed ones
    english = importer.errors_csv(imp["id"])
    assert "Unknown source 'website'. Did you mean 'Website'?" in english
    assert "only that row is imported" in english


def test_the_accounts_report_language_and_lang_choose_the_file_language(importer):
    imp = importer.validate(csv_bytes(ROWS))
    Account.update(report_language="nl").where(Account.id == importer.tenant.id).execute()
    url = f"/api/imports/{imp['id']}/errors.csv"
    english_browser = {**importer.tenant.headers, "Accept-Language": "en"}
    dutch = importer.client.get(url, headers=english_browser).content.decode("utf-8-sig")
    assert dutch.splitlines()[0].endswith(",rij,reason,voorgestelde oplossing")
    french = importer.client.get(url + "?lang=fr", headers=english_browser)
    assert "Adresse e-mail non valide" in french.content.decode("utf-8-sig")


def big_file(n: int) -> bytes:
    return csv_bytes([["email", "language", "source"],
                      *[[f"p{i}@example.com", "nl", "Website"] for i in range(n)],
                      ["broken", "nl", "Website"]])


def test_the_report_mail_in_the_recipients_own_language_french(importer, mailbox):
    from gateway.auth import create_user
    create_user(importer.tenant.id, "marie@acme.example", "long enough")
    User.update(language="fr").where(User.email == "marie@acme.example").execute()
    Account.update(report_language="nl").where(Account.id == importer.tenant.id).execute()
    imp = importer.run(big_file(1234), notify="marie@acme.example", name="leads.csv")
    importer.run_jobs()
    [mail] = mailbox.to("marie@acme.example")
    thousands = "1\u202f234"
    # (a long RFC 2047 subject is folded before its first word: the parser keeps a space)
    assert mail["Subject"].strip() == f"Import leads.csv : {thousands} nouveaux contacts ajoutés"
    text = mail.get_body(("plain",)).get_content()
    assert f"Votre import de leads.csv dans Acme est terminé : {thousands} nouveaux " \
           "contacts ajoutés." in text
    assert "Lignes du fichier : 1\u202f235" in text and "Échec :           1 ligne" in text
    assert "  - adresse e-mail non valide : 1 ligne" in text
    assert "Téléchargez les lignes en échec" in text
    assert f"/admin/imports/{imp['id']}/errors.csv" in text
    html = mail.get_body(("html",)).get_content()
    assert "Votre import de <strong>leads.csv</strong> dans Acme est terminé : " \
           f"<strong>{thousands} nouveaux contacts ajoutés</strong>." in html
    assert f'<a href="http://testserver/admin/imports/{imp["id"]}/errors.csv">' \
           "Téléchargez les lignes en échec</a>, chacune avec la raison" in html
    assert "<td>Échec</td><td>1 ligne</td>" in html
    assert 'lang="fr"' in html
    for english in ("Your import", "Rows in the file", "Download", "new contact", "Failed"):
        assert english not in text and english not in html


def test_the_report_mail_in_the_accounts_report_language_dutch(importer, mailbox):
    Account.update(report_language="nl").where(Account.id == importer.tenant.id).execute()
    importer.run(big_file(1234), notify="boss@example.com", name="leads.csv")
    importer.run_jobs()
    [mail] = mailbox.to("boss@example.com")
    assert mail["Subject"] == "Import leads.csv: 1.234 nieuwe contacten toegevoegd"
    text = mail.get_body(("plain",)).get_content()
    assert "Je import van leads.csv in Acme is klaar: 1.234 nieuwe contacten toegevoegd." \
        in text
    assert "Rijen in het bestand: 1.235" in text and "Mislukt:          1 rij" in text
    assert "ongeldig e-mailadres: 1 rij" in text and "Download de mislukte rijen" in text
    html = mail.get_body(("html",)).get_content()
    assert "<strong>1.234 nieuwe contacten toegevoegd</strong>" in html
    assert "<td>Aangemaakt</td><td>1.234</td>" in html
    assert "Download de mislukte rijen</a>, elk met de reden" in html
    for english in ("Your import", "Rows in the file", "new contact", "Failed"):
        assert english not in text and english not in html


def test_the_report_language_falls_back_to_the_starters_then_the_accounts(store):
    from gateway.accounts import create_account
    from gateway.auth import create_user
    from gateway.imports.models import Import
    from gateway.imports.report import report_language

    def started(account_id, notify=None, language=None):
        return Import(account=account_id, notify_email=notify, language=language)

    account = create_account("Brasserie", languages=("fr", "nl", "en"))
    create_user(account.id, "jan@brasserie.example", "long enough")
    assert report_language(started(account.id, "jan@brasserie.example")) == "fr"  # first
    assert report_language(started(account.id)) == "fr"
    Account.update(report_language="nl").where(Account.id == account.id).execute()
    assert report_language(started(account.id, "Jan@Brasserie.example")) == "nl"
    # whoever started it read the admin in English: the report follows them
    assert report_language(started(account.id, "jan@brasserie.example", "en")) == "en"
    User.update(language="fr").where(User.email == "jan@brasserie.example").execute()
    assert report_language(started(account.id, "jan@brasserie.example", "en")) == "fr"
    assert report_language(started(account.id, "someone@else.example")) == "nl"
    other = create_account("Biergarten", languages=("de",))
    assert report_language(started(other.id)) == "en"


def test_an_import_remembers_the_language_it_was_started_in(store):
    import io

    from gateway import i18n
    from gateway.accounts import create_account
    from gateway.imports import service
    account = create_account("Brasserie", languages=("fr", "nl", "en"))
    body = io.BytesIO(b"email\nann@example.com\n")
    with i18n.use("nl"):
        assert service.create_from_upload(account.id, "a.csv", body, consent=True
                                          ).language == "nl"
    body.seek(0)
    assert service.create_from_upload(account.id, "b.csv", body, consent=True
                                      ).language is None  # nobody's: the account decides


def test_stored_warnings_are_shown_in_the_readers_language():
    from gateway.imports import report
    stored = report.FAILED_WRITING % {"row": 12, "tries": 3}
    with i18n.use("nl"):
        assert report.stored_warning(stored).startswith(
            "Het wegschrijven van de contacten vanaf rij 12 is 3 keer")
        assert "vóór rij 12 zijn weggeschreven" in report.stored_warning(stored)
        assert report.stored_warning("Something else.") == "Something else."
    assert report.stored_warning(stored) == stored


@pytest.mark.parametrize(("environ", "language"), [
    ({"LANG": "nl_BE.UTF-8"}, "nl"),
    ({"LANG": "fr_BE.UTF-8", "LC_MESSAGES": "nl_NL"}, "nl"),
    ({"LC_ALL": "fr_FR.UTF-8", "LANG": "nl_BE.UTF-8"}, "fr"),
    ({"LANG": "de_DE.UTF-8", "LANGUAGE": "de:fr:en"}, "fr"),
    ({"LANG": "C.UTF-8", "LANGUAGE": "nl"}, "en"),  # the C locale ignores LANGUAGE (gettext)
    ({"LANG": "de_DE.UTF-8"}, "en"),
    ({}, "en"),
])
def test_the_shells_language(environ, language):
    assert environment_language(environ) == language


UNSET = {"LC_ALL": None, "LC_MESSAGES": None, "LANGUAGE": None}


def test_a_cli_line_in_dutch(tmp_path):
    from gateway.cli import main
    path = tmp_path / "leads.csv"
    path.write_bytes(csv_bytes(ROWS))
    dutch = CliRunner().invoke(main, ["import", str(path), "--account", "1"],
                               env={**UNSET, "LANG": "nl_BE.UTF-8"})
    assert dutch.exit_code == 2
    assert "--consent is verplicht: verklaar dat de gegevens rechtmatig verkregen zijn." \
        in dutch.output
    english = CliRunner().invoke(main, ["import", str(path), "--account", "1"],
                                 env={**UNSET, "LANG": "C.UTF-8"})
    assert "--consent is required" in english.output
    assert i18n.current() == "en"  # the command's language ended with it


def test_the_cli_report_in_dutch(env, store, tenant, tmp_path):
    from gateway.cli import main
    path = tmp_path / "leads.csv"
    path.write_bytes(csv_bytes(ROWS[:3]))
    result = CliRunner().invoke(main, ["import", str(path), "--account", str(tenant.id),
                                       "--consent"],
                                env={**env, **UNSET, "LANG": "nl_BE.UTF-8"})
    assert result.exit_code == 0, result.output
    assert "1 nieuw contact toegevoegd" in result.output
    assert "ongeldig e-mailadres: 1 rij" in result.output
    assert "  aangemaakt  1" in result.output and "scheidingsteken ','" in result.output


def test_an_upload_refused_in_french(importer):
    r = importer.client.post("/api/imports", files={"file": ("leads.xlsx", b"x", "text/csv")},
                             headers={**importer.tenant.headers, "Accept-Language": "fr"})
    assert r.status_code == 415 and r.json()["error"]["code"] == "not_csv"
    assert r.json()["error"]["message"] == \
        "Seuls les fichiers .csv peuvent être importés ; « leads.xlsx » n'en est pas un."
    workbook = ("a.csv", b"PK\x03\x04xl/", "text/csv")
    r = importer.client.post("/api/imports", files={"file": workbook},
                             headers={**importer.tenant.headers, "Accept-Language": "nl"})
    assert r.json()["error"]["message"].startswith(
        "Dit is geen CSV-tekstbestand: het is een Excel-werkmap (.xlsx). Open het in je")
