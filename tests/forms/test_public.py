"""The public snapshot: the page language, and a job that sees another process's change."""

from forms import definitions, jobs, public
from forms.models import Form
from gateway.accounts import add_vocabulary
from gateway.db import utcnow
from tests.forms.conftest import contacts, queued_item


def test_choose_language_prefers_choice_then_browser_then_first(tenant):
    form = public.snapshot(definitions.create_form(tenant.id, {
        "name": "N", "source": "Website", "languages": ["nl", "fr", "en"]}))
    assert public.choose_language(form, "FR", "en") == "fr"
    assert public.choose_language(form, "de", "de-CH, en;q=0.5, fr;q=0.8") == "fr"
    assert public.choose_language(form, None, "de") == "nl"


def test_a_job_sees_a_form_changed_by_another_process(tenant):
    form = definitions.create_form(tenant.id, {"name": "Before", "source": "Website"})
    assert public.public_form_by_id(form.id).name == "Before"
    # Another process's change: this process's cache is not cleared.
    Form.update(name="After", updated_at=utcnow()).where(Form.id == form.id).execute()
    assert public.public_form_by_id(form.id).name == "After"
    Form.delete_by_id(form.id)
    assert public.public_form_by_id(form.id) is None
    assert jobs.process_submission("sub_gone", queued_item(form, "gone@example.com")) == "form_gone"


def test_a_french_form_shows_french_label_texts_and_stores_the_labels(
        client, tenant, make_form, visitor, run_jobs, mailbox):
    """Visitors read the form's text for a label in their language; the contact keeps the
    label itself, as Settings names it."""
    form = make_form(languages=["fr", "nl"], fields=["interests"],
                     label_texts={"Sports": {"fr": "Sport", "nl": "Sporten"},
                                  "Music": {"fr": "Musique"}})
    page = client.get(f"/f/{form['slug']}?lang=fr").text
    assert ">Sport</label>" in page and ">Musique</label>" in page
    assert 'value="Sports"' in page and 'value="Music"' in page  # what is sent back
    assert ">Sporten</label>" in client.get(f"/f/{form['slug']}?lang=nl").text
    assert ">Music</label>" in client.get(f"/f/{form['slug']}?lang=nl").text  # no nl text
    r = visitor(form, {"email": "zoe@example.com", "_lang": "fr",
                       "interests": ["Music", "Sports"]})
    assert r.status_code == 200, r.text
    run_jobs()
    [contact] = contacts(client, tenant)
    assert sorted(contact["interests"]) == ["Music", "Sports"]


def test_an_interest_added_in_settings_does_not_appear_on_an_existing_form(
        client, tenant, make_form, visitor):
    form = make_form(fields=["interests"])
    assert form["interests"] == ["Music", "Sports"]  # a new form lists today's labels
    add_vocabulary(tenant.id, "interest", "Cooking")
    public.clear_cache()
    page = client.get(f"/f/{form['slug']}?lang=en").text
    assert 'value="Sports"' in page and "Cooking" not in page
    r = visitor(form, {"email": "cook@example.com", "interests": ["Cooking"]})
    assert "Please correct the marked fields" in r.text  # not offered: not accepted either
