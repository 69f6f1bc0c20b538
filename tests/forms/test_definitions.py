"""Form definitions: defaults, clear errors naming every problem, nothing stored on a refusal,
mail templates checked in the sandbox, and changes that keep what they do not name."""

import pytest

from forms import definitions
from forms.models import Form
from gateway.errors import ValidationFailed


def _details(exc) -> dict:
    return {d["field"]: d for d in exc.value.details}


def test_create_with_defaults(tenant):
    form = definitions.create_form(tenant.id, {"name": "Spring Newsletter", "source": "Website"})
    assert form.slug.startswith("spring-newsletter-")
    assert form.languages == ["nl", "fr", "en"]
    assert form.double_opt_in is True and form.welcome is False
    assert definitions.form_to_dict(form)["urls"]["hosted"].endswith(f"/f/{form.slug}")


def test_refusals_name_every_problem_and_store_nothing(tenant):
    with pytest.raises(ValidationFailed) as exc:
        definitions.create_form(tenant.id, {
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
        definitions.create_form(tenant.id, {"name": "N", "source": "Website", "mails": {
            "confirm": {"en": {"subject": "Hi", "body": body}}}})
    assert _details(exc)["mails"]["code"] == "invalid_template"


def test_update_changes_only_given_keys(tenant):
    form = definitions.create_form(tenant.id, {"name": "N", "source": "Website",
                                           "allowed_origins": ["https://A.example:443/"]})
    assert form.allowed_origins == ["https://a.example"]
    changed = definitions.update_form(tenant.id, form.id, {"double_opt_in": False})
    assert changed.double_opt_in is False
    assert changed.allowed_origins == ["https://a.example"]
    assert changed.source == "Website"


def test_label_texts_name_known_labels_and_languages(tenant):
    form = definitions.create_form(tenant.id, {
        "name": "N", "source": "Website", "label_texts": {"Sports": {"fr": " Sport ", "nl": ""}}})
    assert form.label_texts == {"Sports": {"fr": "Sport"}}
    for bad, code in (({"Cooking": {"fr": "Cuisine"}}, "unknown_label"),
                      ({"Sports": {"de": "Sport"}}, "unknown_language"),
                      ({"Sports": {"fr": "two\nlines"}}, "invalid")):
        with pytest.raises(ValidationFailed) as exc:
            definitions.update_form(tenant.id, form.id, {"label_texts": bad})
        assert _details(exc)["label_texts"]["code"] == code


def test_forms_that_offered_all_labels_keep_those_of_the_upgrade(tenant):
    """Before version 11 an empty list meant "all of the account's"; the upgrade lists them,
    so a label added afterwards in Settings stays off the form."""
    from gateway.accounts import add_vocabulary
    from gateway.db import SchemaVersion
    from gateway.schema import upgrade
    shown = definitions.create_form(tenant.id, {"name": "A", "source": "Website",
                                                "fields": ["interests"]})
    hidden = definitions.create_form(tenant.id, {"name": "B", "source": "Website"})
    Form.update(interests=[], preferences=[]).execute()  # as stored before version 11
    SchemaVersion.delete().where(SchemaVersion.version == 11).execute()
    assert upgrade() == [11]  # the upgrade itself, once more
    assert Form.get_by_id(shown.id).interests == ["Music", "Sports"]
    assert Form.get_by_id(shown.id).preferences == []  # the field was not shown
    assert Form.get_by_id(hidden.id).interests == []
    add_vocabulary(tenant.id, "interest", "Cooking")
    assert Form.get_by_id(shown.id).interests == ["Music", "Sports"]
