"""Form definitions (defaults, clear errors, nothing stored on a refusal); submissions written
once with at most one mail each, within the daily cap."""

import threading
import time
from datetime import timedelta

import pytest

from forms import jobs, service
from forms.models import Confirmation, Form
from gateway import contacts
from gateway.contacts import Provenance
from gateway.db import db, utcnow
from gateway.errors import ValidationFailed
from gateway.models import Consent, Contact


def _details(exc) -> dict:
    return {d["field"]: d for d in exc.value.details}


def test_create_with_defaults(tenant):
    form = service.create_form(tenant.id, {"name": "Spring Newsletter", "source": "Website"})
    assert form.slug.startswith("spring-newsletter-")
    assert form.languages == ["nl", "fr", "en"]
    assert form.double_opt_in is True and form.welcome is False
    assert service.form_to_dict(form)["urls"]["hosted"].endswith(f"/f/{form.slug}")


def test_refusals_name_every_problem_and_store_nothing(tenant):
    with pytest.raises(ValidationFailed) as exc:
        service.create_form(tenant.id, {
            "name": "N", "source": "website", "fields": ["first_name", "shoe_size"],
            "languages": ["nl", "de"], "allowed_origins": ["https://shop.example/path"],
            "redirect_urls": ["javascript:alert(1)"], "min_fill_seconds": 600,
            "colour": "red"})
    details = _details(exc)
    assert details["source"]["suggestion"] == "Website"
    assert details["fields"]["value"] == ["shoe_size"]
    assert details["languages"]["code"] == "unknown_language"
    assert details["allowed_origins"]["code"] == "invalid_origin"
    assert details["redirect_urls"]["code"] == "invalid_url"
    assert details["min_fill_seconds"]["code"] == "invalid"
    assert details["colour"]["code"] == "unknown_field"
    assert Form.select().count() == 0


@pytest.mark.parametrize("body", [
    "{{ ''.__class__.__mro__[1].__subclasses__() }}",  # template injection: sandboxed
    "{% for x in %}",  # syntax error
    "{{ unknown_variable }}",
])
def test_mail_templates_must_render_in_the_sandbox(tenant, body):
    with pytest.raises(ValidationFailed) as exc:
        service.create_form(tenant.id, {"name": "N", "source": "Website", "mails": {
            "confirm": {"en": {"subject": "Hi", "body": body}}}})
    assert _details(exc)["mails"]["code"] == "invalid_template"


def test_update_changes_only_given_keys(tenant):
    form = service.create_form(tenant.id, {"name": "N", "source": "Website",
                                           "allowed_origins": ["https://A.example:443/"]})
    assert form.allowed_origins == ["https://a.example"]
    changed = service.update_form(tenant.id, form.id, {"double_opt_in": False})
    assert changed.double_opt_in is False
    assert changed.allowed_origins == ["https://a.example"]
    assert changed.source == "Website"


def test_choose_language_prefers_choice_then_browser_then_first(tenant):
    form = service.snapshot(service.create_form(tenant.id, {
        "name": "N", "source": "Website", "languages": ["nl", "fr", "en"]}))
    assert service.choose_language(form, "FR", "en") == "fr"
    assert service.choose_language(form, "de", "de-CH, en;q=0.5, fr;q=0.8") == "fr"
    assert service.choose_language(form, None, "de") == "nl"


# ---- submissions and their mails -------------------------------------------------------------

def _item(form, email: str, language: str = "en") -> dict:
    """A queued submission as ``service.submission_item`` makes it."""
    return {"form_id": form.id, "account_id": form.account_id, "language": language,
            "contact": {"email": email, "language": language, "source": form.source},
            "ip": "192.0.2.1", "user_agent": "test", "at": time.time()}


@pytest.mark.parametrize(("options", "subject"), [
    ({}, "Please confirm your subscription"),
    ({"double_opt_in": False, "welcome": True}, "Welcome!"),
])
def test_a_rerun_after_a_crash_before_the_mail_sends_it_once(tenant, run_jobs, mailbox,
                                                             monkeypatch, options, subject):
    form = service.create_form(tenant.id, {"name": "N", "source": "Website", **options})
    item = _item(form, "crash@example.com")

    def worker_dies(*args, **kwargs):
        raise RuntimeError("worker died")
    with monkeypatch.context() as patch:
        patch.setattr(service, "render_mail", worker_dies)
        with pytest.raises(RuntimeError):
            jobs.process_submission("sub_crash", item)
    assert Contact.select().count() == 1  # written; the mail step left nothing behind
    assert Confirmation.select().count() == 0
    assert jobs.process_submission("sub_crash", item) == "created"
    assert jobs.process_submission("sub_crash", item) == "created"
    run_jobs()
    assert [m["Subject"] for m in mailbox.to("crash@example.com")] == [subject]
    assert Confirmation.select().count() == (1 if form.double_opt_in else 0)
    assert Consent.select().count() == 1


