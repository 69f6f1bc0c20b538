"""The public snapshot: the page language, and a job that sees another process's change."""

from forms import definitions, jobs, public
from forms.models import Form
from gateway.db import utcnow
from tests.forms.conftest import queued_item


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
