"""Every admin page on a phone (390×844) and a laptop (1366×768), with long data: no page
scrolls sideways, every control is a 44 px tap target, and the menu collapses."""

import io
import time

import pytest
from starlette.routing import Mount, Route

from connectors.service import create_hook
from forms.definitions import create_form
from gateway import contacts
from gateway.accounts import add_custom_field, add_vocabulary
from gateway.contacts import Provenance
from gateway.imports import service as imports
from gateway.models import Account
from tests.gateway.admin.conftest import assert_accessible, snap

PHONE, LAPTOP = {"width": 390, "height": 844}, {"width": 1366, "height": 768}
LONG = "x" * 200  # one unbroken 200-character word: the worst case for a layout
LONG_URL = "https://www.example.com/" + "very-long-path-segment/" * 12 + "?q=" + "y" * 80

# GET routes that are not pages: a download and JSON for the progress script.
NOT_PAGES = {"import_errors", "import_progress", "import_finished", "static", "unknown",
             "logout", "logout_everywhere", "contacts_export", "contact_data"}

# Controls smaller than 44 px (checkboxes and radios count by their label's row).
TAP_SCRIPT = """
() => {
  const small = [];
  const seen = (el) => { const r = el.getBoundingClientRect(); return r.width && r.height; };
  const controls = 'button, select, summary, input:not([type=hidden]), textarea, '
    + 'header nav a, .tabs a, .pager a, a.button';
  for (const el of document.querySelectorAll(controls)) {
    if (!seen(el)) continue;
    let box = el;
    if (el.type === 'checkbox' || el.type === 'radio') box = el.closest('label') || el;
    const r = box.getBoundingClientRect();
    if (r.height < 43.5) small.push(el.outerHTML.slice(0, 90) + ' ' + Math.round(r.height));
  }
  return small;
}
"""

WIDE_SCRIPT = """
() => [...document.querySelectorAll('body *')]
  .filter(el => el.getBoundingClientRect().right > document.documentElement.clientWidth + 1)
  .slice(0, 5).map(el => el.outerHTML.slice(0, 120))
"""


def admin_get_routes(app) -> list[Route]:
    """Every GET route of the admin, as the app assembles it (areas included)."""
    mount = next(r for r in app.routes if isinstance(r, Mount) and r.path == "/admin")
    return [r for r in mount.routes if isinstance(r, Route) and "GET" in (r.methods or ())
            and r.name not in NOT_PAGES]


def long_data(account_id: int, run_jobs) -> dict:
    """A contact, imports at three steps, a form and a hook, all with long values."""
    source = add_vocabulary(account_id, "source", "S" * 100)
    add_vocabulary(account_id, "interest", "I" * 100)
    field = add_custom_field(account_id, {"name": "n" * 60, "type": "text"})
    contact = contacts.create(account_id, {
        "email": f"{'e' * 60}@{'d' * 60}.example.com", "first_name": LONG, "name": LONG,
        "language": "nl", "source": "S" * 100, "interests": ["I" * 100],
        "custom_fields": {"n" * 60: LONG}, "status": "confirmed"},
        Provenance(channel="admin", reference="user:1", actor="boss@acme.example.com",
                   user_agent="Mozilla/5.0 " + LONG, text="Consent " + LONG))
    header = f"E-mail;Voornaam;Taal;{'column' * 30};Bron\r\n"
    body = header + f"ann@example.com;{LONG};nl;{LONG_URL};Website\r\n" * 3
    steps = []
    for _ in range(3):
        imp = imports.create_from_upload(account_id, f"{'file' * 40}.csv",
                                         io.BytesIO(body.encode()), consent=True)
        steps.append(imp)
    imports.set_mapping(account_id, steps[1].id, steps[1].mapping)  # → validation → review
    imports.set_mapping(account_id, steps[2].id, steps[2].mapping)
    run_jobs()
    imports.finalise(account_id, steps[2].id)  # → report
    run_jobs()
    form = create_form(account_id, {"name": "F" * 200, "source": "Website",
                                    "languages": ["nl", "en"],
                                    "allowed_origins": ["https://" + "w" * 60 + ".example.com"],
                                    "after_submit_url": LONG_URL})
    hook, _ = create_hook(account_id, {"kind": "generic", "name": "H" * 200, "auth": "bearer",
                                       "source": "Website", "language": "nl",
                                       "mapping": {"email": "email"}})
    endpoint = long_endpoint(account_id)
    return {"contact_id": contact.id, "form_id": form.id, "hook_id": hook.id,
            "endpoint_id": endpoint,
            "import_id": steps[0].id, "imports": [imp.id for imp in steps],
            # the removal pages of a used source and of a custom field
            "by_route": {"entry_delete": {"kind": "sources", "entry_id": source.id},
                         "field_delete": {"entry_id": field.id}}}


