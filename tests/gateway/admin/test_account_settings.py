from gateway.models import CustomField, Vocabulary
from tests.gateway.admin.conftest import csrf_of


def names(account_id, kind):
    return [v.name for v in Vocabulary.select().where((Vocabulary.account == account_id)
                                                      & (Vocabulary.kind == kind))
            .order_by(Vocabulary.id)]


def test_add_and_remove_vocabulary(admin_client, tenant):
    token = csrf_of(admin_client.get("/admin/settings").text)
    r = admin_client.post("/admin/settings/languages", data={"csrf_token": token, "name": "DE"})
    assert r.status_code == 200 and "Language &#39;de&#39; added." in r.text
    assert "de" in names(tenant.id, "language")
    r = admin_client.post("/admin/settings/sources", data={"csrf_token": token,
                                                           "name": "website"})
    assert r.status_code == 409
    assert "The source &#39;Website&#39; exists already; &#39;website&#39; differs" in r.text
    assert names(tenant.id, "source") == ["Website", "Fair"]
    entry = Vocabulary.get(account=tenant.id, kind="interest", name="Music")
    admin_client.post(f"/admin/settings/interests/{entry.id}/delete",
                      data={"csrf_token": token})
    assert names(tenant.id, "interest") == ["Sports"]


def test_bad_entries_show_an_error_and_change_nothing(admin_client, tenant):
    token = csrf_of(admin_client.get("/admin/settings").text)
    r = admin_client.post("/admin/settings/languages",
                          data={"csrf_token": token, "name": "dutch"})
    assert r.status_code == 422 and "two-letter ISO 639-1 code" in r.text
    r = admin_client.post("/admin/settings/sources", data={"csrf_token": token,
                                                           "name": "Website"})
    assert r.status_code == 409 and "exists already" in r.text
    assert names(tenant.id, "language") == ["nl", "fr", "en"]
    assert admin_client.post("/admin/settings/nope", data={"csrf_token": token,
                                                           "name": "x"}).status_code == 400


def test_custom_fields_with_types_and_choices(admin_client, tenant, other_tenant):
    token = csrf_of(admin_client.get("/admin/settings").text)
    admin_client.post("/admin/settings/custom-fields", data={
        "csrf_token": token, "name": "size", "type": "choice", "choices": "S, M,L"})
    field = CustomField.get(account=tenant.id, name="size")
    assert (field.type, field.choices) == ("choice", ["S", "M", "L"])
    r = admin_client.post("/admin/settings/custom-fields", data={
        "csrf_token": token, "name": "tags", "type": "multiple_choice", "choices": ""})
    assert r.status_code == 422 and "needs a list of 1 to 500 choices" in r.text
    assert 'value="tags"' in r.text
    theirs = CustomField.create(account=other_tenant.id, name="x", type="text")
    assert admin_client.post(f"/admin/settings/custom-fields/{theirs.id}/delete",
                             data={"csrf_token": token}).status_code == 404
    admin_client.post(f"/admin/settings/custom-fields/{field.id}/delete",
                      data={"csrf_token": token})
    assert not CustomField.select().where(CustomField.account == tenant.id).exists()


def test_removing_a_label_a_form_uses_is_refused_in_words(admin_client, tenant):
    from forms import definitions
    with_field = {"name": "size", "type": "text"}
    token = csrf_of(admin_client.get("/admin/settings").text)
    admin_client.post("/admin/settings/custom-fields", data={"csrf_token": token, **with_field})
    definitions.create_form(tenant.id, {"name": "Lettre", "source": "Website",
                                        "languages": ["fr"], "fields": ["size"]})
    fr = Vocabulary.get(account=tenant.id, kind="language", name="fr")
    r = admin_client.post(f"/admin/settings/languages/{fr.id}/delete",
                          data={"csrf_token": token})
    assert r.status_code == 409
    assert "The language &#39;fr&#39; is used by form &#39;Lettre&#39;" in r.text
    assert "fr" in names(tenant.id, "language")
    size = CustomField.get(account=tenant.id, name="size")
    r = admin_client.post(f"/admin/settings/custom-fields/{size.id}/delete",
                          data={"csrf_token": token})
    assert r.status_code == 409 and "is used by form &#39;Lettre&#39;" in r.text
    assert CustomField.get_or_none(CustomField.id == size.id) is not None


