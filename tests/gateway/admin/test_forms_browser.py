"""Forms pages in chromium: create with errors, live preview, copy the snippets, edit."""

import os

from playwright.sync_api import expect

from forms import definitions, embed
from forms.models import Form
from gateway.db import db
from gateway.models import CustomField, Vocabulary
from tests.conftest import ARTIFACTS
from tests.forms.test_browser import HostPage
from tests.gateway.admin.conftest import assert_accessible, snap


def test_create_preview_copy_and_edit_a_form(admin_page, tenant, request):
    page = admin_page
    page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    page.get_by_role("link", name="Forms").click()
    page.get_by_role("heading", name="Opt-in forms").wait_for()
    assert_accessible(page)
    page.get_by_role("link", name="New form").click()
    page.get_by_role("heading", name="New form").wait_for()
    assert_accessible(page)
    live = page.frame_locator("iframe[title='Preview of the form being edited']")
    live.get_by_text("The preview shows once these are fixed").wait_for()
    assert "source: Unknown source" in live.locator("body").inner_text()
    page.get_by_role("textbox", name="Name", exact=True).fill("Newsletter")
    page.get_by_label("Source given to new contacts").select_option("Website")
    # The live preview follows the unsaved form: Dutch first, as the account's languages are.
    live.get_by_role("heading", name="Schrijf je in op onze nieuwsbrief").wait_for()
    page.get_by_role("heading", name="Languages and texts").click()  # unfolds on demand
    page.get_by_label("Default language").select_option("en")
    live.get_by_role("heading", name="Subscribe to our newsletter").wait_for()
    page.get_by_label("Interests", exact=True).check()
    page.get_by_role("heading", name="Embedding").click()
    origins = page.get_by_label("Sites allowed to embed the form")
    origins.fill("https://www.example.com/signup")
    page.get_by_role("button", name="Create form").first.click()
    assert "is not an origin" in page.get_by_role("alert").inner_text()
    assert origins.get_attribute("aria-invalid") == "true"
    assert_accessible(page)
    origins.fill("https://www.example.com")
    page.get_by_role("heading", name="Languages and texts").click()
    page.get_by_text("Texts in en").click()  # each language's texts unfold on demand
    page.get_by_label("Title (en)").fill("Join the Acme letter")
    live.get_by_role("heading", name="Join the Acme letter").wait_for()
    snap(page, request, "editor")
    assert Form.select().count() == 0  # previewing saves nothing
    page.get_by_role("button", name="Create form").first.click()
    page.get_by_role("status").filter(has_text="was created").wait_for()
    assert_accessible(page)
    form = Form.get(name="Newsletter")
    assert form.allowed_origins == ["https://www.example.com"] and form.double_opt_in

    # The live preview is the real hosted form, framed.
    preview = page.frame_locator("iframe[title='Preview of Newsletter']")
    preview.get_by_role("heading", name="Join the Acme letter").wait_for()
    assert preview.get_by_label("Sports").count() == 1
    snap(page, request, "detail")

    # Four snippets, each with a copy button.
    for label in ("Hosted page", "iframe snippet", "Script snippet", "Plain HTML form"):
        box = page.get_by_role("textbox", name=label)
        page.get_by_role("button", name=f"Copy the {label}").click()
        assert page.evaluate("navigator.clipboard.readText()") == box.input_value()
    script = page.get_by_role("textbox", name="Script snippet").input_value()
    assert f"/f/{form.slug}/embed.js" in script

    page.get_by_role("link", name="Edit form").click()
    page.get_by_role("heading", name="Edit Newsletter").wait_for()
    assert_accessible(page)
    page.get_by_role("heading", name="Behaviour").click()
    page.get_by_label("Double opt-in").uncheck()
    page.get_by_role("heading", name="Languages and texts").click()
    page.get_by_text("Texts in en").click()
    page.get_by_label("Title (en)").fill("Subscribe now")
    page.get_by_role("button", name="Save form").first.click()
    page.get_by_role("status").filter(has_text="was saved").wait_for()
    preview.get_by_role("heading", name="Subscribe now").wait_for()
    assert Form.get_by_id(form.id).double_opt_in is False


