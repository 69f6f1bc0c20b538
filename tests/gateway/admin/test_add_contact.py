from gateway.accounts import add_custom_field
from gateway.models import Consent, Contact
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
