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
    admin_client.post("/admin/settings/sources", data={"csrf_token": token, "name": "website"})
    assert names(tenant.id, "source") == ["Website", "Fair", "website"]  # case-sensitive
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