def test_mail_sender_and_website(admin_client, tenant):
    from gateway.models import Account
    page = admin_client.get("/admin/settings").text
    assert "go from <strong>Acme &lt;" in page  # the account's name by default
    token = csrf_of(page)
    r = admin_client.post("/admin/settings/sender", data={
        "csrf_token": token, "sender_name": "Acme news", "sender_address": "not an address",
        "website_url": "www.acme.example"})
    assert r.status_code == 422
    assert "An e-mail address such as" in r.text and "A web address such as" in r.text
    assert Account.get_by_id(tenant.id).sender_name is None
    r = admin_client.post("/admin/settings/sender", data={
        "csrf_token": token, "sender_name": "Acme news", "sender_address": "news@acme.example",
        "website_url": "https://www.acme.example"})
    assert r.status_code == 200 and "Mails now go from Acme news &lt;news@acme.example&gt;" \
        in r.text
    account = Account.get_by_id(tenant.id)
    assert (account.sender_address, account.website_url) == ("news@acme.example",
                                                             "https://www.acme.example")


def test_settings_explain_themselves(admin_client, tenant):
    from gateway.accounts import add_vocabulary
    from gateway.db import db
    with db.connection_context():
        add_vocabulary(tenant.id, "interest", "Cooking")
    page = admin_client.get("/admin/settings").text
    assert "Nederlands <code>nl</code>" in page
    assert page.count("Where a contact came from") == 1
    assert page.count("Topics a contact cares about") == 1  # not the sources hint again
    assert 'pattern="' not in page  # the server explains a bad field name, in words
    assert 'class="empty"' not in page
    token = csrf_of(page)
    r = admin_client.post("/admin/settings/custom-fields", data={
        "csrf_token": token, "name": "Shoe Size", "type": "text"})
    assert r.status_code == 422
    assert "&#39;Shoe Size&#39; cannot be a field name: start with a lower-case letter" in r.text


def _contacts(client, tenant, *records):
    for n, extra in enumerate(records):
        r = client.post("/api/contacts", headers=tenant.headers, json={
            "email": f"c{n}@example.com", "language": "en", "source": "Website", **extra})
        assert r.status_code == 201, r.text


def test_removal_page_counts_contacts_forms_and_hooks(admin_client, tenant):
    """Exact counts: "Music" is not counted on a contact that only has "Musical"."""
    from connectors.models import Hook
    from gateway.accounts import add_vocabulary
    from gateway.db import db
    with db.connection_context():
        add_vocabulary(tenant.id, "interest", "Musical")
        hook = Hook.create(account=tenant.id, name="CRM", secret_salt="s", source="Fair")
    _contacts(admin_client, tenant, {"source": "Fair", "interests": ["Music", "Sports"]},
              {"source": "Fair", "interests": ["Musical"]}, {"interests": ["Music"]})
    fair = Vocabulary.get(account=tenant.id, kind="source", name="Fair")
    page = admin_client.get(f"/admin/settings/sources/{fair.id}/delete").text
    assert "<strong>2 contacts</strong> have it" in page
    assert "<strong>0 forms</strong>" in page
    assert f'<strong>1 enabled hook</strong>: <a href="/admin/connectors/{hook.id}">CRM</a>' \
        in page
    assert "cannot be removed while a form or hook uses it" in page
    assert ">Remove Fair</button>" not in page
    music = Vocabulary.get(account=tenant.id, kind="interest", name="Music")
    page = admin_client.get(f"/admin/settings/interests/{music.id}/delete").text
    assert "<strong>2 contacts</strong> have it" in page and ">Remove Music</button>" in page
    r = admin_client.post(f"/admin/settings/interests/{music.id}/delete",
                          data={"csrf_token": csrf_of(page)})
    assert r.status_code == 200 and "Music" not in names(tenant.id, "interest")
    en = Vocabulary.get(account=tenant.id, kind="language", name="en")
    page = admin_client.get(f"/admin/settings/languages/{en.id}/delete").text
    assert "Remove the language English (en)?" in page and "<strong>3 contacts</strong>" in page


