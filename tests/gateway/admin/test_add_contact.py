import re

from gateway.accounts import add_custom_field
from gateway.admin.wording import about
from gateway.contacts import count_contacts
from gateway.models import Consent, Contact, Vocabulary
from tests.gateway.admin.conftest import csrf_of


def post(client, **fields):
    token = csrf_of(client.get("/admin/contacts/new").text)
    return client.post("/admin/contacts/new", data={"csrf_token": token, **fields},
                       follow_redirects=False)


def test_add_one_contact_with_labels_and_custom_fields(admin_client, tenant, admin):
    add_custom_field(tenant.id, {"name": "birthday", "type": "date"})
    add_custom_field(tenant.id, {"name": "vip", "type": "boolean"})
    add_custom_field(tenant.id, {"name": "size", "type": "choice", "choices": ["S", "M"]})
    add_custom_field(tenant.id, {"name": "tags", "type": "multiple_choice",
                                 "choices": ["a", "b", "c"]})
    r = post(admin_client, email="Ann@X.example.com", first_name="Ann", language="fr",
             source="Fair", preferences=["Weekly"], interests=["Sports", "Music"],
             cf_birthday="1990-02-03", cf_vip="true", cf_size="M", cf_tags=["a", "c"],
             obtained_rightfully="yes")
    assert r.status_code == 303, r.text
    contact = Contact.get(email="ann@x.example.com")
    assert r.headers["location"] == f"/admin/contacts/{contact.id}"
    assert (contact.language, contact.source, contact.status) == ("fr", "Fair", "confirmed")
    assert contact.preferences == ["Weekly"] and sorted(contact.interests) == ["Music", "Sports"]
    assert contact.custom_fields == {"birthday": "1990-02-03", "vip": True, "size": "M",
                                     "tags": ["a", "c"]}
    consent = Consent.get(contact=contact.id)
    assert (consent.channel, consent.actor) == ("admin", admin.email)
    assert "obtained rightfully" in consent.text


def test_inline_errors_and_nothing_stored(admin_client, tenant):
    add_custom_field(tenant.id, {"name": "birthday", "type": "date"})
    r = post(admin_client, email="not-an-address", language="", source="website",
             cf_birthday="25/08/2018")
    assert r.status_code == 422
    html = r.text
    assert 'id="email-errors"' in html and "not a valid e-mail address" in html
    assert "The language is required." in html
    assert "Did you mean &#39;Website&#39;?" in html
    assert 'id="birthday-errors"' in html
    assert 'id="obtained_rightfully-errors"' in html
    assert 'value="not-an-address"' in html  # the typed values are kept
    assert Contact.select().count() == 0


def test_consent_checkbox_is_required(admin_client, tenant):
    r = post(admin_client, email="ann@x.example.com", language="nl", source="Website")
    assert r.status_code == 422 and "obtained rightfully" in r.text
    assert Contact.select().count() == 0


def test_existing_email_links_to_the_contact(admin_client, tenant):
    post(admin_client, email="ann@x.example.com", language="nl", source="Website",
         obtained_rightfully="yes")
    r = post(admin_client, email="ANN@x.example.com", language="en", source="Fair",
             obtained_rightfully="yes")
    assert r.status_code == 422 and "exists already" in r.text
    assert f'href="/admin/contacts/{Contact.get().id}"' in r.text
    assert Contact.get().language == "nl"


def test_a_new_source_is_created_with_the_contact_only(admin_client, tenant):
    r = post(admin_client, email="bad@", language="nl", new_source="Beurs 2025",
             obtained_rightfully="yes")
    assert r.status_code == 422
    assert not Vocabulary.select().where(Vocabulary.name == "Beurs 2025").exists()
    assert 'value="Beurs 2025"' in r.text and 'id="obtained_rightfully"' in r.text
    assert re.search(r'id="obtained_rightfully"[^>]*checked', r.text)  # the tick is kept
    r = post(admin_client, email="ann@x.example.com", language="nl", new_source="Beurs 2025",
             obtained_rightfully="yes")
    assert r.status_code == 303, r.text
    assert Contact.get().source == "Beurs 2025"
    assert Vocabulary.get(name="Beurs 2025").account_id == tenant.id


def test_a_new_account_picks_a_default_source(admin_client, admin, tenant):
    Vocabulary.delete().where((Vocabulary.account == tenant.id)
                              & (Vocabulary.kind == "source")).execute()
    html = admin_client.get("/admin/contacts/new").text
    assert 'name="new_source_pick" value="Website"' in html and 'id="source"' not in html
    r = post(admin_client, email="ann@x.example.com", language="nl",
             new_source_pick="Website", obtained_rightfully="yes")
    assert r.status_code == 303, r.text
    assert Contact.get().source == "Website"


def test_why_an_address_is_invalid_and_names_for_people(admin_client, tenant):
    add_custom_field(tenant.id, {"name": "birthday", "type": "date"})
    for address, reason in (("ann@example", "It should have a period"),
                            ("ann@@example.com", "invalid characters: &#39;@&#39;"),
                            ("ann smith@example.com", "SPACE")):
        r = post(admin_client, email=address, language="nl", source="Website")
        assert r.status_code == 422 and reason in r.text, (address, r.text)
    html = admin_client.get("/admin/contacts/new").text
    assert '<option value="nl" >Nederlands (nl)</option>' in html
    assert 'type="date"' in html


def test_the_contacts_count_is_estimated_above_the_threshold(tenant):
    where = Contact.account == tenant.id
    assert count_contacts(where) == (0, False)
    for i in range(4):
        Contact.create(account=tenant.id, email=f"c{i}@x.example.com", language="nl",
                       source="Website")
    assert count_contacts(where, limit=5) == (4, False)
    total, estimated = count_contacts(where, limit=3)
    assert estimated and total >= 3
    assert about(3, True, floor=3) == "more than 3"
    assert about(1_234_567, True) == "about 1.2 million"
    assert about(56_789, True) == "about 57,000" and about(40_304) == "40,304"


def test_add_one_contact_in_a_browser(admin_page, request, tenant):
    from tests.gateway.admin.conftest import snap
    page = admin_page
    for size, name in (({"width": 1366, "height": 768}, "laptop"),
                       ({"width": 390, "height": 844}, "phone")):
        page.set_viewport_size(size)
        page.goto(f"{page.base}/admin/contacts/new")
        page.get_by_label("E-mail address").fill("ann@example")
        page.get_by_label("Language").select_option(label="Nederlands (nl)")
        page.get_by_label("…or a new source").fill(f"Beurs {name}")
        page.get_by_label("I confirm").check()
        page.get_by_role("button", name="Add contact").click()
        assert "It should have a period" in page.locator("#email-errors").inner_text()
        assert page.get_by_label("I confirm").is_checked()  # nothing entered is lost
        assert page.get_by_label("…or a new source").input_value() == f"Beurs {name}"
        assert page.evaluate("document.documentElement.scrollWidth") <= size["width"]
        snap(page, request, f"{name}-error")
        page.get_by_label("E-mail address").fill(f"ann.{name}@example.com")
        page.get_by_role("button", name="Add contact").click()
        page.wait_for_url("**/admin/contacts/*")
        assert f"ann.{name}@example.com was added" in page.content()
        snap(page, request, f"{name}-added")
    assert Contact.get(email="ann.phone@example.com").source == "Beurs phone"