NO_SCROLL = "document.documentElement.scrollWidth <= window.innerWidth"


def test_a_site_that_may_not_use_the_form_is_told_and_allowed_in_one_click(
        admin_page, live_server, tenant, request):
    """Script and iframe embeds on a site missing from the allowed origins say why instead of
    failing; the form's page lists that site with an "Allow" button, and then both work."""
    page = admin_page
    with db.connection_context():
        form = definitions.create_form(tenant.id, {
            "name": "Shop news", "source": "Website",
            "allowed_origins": ["https://www.example.com"]})
        snippets = embed.snippets_for(form, live_server)
    site = HostPage()
    try:
        site.html = ("<!doctype html><html lang=en><head><meta charset=utf-8><meta "
                     "name=viewport content='width=device-width, initial-scale=1'><title>Shop"
                     "</title></head><body><section id=by-script>" + snippets["script"]
                     + "</section><section id=by-iframe>" + snippets["iframe"]
                     + "</section></body></html>").encode()
        refusal = f"This site ({site.origin}) is not allowed to use this form"
        for width, height in ((1366, 768), (390, 844)):
            page.set_viewport_size({"width": width, "height": height})
            page.goto(site.origin + "/")
            page.locator("#by-script").get_by_role("alert").filter(has_text=refusal).wait_for()
            assert page.locator("#by-script form").count() == 0  # no form that cannot submit
            frame = page.frame_locator("#by-iframe iframe")
            frame.get_by_text(refusal).wait_for()
            snap(page, request, f"refused-embeds-{width}")

        page.goto(f"{live_server}/admin/forms/{form.id}")
        listed = page.get_by_role("region", name="Sites that tried to use this form")
        listed.get_by_role("row").filter(has_text=site.origin).wait_for()
        assert_accessible(page)
        for width, height in ((1366, 768), (390, 844)):
            page.set_viewport_size({"width": width, "height": height})
            snap(page, request, f"refused-list-{width}")
            assert page.evaluate(NO_SCROLL), width
        listed.get_by_role("button", name=f"Allow {site.origin}").click()
        page.get_by_role("status").filter(has_text=f"{site.origin} may now use").wait_for()
        assert page.get_by_role("region", name="Sites that tried to use this form").count() == 0
        assert Form.get_by_id(form.id).allowed_origins == ["https://www.example.com",
                                                           site.origin]

        for width, height in ((1366, 768), (390, 844)):
            page.set_viewport_size({"width": width, "height": height})
            page.goto(site.origin + "/")
            page.locator("#by-script form.inlet-form").get_by_label("E-mail address").wait_for()
            page.frame_locator("#by-iframe iframe").get_by_label("E-mail address").wait_for()
            snap(page, request, f"allowed-embeds-{width}")
    finally:
        site.close()


def _inside(inner, outer) -> bool:
    """Whether box ``inner`` lies wholly within box ``outer`` (page coordinates)."""
    return (inner["y"] >= outer["y"] - 1
            and inner["y"] + inner["height"] <= outer["y"] + outer["height"] + 1)