def test_custom_field_label_rename_and_removal_counts(admin_client, tenant):
    from connectors.models import Hook
    from gateway.db import db
    token = csrf_of(admin_client.get("/admin/settings").text)
    r = admin_client.post("/admin/settings/custom-fields", data={
        "csrf_token": token, "name": "shoe_size", "type": "number", "label": "Shoe size"})
    assert r.status_code == 200 and "Custom field &#39;Shoe size&#39; (shoe_size) added" in r.text
    admin_client.post("/admin/settings/custom-fields", data={
        "csrf_token": token, "name": "size", "type": "text"})
    size = CustomField.get(account=tenant.id, name="shoe_size")
    r = admin_client.post(f"/admin/settings/custom-fields/{size.id}/label",
                          data={"csrf_token": token, "label": "size"})
    assert r.status_code == 409 and "The field &#39;size&#39; is shown as" in r.text
    r = admin_client.post(f"/admin/settings/custom-fields/{size.id}/label",
                          data={"csrf_token": token, "label": "Schoenmaat"})
    assert "now shown as &#39;Schoenmaat&#39;" in r.text and 'value="Schoenmaat"' in r.text
    assert CustomField.get_by_id(size.id).label == "Schoenmaat"
    _contacts(admin_client, tenant, {"custom_fields": {"shoe_size": 42}},
              {"custom_fields": {"size": "shoe_size"}})
    with db.connection_context():
        Hook.create(account=tenant.id, name="Shop", secret_salt="s",
                    mapping={"custom_fields.shoe_size": "maat"})
    page = admin_client.get(f"/admin/settings/custom-fields/{size.id}/delete").text
    assert "Remove the custom field Schoenmaat (shoe_size)?" in page
    assert "<strong>1 contact</strong> has it" in page and "<strong>1 enabled hook</strong>" \
        in page


def test_settings_walk_in_a_browser(admin_page, tenant, request):
    """Remove a used value (its counts shown), add a labelled field, rename it; two widths."""
    from forms import definitions
    from gateway.db import db
    from gateway.models import Contact
    from tests.gateway.admin.conftest import assert_accessible, snap
    with db.connection_context():
        definitions.create_form(tenant.id, {"name": "Lettre", "source": "Website",
                                            "languages": ["fr", "en"]})
        for n in range(3):
            Contact.create(account=tenant.id, email=f"f{n}@example.com", language="fr",
                           source="Fair")
    page = admin_page
    for width, height in ((1366, 768), (390, 844)):
        page.set_viewport_size({"width": width, "height": height})
        page.goto(f"{page.base}/admin/settings")
        assert_accessible(page)
        if width == 1366:
            page.get_by_label("Sender address").fill("news@acme.example")
            page.get_by_role("textbox", name="Website").fill("https://www.acme.example")
            page.get_by_label("Reports and alerts to").fill("team@acme.example")
            page.get_by_role("button", name="Save sender, reports and website").click()
            page.get_by_role("status").filter(
                has_text="Mails now go from Acme <news@acme.example>; reports and alerts to "
                         "team@acme.example").wait_for()
        page.get_by_role("region", name="Languages").get_by_role(
            "link", name="Remove fr").click()
        page.get_by_role("heading", name="Remove the language Français (fr)?").wait_for()
        usage = page.get_by_role("region", name="What uses it")
        assert "3 contacts have it" in usage.inner_text()
        assert "1 form: Lettre" in usage.inner_text()
        assert "cannot be removed" in usage.get_by_role("alert").inner_text()
        snap(page, request, f"remove-used-{width}")
        assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"), width
        page.get_by_role("link", name="Back to settings").click()
        fields = page.get_by_role("region", name="Custom fields")
        key, shown = f"shoe_size_{width}", f"Shoe size {width}"
        fields.get_by_label("Label", exact=False).first.wait_for()
        page.locator("#field-label").fill(shown)
        page.locator("#field-name").fill(key)
        fields.get_by_role("button", name="Add field").click()
        page.get_by_role("status").filter(has_text=f"'{shown}' ({key}) added").wait_for()
        fields = page.get_by_role("region", name="Custom fields")
        fields.get_by_label(f"Label of {key}").fill(f"Maat {width}")
        fields.get_by_role("button", name=f"Rename {key}").click()
        page.get_by_role("status").filter(has_text=f"now shown as 'Maat {width}'").wait_for()
        assert page.get_by_label(f"Label of {key}").input_value() == f"Maat {width}"
        snap(page, request, f"settings-{width}")
        assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"), width


