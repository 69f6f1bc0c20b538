import html
import re

from starlette.datastructures import FormData

from forms.models import Form
from gateway.admin.forms import definition_from_form, lines
from tests.gateway.admin.conftest import csrf_of


def test_lines_drop_blanks():
    assert lines("a\n\n  b \r\n") == ["a", "b"] and lines(None) == []


def test_definition_puts_the_default_language_first_and_keeps_only_filled_texts():
    form = FormData([("name", " News "), ("source", "Website"), ("languages", "nl"),
                     ("languages", "fr"), ("default_language", "fr"), ("fields", "first_name"),
                     ("double_opt_in", "yes"), ("min_fill_seconds", "3"),
                     ("text-fr-title", "Inscrivez-vous"), ("text-nl-title", " "),
                     ("mail-confirm-nl-subject", "Bevestig!"),
                     ("allowed_origins", "https://www.example.com\n")])
    data = definition_from_form(form)
    assert data["name"] == "News" and data["languages"] == ["fr", "nl"]
    assert data["double_opt_in"] is True and data["welcome"] is False
    assert data["texts"] == {"fr": {"title": "Inscrivez-vous"}}
    assert data["mails"] == {"confirm": {"nl": {"subject": "Bevestig!"}}}
    assert data["allowed_origins"] == ["https://www.example.com"]
    assert data["min_fill_seconds"] == 3


def test_create_show_snippets_and_edit(admin_client, tenant):
    page = admin_client.get("/admin/forms/new")
    assert page.status_code == 200
    token = csrf_of(page.text)
    r = admin_client.post("/admin/forms/new", data={
        "csrf_token": token, "name": "Newsletter", "source": "Website", "languages": ["en"],
        "default_language": "en", "fields": ["first_name", "interests"],
        "double_opt_in": "yes", "min_fill_seconds": "2", "text-en-title": "Join us"},
        follow_redirects=False)
    assert r.status_code == 303, r.text
    form = Form.get(name="Newsletter")
    assert (form.source, form.double_opt_in, form.texts) == ("Website", True,
                                                             {"en": {"title": "Join us"}})
    detail = html.unescape(admin_client.get(r.headers["location"]).text)
    for marker in (f"/f/{form.slug}", f'src="http://testserver/f/{form.slug}?embed=iframe"',
                   f'data-inlet-form="{form.slug}"', f'action="http://testserver/f/{form.slug}"'):
        assert marker in detail
    assert len(re.findall(r'data-copy="#snippet-', detail)) == 4
    r = admin_client.post(f"/admin/forms/{form.id}/edit", data={
        "csrf_token": token, "name": "Newsletter", "source": "Fair", "languages": ["en", "nl"],
        "default_language": "nl", "fields": ["first_name"], "min_fill_seconds": "2"})
    form = Form.get_by_id(form.id)
    assert (form.source, form.languages, form.double_opt_in) == ("Fair", ["nl", "en"], False)


def test_errors_are_shown_and_nothing_is_saved(admin_client, tenant):
    token = csrf_of(admin_client.get("/admin/forms/new").text)
    r = admin_client.post("/admin/forms/new", data={
        "csrf_token": token, "name": "", "source": "website", "languages": ["en"],
        "allowed_origins": "https://example.com/path", "min_fill_seconds": "99"})
    assert r.status_code == 422
    text = html.unescape(r.text)
    assert "Did you mean 'Website'?" in text
    assert "is not an origin" in text and "0 to 60" in text
    assert "https://example.com/path</textarea>" in text  # what was typed stays
    assert Form.select().count() == 0


def test_another_accounts_form_is_not_found(admin_client, tenant, other_tenant):
    from forms import definitions
    theirs = definitions.create_form(other_tenant.id, {"name": "Theirs", "source": "Website"})
    assert admin_client.get(f"/admin/forms/{theirs.id}").status_code == 404
    assert admin_client.get(f"/admin/forms/{theirs.id}/edit").status_code == 404
    token = csrf_of(admin_client.get("/admin/forms").text)
    r = admin_client.post(f"/admin/forms/{theirs.id}/edit", data={
        "csrf_token": token, "name": "Mine now", "source": "Website", "languages": ["en"]})
    assert r.status_code == 404 and Form.get_by_id(theirs.id).name == "Theirs"
    assert "Theirs" not in admin_client.get("/admin/forms").text


def test_preview_renders_unsaved_values_and_cannot_submit(admin_client, tenant):
    token = csrf_of(admin_client.get("/admin/forms/new").text)
    r = admin_client.post("/admin/forms/preview", data={
        "csrf_token": token, "name": "Draft", "source": "Website", "languages": ["fr"],
        "fields": ["first_name"], "text-fr-title": "Rejoignez-nous <b>!</b>"})
    assert r.status_code == 200
    assert "<h1>Rejoignez-nous &lt;b&gt;!&lt;/b&gt;</h1>" in r.text  # escaped
    assert 'name="first_name"' in r.text
    assert "form-action 'none'" in r.headers["content-security-policy"]
    assert r.headers["x-frame-options"] == "SAMEORIGIN"
    assert Form.select().count() == 0
    r = admin_client.post("/admin/forms/preview", data={"csrf_token": token, "name": "Draft"})
    assert "The preview shows once these are fixed" in r.text and "source" in r.text


def test_digits_that_are_not_ascii_are_explained_not_a_crash(admin_client, tenant):
    """"²" is a digit to str.isdigit but not to int(): the page answers, nothing is made."""
    token = csrf_of(admin_client.get("/admin/forms/new").text)
    r = admin_client.post("/admin/forms/new", data={
        "csrf_token": token, "name": "Newsletter", "source": "Website", "languages": ["en"],
        "default_language": "en", "min_fill_seconds": "²"}, follow_redirects=False)
    assert r.status_code == 422, r.text[:300]
    assert "min_fill_seconds" in r.text or "fill" in r.text.lower()