def test_editor_sections_reachable_save_and_a_whole_preview_in_the_edited_language(
        admin_page, live_server, tenant, request):
    """The editor folds into five sections, its save button is on screen, and the preview
    shows the whole form (consent and button) in the language being edited, on a laptop and
    on a phone."""
    page = admin_page
    with db.connection_context():
        form = definitions.create_form(tenant.id, {
            "name": "Lettre", "source": "Website", "languages": ["fr", "nl", "en"],
            "fields": ["first_name", "name", "language", "preferences", "interests"]})
    for width, height in ((1366, 768), (390, 844)):
        page.set_viewport_size({"width": width, "height": height})
        page.goto(f"{live_server}/admin/forms/{form.id}/edit")
        for name in ("Fields", "Languages and texts", "Mails", "Behaviour", "Embedding"):
            page.get_by_role("heading", name=name, exact=True).wait_for()
        assert page.get_by_label("Confirm mail subject (fr)").is_hidden()  # folded
        save = page.get_by_role("button", name="Save form")
        assert save.first.is_visible() and _inside(save.first.bounding_box(), {
            "y": 0, "height": height}), width
        live = page.frame_locator("iframe[title='Preview of the form being edited']")
        frame = page.locator("iframe[title='Preview of the form being edited']")
        # The form's default language first, the whole form in view of the frame.
        live.get_by_role("heading", name="Inscrivez-vous à notre newsletter").wait_for()
        consent = live.get_by_text("J'accepte de recevoir des e-mails")
        button = live.get_by_role("button", name="S'inscrire")
        page.wait_for_function("document.querySelector('iframe[data-fit-content]')"
                               ".offsetHeight > 600")
        assert _inside(consent.bounding_box(), frame.bounding_box()), width
        assert _inside(button.bounding_box(), frame.bounding_box()), width
        if width < 600:  # a phone: the preview comes below the editor
            assert frame.bounding_box()["y"] > page.locator("#form-editor").bounding_box()["y"]
            assert page.evaluate(NO_SCROLL)
        # Editing the Dutch texts previews Dutch, edits included.
        page.get_by_role("heading", name="Languages and texts").click()
        page.get_by_text("Texts in nl").click()
        page.get_by_label("Consent (nl)").fill("Ja, stuur me de nieuwsbrief.")
        live.get_by_role("heading", name="Schrijf je in op onze nieuwsbrief").wait_for()
        live.get_by_text("Ja, stuur me de nieuwsbrief.").wait_for()
        button = live.get_by_role("button", name="Inschrijven")
        assert page.get_by_label("Preview in").input_value() == "nl"
        snap(page, request, f"editor-{width}")
        assert _inside(button.bounding_box(), frame.bounding_box()), width
        save.last.scroll_into_view_if_needed()
        assert save.last.is_visible()
    save.last.click()
    page.get_by_role("status").filter(has_text="was saved").wait_for()
    # The detail page previews the form's default language, not the browser's English.
    preview = page.frame_locator("iframe[title='Preview of Lettre']")
    preview.get_by_role("heading", name="Inscrivez-vous à notre newsletter").wait_for()
    preview.get_by_role("button", name="S'inscrire").wait_for()
    snap(page, request, "detail-390")
    with db.connection_context():
        assert Form.get_by_id(form.id).texts["nl"]["consent"] == "Ja, stuur me de nieuwsbrief."


def test_a_french_form_shows_its_own_labels_in_french_at_both_sizes(
        admin_page, live_server, tenant, request):
    """#17 item 2: the editor gives each chosen interest a French text (saved from the sticky
    bar without scrolling to it); the hosted form shows those texts, and only the interests
    chosen for it, not one added in Settings afterwards."""
    page = admin_page
    with db.connection_context():
        form = definitions.create_form(tenant.id, {
            "name": "Lettre", "source": "Website", "languages": ["fr"],
            "fields": ["first_name", "interests"], "interests": ["Sports", "Music"]})
    for n, (width, height) in enumerate(((1366, 768), (390, 844))):
        page.set_viewport_size({"width": width, "height": height})
        page.goto(f"{live_server}/admin/forms/{form.id}/edit")
        page.get_by_role("heading", name="Languages and texts").click()
        page.get_by_text("Texts in fr").click()
        page.get_by_label("“Sports” in fr").fill(f"Les sports {n}")
        page.get_by_label("“Music” in fr").fill(f"La musique {n}")
        save = page.get_by_role("button", name="Save form").last  # the bar under the editor
        assert _inside(save.bounding_box(), {"y": 0, "height": height}), width  # sticky
        assert page.evaluate(NO_SCROLL), width
        page.screenshot(path=os.path.join(ARTIFACTS, f"forms-editor-sticky-save-{width}.png"))
        save.click()
        page.get_by_role("status").filter(has_text="was saved").wait_for()
        if n == 0:  # added after the form was made: never appears on it by itself
            page.goto(f"{live_server}/admin/settings")
            page.get_by_label("New interest").fill("Cinema")
            page.get_by_label("New interest").press("Enter")
            page.get_by_role("status").filter(has_text="Interest 'Cinema' added").wait_for()
        page.goto(f"{live_server}/f/{form.slug}")
        page.get_by_label(f"Les sports {n}").wait_for()
        assert page.get_by_label(f"La musique {n}").count() == 1
        body = page.locator("body").inner_text()
        assert "Music" not in body and "Sports" not in body and "Cinema" not in body
        assert page.evaluate(NO_SCROLL), width
        snap(page, request, f"french-form-{width}")


