"""A hook's page: requests that work when pasted, a test delivery, the mapping edited field
by field, deliveries in every state with reasons in words, and refused requests."""

from __future__ import annotations

import html
import re
import shutil
import subprocess
import threading
import time

import pytest

from connectors.models import Hook
from gateway.models import Contact
from tests.gateway.admin.conftest import csrf_of


def new_hook(client, **fields):
    """Create a hook through the admin's new-hook form, defaults untouched; returns its page."""
    page = client.get("/admin/connectors/new").text
    data = {"csrf_token": csrf_of(page), "kind": "generic", "name": "Zapier",
            "auth": "standard-webhooks", "source": "Website", "language": "",
            "contact_status": "confirmed", "enabled": "yes",
            "mapping_original": html.unescape(re.search(
                r'name="mapping_original" value="([^"]*)"', page).group(1))}
    for target, mode, text in re.findall(
            r'name="rule_mode-([^"]+)">.*?<option value="(\w+)" selected.*?'
            r'name="rule_text-[^"]+" value="([^"]*)"', page, re.S):
        data.setdefault("rule_target", []).append(target)
        data[f"rule_mode-{target}"], data[f"rule_text-{target}"] = mode, html.unescape(text)
    data["mapping"] = data["mapping_original"]
    data.update(fields)
    r = client.post("/admin/connectors/new", data=data, follow_redirects=True)
    assert r.status_code == 200, r.text
    return r.text


def example(page: str, key: str) -> str:
    return html.unescape(re.search(rf'<pre class="snippet" id="example-{key}">(.*?)</pre>',
                                   page, re.S).group(1))


def test_the_new_hook_form_defaults_to_a_flat_body(admin_client):
    page = admin_client.get("/admin/connectors/new").text
    assert 'name="rule_text-email" value="email"' in page
    assert 'name="rule_text-first_name" value="first_name"' in page
    assert 'value="data.email"' not in page
    new_hook(admin_client)
    assert Hook.get(Hook.name == "Zapier").mapping["email"] == "email"


@pytest.mark.parametrize("auth", ["standard-webhooks", "bearer"])
def test_the_pasted_examples_deliver(admin_client, live_server, run_jobs, auth):
    page = new_hook(admin_client, auth=auth)
    runs = [["bash", "-euo", "pipefail", "-c", example(page, "curl")],
            ["python3", "-c", example(page, "python")]]
    if shutil.which("node"):
        runs.append(["node", "-e", example(page, "javascript")])
    for command in runs:
        command[-1] = command[-1].replace("http://testserver", live_server)
        done = subprocess.run(command, capture_output=True, text=True, timeout=30)
        assert done.returncode == 0 and '"records"' in done.stdout, (command[0], done)
    run_jobs()
    hook = Hook.get(Hook.name == "Zapier")
    contact = Contact.get(Contact.email == f"test-delivery+hook{hook.id}@example.com")
    assert contact.first_name == "Zoë"
    assert hook.deliveries.count() == len(runs)


def with_worker(run_jobs, send) -> str:
    """``send()`` in a thread while a worker runs here (RQ's wants the main thread)."""
    answers = []
    sender = threading.Thread(target=lambda: answers.append(send()))
    sender.start()
    while sender.is_alive():
        run_jobs()
        time.sleep(0.1)
    sender.join()
    return answers[0].text


def test_send_a_test_delivery_shows_each_outcome(admin_client, run_jobs):
    page = new_hook(admin_client)
    hook = Hook.get(Hook.name == "Zapier")
    url = f"/admin/connectors/{hook.id}/send-test"
    token = csrf_of(page)
    sent = admin_client.post(url, data={"csrf_token": token})
    assert "Accepted (202), queued" in sent.text
    assert sent.history[0].status_code == 303  # POST-redirect-GET
    again = admin_client.get(sent.url)  # a reload sends nothing: no outcome shows again
    assert "Accepted (202)" not in again.text

    processed = with_worker(run_jobs, lambda: admin_client.post(url, data={"csrf_token": token}))
    contact = Contact.get(Contact.email == f"test-delivery+hook{hook.id}@example.com")
    assert "Accepted and processed" in processed
    assert f'href="/admin/contacts/{contact.id}"' in processed

    Hook.update(mapping={"email": "email", "interests": {"value": "Cooking"}}).where(
        Hook.id == hook.id).execute()
    dead = with_worker(run_jobs, lambda: admin_client.post(url, data={"csrf_token": token}))
    assert "it became a dead letter" in dead
    assert "record 1: interests: unknown interest" in html.unescape(dead)


