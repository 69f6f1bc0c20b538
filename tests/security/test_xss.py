"""XSS payloads in every user-supplied field stay inert in the admin pages and the forms.

The payloads go in through the API (contacts, vocabularies, custom fields, forms, hooks,
imports, token names); a real browser then opens every admin page and the hosted form. No
script may run (``window.__xss`` stays undefined) and no injected element may exist.
"""

import re

import pytest

from tests.gateway.test_openapi import served_operations
from tests.security.conftest import sqlite_only

pytestmark = sqlite_only


def payload(tag: str) -> str:
    """One string carrying four ways to run script, each marked with ``tag``."""
    return (f"<img src=x id=xss-{tag} onerror=\"window.__xss='{tag}'\">"
            f"<script>window.__xss='{tag}'</script>"
            f"\"><svg onload=\"window.__xss='{tag}'\">'-alert(1)-'")


def plant(client, tenant) -> dict:
    """Payloads in every field a user can fill; returns the ids for the page URLs."""
    h = tenant.headers
    for kind, tag in (("sources", "src"), ("preferences", "pref"), ("interests", "int")):
        r = client.post(f"/api/{kind}", headers=h, json={"name": payload(tag)[:100]})
        assert r.status_code == 201, r.text
    client.post("/api/custom-fields", headers=h, json={"name": "note", "type": "text"})
    client.post("/api/custom-fields", headers=h, json={
        "name": "topic", "type": "choice", "choices": [payload("choice")[:100]]})
    contact = client.post("/api/contacts", headers=h, json={
        "email": "xss@example.com", "language": "nl", "source": payload("src")[:100],
        "first_name": payload("fn")[:200], "name": payload("ln")[:200],
        "preferences": [payload("pref")[:100]], "interests": [payload("int")[:100]],
        "custom_fields": {"note": payload("cf"), "topic": payload("choice")[:100]}})
    assert contact.status_code == 201, contact.text
    form = client.post("/api/forms", headers=h, json={
        "name": payload("form")[:200], "source": "Website", "languages": ["en"],
        "fields": ["first_name", "preferences", "interests"],
        "preferences": [payload("pref")[:100]], "interests": [payload("int")[:100]],
        "texts": {"en": {"title": payload("title"), "consent": payload("consent"),
                         "intro": payload("intro")}}})
    hook = client.post("/api/hooks", headers=h, json={
        "kind": "generic", "name": payload("hook")[:200], "auth": "bearer",
        "source": "Website", "language": "nl", "mapping": {"email": "email"}})
    imp = client.post("/api/imports", headers=h, files={"file": (
        "x.csv", f"email,first_name\nbad,{payload('cell')}\n".encode(), "text/csv")})
    ids = {"contact_id": contact.json()["id"]}
    for key, r in (("form_id", form), ("hook_id", hook), ("import_id", imp)):
        if r.status_code in (201, 202):
            ids[key] = r.json()["id"]
    ids["slug"] = form.json().get("slug") if form.status_code == 201 else None
    return ids


def admin_pages(app, ids: dict) -> list[str]:
    """Every GET page of the admin UI, with the planted resources' ids."""
    paths = []
    for template, method in served_operations(app.routes):
        if method != "get" or not template.startswith("/admin") or "{rest}" in template \
                or template.startswith("/admin/static") or template.endswith(".csv"):
            continue
        names = re.findall(r"\{(\w+)\}", template)
        if all(n in ids for n in names):
            paths.append(re.sub(r"\{(\w+)\}", lambda m: str(ids[m.group(1)]), template))
    return sorted(set(paths)) + ["/admin/contacts?tab=blacklisted",
                                 "/admin/contacts?q=" + "%3Cscript%3Ewindow.__xss%3D1%3C/script%3E"]


def assert_inert(page, url: str) -> None:
    response = page.goto(url)
    assert response.status < 500, (url, response.status)
    page.wait_for_load_state("load")
    assert page.evaluate("window.__xss") is None, url
    assert page.locator("[id^=xss-]").count() == 0, url
    assert page.locator("svg[onload]").count() == 0, url


def is_download(page, url: str) -> bool:
    """True for an attachment (an export), which a browser saves and never renders."""
    response = page.request.get(url)
    if not response.headers.get("content-disposition", "").startswith("attachment"):
        return False
    assert response.status == 200, (url, response.status)
    assert "html" not in response.headers["content-type"], url
    return True


@pytest.mark.timeout(120)
def test_admin_pages_render_every_payload_inert(admin_page, client, app, tenant):
    ids = plant(client, tenant)
    pages = admin_pages(app, ids)
    assert len(pages) >= 6
    seen_payload = False
    for path in pages:
        if is_download(admin_page, admin_page.base + path):
            continue
        assert_inert(admin_page, admin_page.base + path)
        seen_payload |= "window.__xss=" in admin_page.content()
    assert seen_payload, "the payloads should be shown (as text) somewhere"


@pytest.mark.timeout(60)
def test_hosted_form_renders_every_payload_inert(page, live_server, client, tenant):
    ids = plant(client, tenant)
    assert ids["slug"], "the form with payloads was refused"
    for query in ("", "?embed=iframe", "?lang=en&redirect=%22%3E%3Cscript%3Ewindow.__xss=1"
                                       "%3C/script%3E"):
        assert_inert(page, f"{live_server}/f/{ids['slug']}{query}")
    assert "window.__xss=" in page.content()


def test_the_check_catches_a_real_injection(page, database_url):
    """Control: the same payload rendered unescaped IS caught (the checks above can fail)."""
    page.set_content(f"<html><body>{payload('control')}</body></html>")
    page.wait_for_function("window.__xss !== undefined", timeout=5000)
    assert page.evaluate("window.__xss") == "control"
    assert page.locator("[id^=xss-]").count() == 1