def test_settings_refuse_a_case_twin_and_explain_a_bad_field_name_at_both_sizes(
        admin_page, live_server, tenant, request):
    """#17 item 10: "website" beside "Website" (or "SPORTS" beside "Sports") is refused with
    the existing one named, and a field name that cannot be one is explained in words by the
    server (not the browser's "match the requested format"); both are fixed on the spot."""
    page = admin_page
    walks = {1366: ("sources", "source", "website", "Website", "Shoe Size",
                    "'Shoe Size' cannot be a field name: start with a lower-case letter and "
                    "use only lower-case letters, digits and _ (no spaces or capitals), such "
                    "as shoe_size."),
             390: ("interests", "interest", "SPORTS", "Sports", "email",
                   "'email' is a built-in field of every contact: choose another name.")}
    for width, height in ((1366, 768), (390, 844)):
        segment, kind, twin, existing, bad_name, explained = walks[width]
        page.set_viewport_size({"width": width, "height": height})
        page.goto(f"{live_server}/admin/settings")
        section = page.get_by_role("region", name=segment.capitalize())
        section.get_by_label(f"New {kind}").fill(twin)
        section.get_by_role("button", name="Add").click()
        said = (f"The {kind} '{existing}' exists already; '{twin}' differs from it only in "
                f"upper and lower case. Use '{existing}'.")
        summary = page.get_by_role("alert").filter(has_text="Not saved")
        expect(summary).to_be_focused()  # the first thing a keyboard or screen reader meets
        assert said in summary.inner_text(), width
        section = page.get_by_role("region", name=segment.capitalize())
        assert said in section.inner_text(), width  # beside the field too
        field = section.get_by_label(f"New {kind}")
        assert field.input_value() == twin and field.get_attribute("aria-invalid") == "true"
        assert page.evaluate(NO_SCROLL), width
        snap(page, request, f"case-twin-{width}")
        with db.connection_context():
            assert not Vocabulary.select().where((Vocabulary.account == tenant.id)
                                                 & (Vocabulary.name == twin)).exists()

        fields = page.get_by_role("region", name="Custom fields")
        page.locator("#field-name").fill(bad_name)
        fields.get_by_role("button", name="Add field").click()
        summary = page.get_by_role("alert").filter(has_text="Not saved")
        expect(summary).to_be_focused()
        assert explained in summary.inner_text(), width
        assert "requested format" not in page.locator("main").inner_text()
        summary.get_by_role("link").click()  # the summary leads to the field to fix
        expect(page.locator("#field-name")).to_be_focused()
        assert page.locator("#field-name").input_value() == bad_name  # kept, to correct
        assert page.evaluate(NO_SCROLL), width
        snap(page, request, f"bad-field-name-{width}")
        page.locator("#field-name").fill(f"shoe_size_{width}")
        page.get_by_role("region", name="Custom fields").get_by_role(
            "button", name="Add field").click()
        page.get_by_role("status").filter(has_text=f"(shoe_size_{width}) added").wait_for()
        assert_accessible(page)
    with db.connection_context():
        assert CustomField.select().where(CustomField.account == tenant.id).count() == 2