PNG = (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00"
       b"\x00\x1f\x15\xc4\x89\x00\x00\x00\rIDATx\x9cc\xf8\x0f\x00\x00\x01\x01\x00\x05\x18\xd8"
       b"N\x00\x00\x00\x00IEND\xaeB`\x82")


def _thanks(client, tenant, settings):
    """A plain HTML submission of a new form of the account: its thank-you page."""
    from tests.forms.conftest import aged_ts
    form = client.post("/api/forms", headers=tenant.headers, json={
        "name": "Letter", "source": "Website"}).json()
    return client.post(f"/f/{form['slug']}", data={
        "_ts": aged_ts(settings, form["id"]), "_lang": "en", "_embed": "hosted",
        "email": "ann@example.com"})


def test_a_logo_uploaded_or_linked_shows_after_the_form(admin_client, tenant, settings):
    from gateway.models import Account
    token = csrf_of(admin_client.get("/admin/settings").text)
    r = admin_client.post("/admin/settings/logo", data={"csrf_token": token},
                          files={"logo_file": ("logo.svg", b"<svg onload=alert(1)>",
                                               "image/svg+xml")})
    assert r.status_code == 422 and "Choose a PNG, JPEG, GIF or WebP image" in r.text
    r = admin_client.post("/admin/settings/logo", data={"csrf_token": token},
                          files={"logo_file": ("logo.png", PNG, "image/png")})
    assert r.status_code == 200 and "The logo now shows" in r.text
    assert Account.get_by_id(tenant.id).logo.startswith("data:image/png;base64,iVBOR")
    thanks = _thanks(admin_client, tenant, settings)
    assert thanks.status_code == 200
    assert '<img class="inlet-logo" src="data:image/png;base64,' in thanks.text
    r = admin_client.post("/admin/settings/logo", data={
        "csrf_token": token, "logo_url": "https://cdn.acme.example/logo.png"})
    assert "The logo now shows" in r.text
    thanks = _thanks(admin_client, tenant, settings)
    assert 'src="https://cdn.acme.example/logo.png"' in thanks.text
    assert "img-src 'self' data: https://cdn.acme.example;" in thanks.headers[
        "content-security-policy"]
    r = admin_client.post("/admin/settings/logo", data={"csrf_token": token,
                                                        "logo_url": "javascript:alert(1)"})
    assert r.status_code == 422 and Account.get_by_id(tenant.id).logo.startswith("https://")
    admin_client.post("/admin/settings/logo", data={"csrf_token": token, "remove": "yes"})
    assert Account.get_by_id(tenant.id).logo is None
    assert "<img" not in _thanks(admin_client, tenant, settings).text
