import re

from starlette.datastructures import FormData

from connectors.models import Delivery, Hook
from gateway.admin.connectors import BadJson, hook_from_form
from gateway.models import Contact
from tests.gateway.admin.conftest import csrf_of


def test_hook_from_form_parses_the_json_boxes():
    data = hook_from_form(FormData([("name", " Zap "), ("auth", "bearer"), ("source", "Website"),
                                    ("contact_status", "confirmed"), ("enabled", "yes"),
                                    ("mapping", '{"email": "data.email"}'), ("form_id", "")]))
    assert data["name"] == "Zap" and data["mapping"] == {"email": "data.email"}
    assert data["language_map"] == {} and data["form_id"] is None and data["enabled"] is True
    try:
        hook_from_form(FormData([("mapping", "{email: x}")]))
    except BadJson as exc:
        assert exc.field == "mapping" and "line 1" in str(exc)
    else:
        raise AssertionError("bad JSON accepted")


def create(client, **fields):
    token = csrf_of(client.get("/admin/connectors/new").text)
    data = {"csrf_token": token, "kind": "generic", "name": "Zapier", "auth": "bearer",
            "source": "Website", "language": "nl", "contact_status": "confirmed",
            "enabled": "yes", "mapping": '{"email": "email", "language": "lang"}', **fields}
    return client.post("/admin/connectors/new", data=data, follow_redirects=False)


def test_secret_once_delivery_dead_letter_fix_and_replay(admin_client, tenant, run_jobs):
    r = create(admin_client)
    assert r.status_code == 303
    hook = Hook.get(name="Zapier")
    page = admin_client.get(r.headers["location"]).text
    secret = re.search(r'<code id="hook-secret">([^<]+)</code>', page).group(1)
    assert secret not in admin_client.get(r.headers["location"]).text  # only once
    sent = admin_client.post(f"/hooks/{hook.id}", json=[{"email": "ann@example.com",
                                                         "lang": "Dutch"}],
                             headers={"authorization": f"Bearer {secret}"})
    assert sent.status_code == 202, sent.text
    run_jobs()
    page = admin_client.get(f"/admin/connectors/{hook.id}").text
    assert "Replay all 1" in page and "dead" in page
    token = csrf_of(page)
    # The test preview shows the problem, then the fix, without writing anything.
    r = admin_client.post(f"/admin/connectors/{hook.id}/test",
                          data={"csrf_token": token, "payload": '{"email": "bob@example.com",'
                                                                ' "lang": "Dutch"}'})
    assert "failed" in r.text and "language" in r.text
    admin_client.post(f"/admin/connectors/{hook.id}/edit", data={
        "csrf_token": token, "kind": "generic", "name": "Zapier", "auth": "bearer",
        "source": "Website", "language": "nl", "contact_status": "confirmed", "enabled": "yes",
        "mapping": '{"email": "email", "language": "lang"}', "language_map": '{"Dutch": "nl"}'})
    r = admin_client.post(f"/admin/connectors/{hook.id}/test",
                          data={"csrf_token": token, "payload": '{"email": "bob@example.com",'
                                                                ' "lang": "Dutch"}'})
    assert "created" in r.text and not Contact.select().where(
        Contact.email == "bob@example.com").exists()
    dead = Delivery.get(hook=hook.id)
    r = admin_client.post(f"/admin/connectors/{hook.id}/dead-letters/{dead.id}/replay",
                          data={"csrf_token": token})
    assert "queued again" in r.text
    run_jobs()
    assert Contact.get(email="ann@example.com").language == "nl"
    assert Delivery.get_by_id(dead.id).status == "done"


def test_invalid_hooks_show_errors(admin_client, tenant):
    r = create(admin_client, mapping='{"mail": "x"}')
    assert r.status_code == 422 and "Unknown field" in r.text and "Map the e-mail" in r.text
    r = create(admin_client, mapping="{not json")
    assert r.status_code == 422 and "Not valid JSON" in r.text
    assert "{not json</textarea>" in r.text  # what was typed stays
    assert Hook.select().count() == 0


def test_efficy_needs_no_mapping(admin_client, tenant):
    token = csrf_of(admin_client.get("/admin/connectors/new?kind=efficy").text)
    r = admin_client.post("/admin/connectors/new", data={
        "csrf_token": token, "kind": "efficy", "name": "CRM", "auth": "standard-webhooks",
        "source": "Fair", "contact_status": "confirmed", "on_delete": "blacklist",
        "enabled": "yes"}, follow_redirects=False)
    assert r.status_code == 303, r.text
    hook = Hook.get(name="CRM")
    assert (hook.kind, hook.on_delete, hook.language) == ("efficy", "blacklist", "nl")
    assert f"/hooks/efficy/{hook.id}" in admin_client.get(r.headers["location"]).text


def test_another_accounts_hook_is_not_found(admin_client, tenant, other_tenant):
    from connectors import service
    theirs, _ = service.create_hook(other_tenant.id, {"name": "Theirs", "source": "Website",
                                                      "mapping": {"email": "e"}})
    assert admin_client.get(f"/admin/connectors/{theirs.id}").status_code == 404
    token = csrf_of(admin_client.get("/admin/connectors").text)
    for action in ("rotate", "delete", "dead-letters/replay"):
        r = admin_client.post(f"/admin/connectors/{theirs.id}/{action}",
                              data={"csrf_token": token})
        assert r.status_code == 404, action
    assert Hook.get_by_id(theirs.id).secret_salt == theirs.secret_salt