def long_endpoint(account_id: int) -> int:
    """An event endpoint with a long URL, a dead delivery and a long answer logged."""
    from events.endpoints import create_endpoint
    from events.models import Event, EventAttempt, EventDelivery
    endpoint, _ = create_endpoint(account_id, {"url": LONG_URL, "events": ["*"],
                                               "description": "D" * 200})
    event = Event.create(account=account_id, type="contact.created", data="{}")
    dead = EventDelivery.create(event=event.id, endpoint=endpoint.id, status="dead",
                                attempts=12, last_error="answered 500 " + LONG)
    EventAttempt.create(endpoint=endpoint.id, delivery=dead.id, status_code=500,
                        response=LONG * 5, error="answered 500")
    return endpoint.id


def page_urls(app, ids: dict) -> list[tuple[str, str]]:
    """(name, path) of every admin page, ids filled from the resources made."""
    urls = []
    for route in admin_get_routes(app):
        params = ids["by_route"].get(route.name) or {
            name: ids[name] for name in route.param_convertors}
        urls.append((route.name, str(app.url_path_for(f"admin:{route.name}", **params))))
    # The wizard shows one page per step: each step's page, and a query's variant.
    urls += [(f"import-step-{i}", f"/admin/imports/{imp}") for i, imp in
             enumerate(ids["imports"][1:], 2)]
    urls += [("not-found", "/admin/no-such-page"),
             ("contacts-search", f"/admin/contacts?q={'q' * 120}&tab=blacklisted")]
    return urls


def check_page(page, url: str, size: dict) -> list[str]:
    """Problems of one page at one size: sideways scroll, small tap targets, labels."""
    page.set_viewport_size(size)
    page.goto(url)
    assert_accessible(page)
    problems = []
    width = page.evaluate("document.documentElement.scrollWidth")
    if width > size["width"]:
        problems.append(f"{width} px wide: {page.evaluate(WIDE_SCRIPT)}")
    if size is PHONE:
        problems += page.evaluate(TAP_SCRIPT)
    return problems


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_every_admin_page_fits_a_phone_and_a_laptop(app, page, live_server, admin, tenant,
                                                    run_jobs, request):
    ids = long_data(tenant.id, run_jobs)
    page.set_default_timeout(10_000)
    page.set_viewport_size(PHONE)
    page.goto(f"{live_server}/admin/login")
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    snap(page, request, "login-phone")
    page.get_by_label("E-mail address").fill(admin.email)
    page.get_by_label("Password").fill(admin.password)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url("**/admin/contacts")

    urls = page_urls(app, ids)
    visited = {name for name, _ in urls}
    assert {"contacts", "contact", "add_one", "settings", "api", "imports", "import",
            "forms", "form", "form_edit", "hooks", "hook", "hook_edit", "event_endpoints",
            "event_endpoint"} <= visited
    problems = {}
    for name, path in urls:
        for size, label in ((PHONE, "phone"), (LAPTOP, "laptop")):
            found = check_page(page, live_server + path, size)
            snap(page, request, f"{name}-{label}")
            if found:
                problems[f"{name} {label}"] = found
    assert problems == {}


def test_the_menu_collapses_on_a_phone_and_works_without_script(browser, live_server, admin,
                                                                request):
    context = browser.new_context(java_script_enabled=False, viewport=PHONE)
    page = context.new_page()
    page.set_default_timeout(10_000)
    try:
        page.goto(f"{live_server}/admin/login")
        page.get_by_label("E-mail address").fill(admin.email)
        page.get_by_label("Password").fill(admin.password)
        page.get_by_role("button", name="Log in").click()
        page.wait_for_url("**/admin/contacts")
        settings = page.get_by_role("link", name="Settings")
        assert not settings.is_visible()  # folded away
        menu = page.locator("details.menu > summary")
        menu.click()
        snap(page, request, "menu-open-phone")
        assert settings.is_visible() and page.get_by_role("button", name="Log out").is_visible()
        box = settings.bounding_box()
        assert box["x"] + box["width"] <= PHONE["width"] and box["height"] >= 44
        page.set_viewport_size(LAPTOP)  # wide: always shown, no "Menu" button
        page.goto(f"{live_server}/admin/contacts")
        assert not menu.is_visible()
        assert page.get_by_role("link", name="Settings").is_visible()
        snap(page, request, "menu-laptop")
        assert Account.get_by_id(admin.account_id).time_zone is None  # no script: Brussels
    finally:
        context.close()
    # With script, the first login offers the browser's zone to the account.
    context = browser.new_context(timezone_id="America/New_York", viewport=PHONE)
    try:
        page = context.new_page()
        page.goto(f"{live_server}/admin/login")
        page.get_by_label("E-mail address").fill(admin.email)
        page.get_by_label("Password").fill(admin.password)
        page.get_by_role("button", name="Log in").click()
        page.wait_for_url("**/admin/contacts")
        deadline = time.time() + 5
        while Account.get_by_id(admin.account_id).time_zone is None and time.time() < deadline:
            time.sleep(0.05)
        assert Account.get_by_id(admin.account_id).time_zone == "America/New_York"
    finally:
        context.close()
