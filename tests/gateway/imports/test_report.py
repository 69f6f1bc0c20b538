"""The report: counts in the API, an e-mail to whoever ran it (real SMTP), welcome mails."""

from gateway.imports import service
from gateway.models import OutgoingMail
from tests.gateway.imports.conftest import csv_bytes

ROWS = [["email", "language", "source"], ["ann@example.com", "nl", "Website"],
        ["bob@example.com", "fr", "Fair"], ["broken", "nl", "Website"]]


def test_report_mail_goes_to_the_notify_address_with_numbers_and_link(importer, mailbox):
    from gateway.models import Account
    # in English (else the account's first language, Dutch: tests/gateway/test_api_languages)
    Account.update(report_language="en").where(Account.id == importer.tenant.id).execute()
    imp = importer.run(csv_bytes(ROWS), notify="Boss@Example.com", name="leads.csv")
    assert imp["notify"] == "boss@example.com"
    importer.run_jobs()  # delivers the queued mail over SMTP
    [mail] = mailbox.to("boss@example.com")
    assert mail["Subject"] == "Import leads.csv: 2 new contacts added"
    text = mail.get_body(("plain",)).get_content()
    assert "Created:          2" in text and "Failed:           1" in text
    assert "invalid e-mail address: 1 row" in text
    # the admin's link (behind the admin login), not the API's, which needs a token
    assert f"http://testserver/admin/imports/{imp['id']}/errors.csv" in text
    html = mail.get_body(("html",)).get_content()
    assert f"/admin/imports/{imp['id']}/errors.csv" in html


def test_report_mail_is_sent_once_even_if_finalise_runs_again(importer, mailbox):
    from gateway.imports import jobs
    imp = importer.run(csv_bytes(ROWS), notify="boss@example.com")
    assert jobs.finalise_import(imp["id"]) == "done"
    importer.run_jobs()
    assert len(mailbox.to("boss@example.com")) == 1
    assert OutgoingMail.select().where(OutgoingMail.purpose == "import-report").count() == 1


def test_no_notify_no_mail_but_the_report_is_in_the_api(importer, mailbox):
    imp = importer.run(csv_bytes(ROWS))
    importer.run_jobs()
    assert mailbox.messages == []
    assert imp["report"]["headline"] == "2 new contacts added"
    assert imp["report"]["reasons"] == {"invalid e-mail address": 1}


def test_welcome_mail_to_each_new_contact_only(importer, mailbox, tenant):
    importer.run(csv_bytes(ROWS[:2]))  # ann exists before the welcome import
    imp = importer.run(csv_bytes(ROWS), welcome="true")
    assert imp["welcome"] is True and imp["counts"]["created"] == 1
    importer.run_jobs()
    assert [m["To"] for m in mailbox.messages] == ["bob@example.com"]
    assert "Welcome" in mailbox.messages[0]["Subject"]


def test_the_admin_ui_passes_the_logged_in_users_address(store, tenant, run_jobs, mailbox):
    imp = service.create_from_upload(tenant.id, "ui.csv", [csv_bytes(ROWS)],
                                     actor="user:ann", notify_email="ann@acme.example")
    assert service.state(tenant.id, imp.id)["step"] == "mapping"
    service.set_consent(tenant.id, imp.id, True, actor="user:ann")
    run_jobs()
    service.finalise(tenant.id, imp.id)
    run_jobs()
    run_jobs()
    assert service.state(tenant.id, imp.id)["report"]["headline"] == "2 new contacts added"
    assert len(mailbox.to("ann@acme.example")) == 1


def test_the_mails_errors_link_is_the_admin_route(app):
    from gateway.imports.report import ADMIN_ERRORS_PATH
    assert app.url_path_for("admin:import_errors", import_id=7) == \
        ADMIN_ERRORS_PATH.format(import_id=7)