def test_deliveries_show_reasons_and_refusals_show_why(admin_client, client, run_jobs):
    new_hook(admin_client, auth="bearer")
    hook = Hook.get(Hook.name == "Zapier")
    path = f"/hooks/{hook.id}"
    assert client.post(path, json={"email": "a@example.com"},
                       headers={"authorization": "Bearer wrong"}).status_code == 401
    from connectors.service import load_config
    secret = load_config(hook.id).secrets[0]
    assert client.post(path, json={"first_name": "No address"},
                       headers={"authorization": f"Bearer {secret}"}).status_code == 202
    page = html.unescape(admin_client.get(f"/admin/connectors/{hook.id}").text)
    assert "queued" in page
    run_jobs()
    page = html.unescape(admin_client.get(f"/admin/connectors/{hook.id}").text)
    refused = page[page.index('id="h-refused"'):page.index('id="h-dead"')]
    assert "401" in refused and "bearer secret is not valid" in refused
    assert "testclient" in refused
    assert "record 1: email: an e-mail address is required" in page
    assert "dead letter" in page


def test_the_mapping_editor_edits_fields_and_previews_the_last_delivery(admin_client, client,
                                                                         run_jobs):
    new_hook(admin_client, auth="bearer")
    hook = Hook.get(Hook.name == "Zapier")
    from connectors.service import load_config
    secret = load_config(hook.id).secrets[0]
    client.post(f"/hooks/{hook.id}", json={"data": {"mail": "zoë@example.com"}, "fn": "Zoë"},
                headers={"authorization": f"Bearer {secret}"})
    run_jobs()
    edit = admin_client.get(f"/admin/connectors/{hook.id}/edit").text
    assert "the last delivery" in edit and "\\u00eb" not in edit and "Zoë" in edit
    data = {"csrf_token": csrf_of(edit), "kind": "generic", "name": "Zapier", "auth": "bearer",
            "source": "Website", "contact_status": "confirmed", "enabled": "yes",
            "mapping_original": "{}", "mapping": "{}",
            "rule_target": ["email", "first_name", "source"],
            "rule_mode-email": "path", "rule_text-email": "data.mail",
            "rule_mode-first_name": "path", "rule_text-first_name": "fn",
            "rule_mode-source": "value", "rule_text-source": "Fair"}
    preview = admin_client.post(f"/admin/connectors/{hook.id}/edit",
                                data={**data, "action": "preview"})
    assert preview.status_code == 200
    assert "reads “zoë@example.com”" in preview.text and "reads “Zoë”" in preview.text
    assert Hook.get_by_id(hook.id).mapping["email"] == "email"  # a preview saves nothing
    saved = admin_client.post(f"/admin/connectors/{hook.id}/edit", data=data)
    assert saved.status_code == 200
    assert Hook.get_by_id(hook.id).mapping == {"email": "data.mail", "first_name": "fn",
                                               "source": {"value": "Fair"}}


def test_an_efficy_hooks_samples_are_efficy_records(admin_client):
    page = admin_client.get("/admin/connectors/new?kind=efficy").text
    r = admin_client.post("/admin/connectors/new", data={
        "csrf_token": csrf_of(page), "kind": "efficy", "name": "Efficy", "auth": "bearer",
        "source": "Fair", "contact_status": "confirmed", "enabled": "yes"})
    page = html.unescape(r.text)
    assert "EMAIL1" in page and "11000" in page and "/hooks/efficy/" in example(page, "curl")