def test_confirmation_mails_are_capped_per_address_and_day(tenant, run_jobs, mailbox):
    form = service.create_form(tenant.id, {"name": "N", "source": "Website"})
    outcomes = [jobs.process_submission(f"sub_{n}", _item(form, "cap@example.com"))
                for n in range(service.MAX_CONFIRMATION_MAILS + 1)]
    assert outcomes == ["created"] + ["unchanged"] * service.MAX_CONFIRMATION_MAILS
    contact = Contact.get(Contact.email == "cap@example.com")
    # The connectors' path counts the same mails.
    assert service.send_confirmation(form.id, contact.id) is None
    run_jobs()
    assert len(mailbox.to("cap@example.com")) == service.MAX_CONFIRMATION_MAILS
    day_ago = utcnow() - service.CONFIRMATION_WINDOW - timedelta(minutes=1)
    Confirmation.update(created_at=day_ago).execute()
    assert jobs.process_submission("sub_next_day", _item(form, "cap@example.com")) == "unchanged"
    run_jobs()
    assert len(mailbox.to("cap@example.com")) == service.MAX_CONFIRMATION_MAILS + 1


def test_two_workers_mailing_one_address_at_once_stay_within_the_cap(tenant, run_jobs,
                                                                     mailbox):
    form = service.create_form(tenant.id, {"name": "N", "source": "Website"})
    contact = contacts.create(tenant.id, {"email": "race@example.com", "language": "en",
                                          "source": "Website", "status": "unconfirmed"},
                              Provenance(channel="api"))
    for _ in range(service.MAX_CONFIRMATION_MAILS - 1):
        assert service.send_confirmation(form.id, contact.id) is not None
    holding, results = threading.Event(), {}

    def first_worker():  # takes the last mail of the day and is slow to commit
        with db.connection_context(), db.atomic():
            results["first"] = service.send_confirmation(form.id, contact.id)
            holding.set()
            time.sleep(0.5)

    def second_worker():  # arrives while the first still holds its transaction open
        holding.wait(5)
        with db.connection_context():
            results["second"] = service.send_confirmation(form.id, contact.id)
    workers = [threading.Thread(target=first_worker), threading.Thread(target=second_worker)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(30)
    assert results["first"] is not None and results["second"] is None
    run_jobs()
    assert len(mailbox.to("race@example.com")) == service.MAX_CONFIRMATION_MAILS


def test_without_double_opt_in_known_contacts_keep_their_values(tenant, run_jobs, mailbox):
    form = service.create_form(tenant.id, {"name": "N", "source": "Website",
                                           "double_opt_in": False, "welcome": True})
    ids = {}
    for email, status in (("waiting@example.com", "unconfirmed"),
                          ("member@example.com", "confirmed"),
                          ("black@example.com", "confirmed")):
        ids[email] = contacts.create(tenant.id, {
            "email": email, "language": "nl", "source": "Fair", "status": status},
            Provenance(channel="api")).id
    contacts.blacklist(tenant.id, ids["black@example.com"], Provenance(channel="api"))
    outcomes = [jobs.process_submission(f"sub_{n}", _item(form, email))
                for n, email in enumerate(ids)]
    assert outcomes == ["confirmed", "unchanged", "blacklisted"]
    run_jobs()
    assert [m["Subject"] for m in mailbox.to("waiting@example.com")] == ["Welcome!"]
    assert mailbox.to("member@example.com") == mailbox.to("black@example.com") == []
    stored = {c.email: (c.status, c.language, c.source) for c in Contact.select()}
    assert stored == {"waiting@example.com": ("confirmed", "nl", "Fair"),
                      "member@example.com": ("confirmed", "nl", "Fair"),
                      "black@example.com": ("blacklisted", "nl", "Fair")}


def test_no_confirmation_mail_to_another_accounts_contact(tenant, other_tenant, run_jobs,
                                                          mailbox):
    form = service.create_form(tenant.id, {"name": "N", "source": "Website"})
    theirs = contacts.create(other_tenant.id, {
        "email": "theirs@example.com", "language": "en", "source": "Website",
        "status": "unconfirmed"}, Provenance(channel="api"))
    assert service.send_confirmation(form.id, theirs.id) is None
    run_jobs()
    assert mailbox.to("theirs@example.com") == []


def test_a_job_sees_a_form_changed_by_another_process(tenant):
    form = service.create_form(tenant.id, {"name": "Before", "source": "Website"})
    assert service.public_form_by_id(form.id).name == "Before"
    # Another process's change: this process's cache is not cleared.
    Form.update(name="After", updated_at=utcnow()).where(Form.id == form.id).execute()
    assert service.public_form_by_id(form.id).name == "After"
    Form.delete_by_id(form.id)
    assert service.public_form_by_id(form.id) is None
    assert jobs.process_submission("sub_gone", _item(form, "gone@example.com")) == "form_gone"
