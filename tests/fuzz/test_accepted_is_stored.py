"""Unstorable text through the public intake paths: a 202 must end stored or visibly reported.

NUL cannot be stored in PostgreSQL text; a lone surrogate cannot be encoded as UTF-8 at all.
A form or webhook that answers 202 for such a value and then fails in its job has lost an
accepted request. Either refuse it up front (4xx) or store it: never accept-then-drop.
"""

import json
import time

import pytest

from gateway.models import Contact

CASES = [("nul", "a\x00b"), ("surrogate", "a\ud800b")]


def _form(client, tenant):
    r = client.post("/api/forms", headers=tenant.headers, json={
        "name": "N", "source": "Website", "double_opt_in": False, "min_fill_seconds": 0,
        "languages": ["en"], "fields": ["first_name"]})
    assert r.status_code == 201, r.text
    return r.json()


@pytest.mark.parametrize(("label", "text"), CASES)
def test_forms_never_accept_then_drop(client, settings, tenant, run_jobs, label, text):
    from forms import tokens
    form = _form(client, tenant)
    ts = tokens.render_token(settings.secret_key, form["id"], now=time.time() - 5)
    email = f"{label}@example.com"
    # What a browser sends for that text (a lone surrogate can't be UTF-8: it arrives as
    # the bytes of its surrogate-escaped form, which the server decodes as it can).
    value = text.encode("utf-8", "surrogatepass").decode("latin-1") if label == "surrogate" \
        else text
    r = client.post(f"/f/{form['slug']}", data={"email": email, "first_name": value,
                                                "_ts": ts}, headers={"Accept": "application/json"})
    assert r.status_code < 500
    run_jobs()
    if r.status_code == 202:  # accepted: then it is stored
        assert Contact.select().where(Contact.email == email).exists()


@pytest.mark.parametrize(("label", "text"), CASES)
def test_webhooks_never_accept_then_drop(client, tenant, run_jobs, label, text):
    from connectors.models import Delivery
    hook = client.post("/api/hooks", headers=tenant.headers, json={
        "kind": "generic", "name": "x", "auth": "bearer", "source": "Website",
        "language": "nl", "mapping": {"email": "email", "first_name": "first_name"}}).json()
    email = f"hook-{label}@example.com"
    body = json.dumps({"email": email, "first_name": text})  # \u0000 / \ud800 escapes
    r = client.post(f"/hooks/{hook['id']}", content=body, headers={
        "Authorization": f"Bearer {hook['secret']}", "content-type": "application/json"})
    assert r.status_code < 500
    run_jobs()
    if r.status_code != 202:
        return  # refused up front: fine
    stored = Contact.select().where(Contact.email == email).exists()
    reported = Delivery.select().where((Delivery.hook == hook["id"])
                                       & (Delivery.status == "dead")).exists()
    assert stored or reported
