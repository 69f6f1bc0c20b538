"""The admin flows walked in Debian's chromium, with an accessibility check on every page."""

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from playwright.sync_api import expect

from gateway import contacts
from gateway.accounts import add_custom_field
from gateway.contacts import Provenance
from gateway.db import utcnow
from gateway.models import Account, ApiToken, Contact, Vocabulary
from tests.gateway.admin.conftest import assert_accessible, follow, shown_day

PROV = Provenance(channel="api", reference="token:1")


def seed(account_id, email, status="confirmed", age=None):
    c = contacts.create(account_id, {"email": email, "language": "nl", "source": "Website",
                                     "status": status}, PROV)
    if age:
        Contact.update(created_at=utcnow() - age).where(Contact.id == c.id).execute()
    return c


def test_login_logout_and_wrong_password(page, live_server, admin):
    page.set_default_timeout(10_000)
    page.goto(f"{live_server}/admin/settings")
    assert "/admin/login" in page.url
    assert_accessible(page)
    page.get_by_label("E-mail address").fill(admin.email)
    page.get_by_label("Password").fill("not the password")
    page.get_by_role("button", name="Log in").click()
    assert "Wrong e-mail address or password." in page.get_by_role("alert").inner_text()
    page.get_by_label("Password").fill(admin.password)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url("**/admin/settings")  # back where the user wanted to go
    page.get_by_role("button", name="Log out").click()
    page.wait_for_url("**/admin/login")
    page.goto(f"{live_server}/admin/contacts")
    assert "/admin/login" in page.url


def test_contacts_tabs_detail_and_blacklist(admin_page, tenant):
    page, base = admin_page, admin_page.base
    seed(tenant.id, "old@example.com", age=timedelta(days=3))
    seed(tenant.id, "earlier@example.com", age=timedelta(hours=2))
    seed(tenant.id, "new@example.com")
    seed(tenant.id, "pending@example.com", status="unconfirmed")
    Account.update(time_zone="Europe/Brussels").where(Account.id == tenant.id).execute()
    page.goto(f"{base}/admin/contacts")
    assert_accessible(page)
    tabs = page.get_by_role("navigation", name="Contact status")
    assert tabs.get_by_role("link").all_inner_texts() == [
        "Confirmed 3", "Unconfirmed 1", "Blacklisted 0"]
    cells = page.locator("tbody tr").evaluate_all(
        "rows => rows.map(r => [r.cells[0].innerText, r.cells[4].innerText])")
    def local_day(age: timedelta):  # "Today" is the account's, not UTC's
        return (datetime.now(UTC) - age).astimezone(ZoneInfo("Europe/Brussels")).date()
    earlier = local_day(timedelta(hours=2))
    assert cells == [["new@example.com", "Just now"],
                     ["earlier@example.com", "Today" if earlier == local_day(timedelta(0))
                      else shown_day(earlier)],
                     ["old@example.com", shown_day(local_day(timedelta(days=3)))]]
    page.get_by_label("Search by e-mail").fill("earl")
    page.get_by_role("button", name="Search").click()
    # htmx swaps the list in place; wait for the search in the address bar, then the one row
    page.wait_for_url("**q=earl**")
    expect(page.locator("tbody tr")).to_have_count(1)
    follow(page.get_by_role("link", name="earlier@example.com"))
    assert page.get_by_role("heading", level=1).inner_text().startswith("earlier@example.com")
    assert_accessible(page)
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Blacklist").click()
    page.get_by_role("status").filter(has_text="is blacklisted").wait_for()
    follow(page.get_by_role("link", name="Contacts", exact=True))
    assert tabs.get_by_role("link").all_inner_texts() == [
        "Confirmed 2", "Unconfirmed 1", "Blacklisted 1"]
    follow(page.get_by_role("link", name="Blacklisted 1"))
    assert page.locator("tbody tr td:first-child").all_inner_texts() == ["earlier@example.com"]


def test_delete_asks_first(admin_page, tenant):
    page, base = admin_page, admin_page.base
    c = seed(tenant.id, "gone@example.com")
    page.goto(f"{base}/admin/contacts/{c.id}")
    page.once("dialog", lambda dialog: dialog.dismiss())
    page.get_by_role("button", name="Delete").click()
    assert Contact.get_or_none(id=c.id) is not None
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Delete").click()
    page.get_by_role("status").filter(has_text="gone@example.com was deleted").wait_for()
    assert Contact.get_or_none(id=c.id) is None


def test_add_one_contact_with_inline_errors(admin_page, tenant):
    page = admin_page
    add_custom_field(tenant.id, {"name": "birthday", "type": "date"})
    add_custom_field(tenant.id, {"name": "size", "type": "choice", "choices": ["S", "M"]})
    follow(page.get_by_role("link", name="Add contacts"))
    assert_accessible(page)
    for name in ("Upload a file", "Add one contact", "Connect with the API", "Other options"):
        assert page.get_by_role("heading", name=name).is_visible()
    follow(page.get_by_role("link", name="Add one contact"))
    assert_accessible(page)
    page.get_by_label("E-mail address").fill("ann@example")
    page.get_by_role("button", name="Add contact").click()
    summary = page.get_by_role("alert")
    assert summary.is_visible()
    # Focus lands on the summary; its entries are links that move focus to their field.
    page.wait_for_function("document.activeElement.id === 'error-summary'")
    summary.get_by_role("link", name="The language is required.").click()
    assert page.evaluate("document.activeElement.id") == "language"
    email = page.get_by_label("E-mail address")
    assert email.get_attribute("aria-invalid") == "true"
    assert "not a valid e-mail address" in page.locator("#email-errors").inner_text()
    assert page.locator("#language-errors").inner_text() == "The language is required."
    assert "obtained rightfully" in page.locator("#obtained_rightfully-errors").inner_text()
    assert_accessible(page)
    email.fill("ann@example.com")
    page.get_by_label("First name").fill("Ann")
    page.get_by_label("Language").select_option("fr")
    page.locator("#source").select_option("Fair")
    page.get_by_label("Weekly").check()
    page.get_by_label("Music").check()
    page.get_by_label("birthday").fill("1990-02-03")
    page.get_by_label("size").select_option("M")
    page.get_by_label("I confirm this contact's data was obtained rightfully").check()
    page.get_by_role("button", name="Add contact").click()
    page.get_by_role("status").filter(has_text="ann@example.com was added").wait_for()
    contact = Contact.get(email="ann@example.com")
    assert (contact.first_name, contact.language, contact.source) == ("Ann", "fr", "Fair")
    assert contact.custom_fields == {"birthday": "1990-02-03", "size": "M"}
    assert "Just now" in page.locator("dl.fields").inner_text()
    assert "admin" in page.locator("table").first.inner_text()  # the consent record


def test_api_tokens(admin_page, tenant):
    page, base = admin_page, admin_page.base
    page.goto(f"{base}/admin/api")
    assert_accessible(page)
    assert page.locator("#account-id").inner_text() == str(tenant.id)
    page.get_by_label("Name (to recognise it later)").fill("webshop")
    page.get_by_role("button", name="Create token").click()
    token = page.locator("#new-token").inner_text()
    assert token.startswith("inl_")
    assert_accessible(page)
    row = ApiToken.get(name="webshop")
    page.reload()
    assert page.locator("#new-token").count() == 0
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Revoke token webshop").click()
    page.get_by_role("status").filter(has_text="was revoked").wait_for()
    assert ApiToken.get_by_id(row.id).revoked_at is not None


def test_settings(admin_page, tenant):
    page, base = admin_page, admin_page.base
    page.goto(f"{base}/admin/settings")
    assert_accessible(page)
    page.get_by_label("New language").fill("de")
    page.get_by_role("button", name="Add").first.click()
    page.get_by_role("status").filter(has_text="Language 'de' added").wait_for()
    page.get_by_label("New language").fill("german")
    page.get_by_role("button", name="Add").first.click()
    assert "two-letter" in page.get_by_role("alert").inner_text()
    page.get_by_label("New source").fill("Newsletter")
    page.locator("form[action$='/settings/sources'] button").click()
    page.get_by_label("Field name").fill("shoe_size")
    page.get_by_label("Type").select_option("number")
    page.get_by_role("button", name="Add field").click()
    page.get_by_role("status").filter(has_text="(shoe_size) added").wait_for()
    assert_accessible(page)
    page.get_by_role("link", name="Remove Sports").click()  # a page says what uses it
    page.get_by_role("button", name="Remove Sports").click()
    page.get_by_role("status").filter(has_text="removed").wait_for()
    kinds = {(v.kind, v.name) for v in Vocabulary.select().where(Vocabulary.account == tenant.id)}
    assert ("language", "de") in kinds and ("source", "Newsletter") in kinds
    assert ("interest", "Sports") not in kinds


CONTRAST_SCRIPT = """
(selector) => {
  const rgb = (c) => c.match(/[\\d.]+/g).slice(0, 3).map(Number);
  const lum = (c) => { const [r, g, b] = rgb(c).map(v => { v /= 255;
    return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; });
    return 0.2126 * r + 0.7152 * g + 0.0722 * b; };
  const ratio = (a, b) => { const [x, y] = [lum(a), lum(b)].sort((p, q) => q - p);
    return (x + 0.05) / (y + 0.05); };
  const el = document.querySelector(selector);
  const style = getComputedStyle(el);
  const white = 'rgb(255, 255, 255)';
  return {border: ratio(style.borderTopColor, white),
          outline: style.outlineStyle === 'none' ? 0 : ratio(style.outlineColor, white),
          width: parseFloat(style.outlineWidth)};
}
"""


def test_focus_ring_and_button_borders_contrast_three_to_one(admin_page):
    page = admin_page  # WCAG 1.4.11: 3:1 against the white page
    page.goto(f"{page.base}/admin/contacts")
    page.get_by_label("Search by e-mail").focus()
    page.keyboard.press("Tab")  # keyboard focus: :focus-visible applies
    seen = page.evaluate(CONTRAST_SCRIPT, "button[type=submit]:focus")
    assert seen["outline"] >= 3 and seen["width"] >= 2, seen
    assert seen["border"] >= 3, seen  # the secondary "Search" button's own border


def _summary_leads_to(page, link_text: str, field_id: str) -> None:
    """Focus is on the error summary; its entry moves focus to the field it names."""
    page.wait_for_function("document.activeElement.id === 'error-summary'")
    page.locator("#error-summary").get_by_role("link", name=link_text).click()
    assert page.evaluate("document.activeElement.id") == field_id


def test_every_failed_submit_focuses_a_summary_linked_to_its_field(admin_page, request):
    from tests.gateway.admin.conftest import snap
    page, base = admin_page, admin_page.base
    for width, height in ((1366, 768), (390, 844)):
        page.set_viewport_size({"width": width, "height": height})
        page.goto(f"{base}/admin/settings")
        page.get_by_label("Reports and alerts to").fill("not an address")
        page.get_by_role("button", name="Save sender, reports and website").click()
        _summary_leads_to(page, "An e-mail address such as team@example.com.",
                          "notification-email")
        page.goto(f"{base}/admin/api")
        for box in page.get_by_role("checkbox").all():
            box.uncheck()
        page.get_by_role("button", name="Create token").click()
        _summary_leads_to(page, "Pick at least one scope.", "scope-0")
        page.goto(f"{base}/admin/connectors/new")
        page.get_by_label("Name of the hook").fill(" ")
        page.get_by_role("button", name="Create hook").last.click()
        page.wait_for_function("document.activeElement.id === 'error-summary'")
        page.locator("#error-summary").get_by_role("link").first.click()
        assert page.evaluate("document.activeElement.id") == "name"
        snap(page, request, f"hook-error-{width}")
        assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    page.context.clear_cookies()  # logged out
    page.goto(f"{base}/admin/login")
    page.get_by_label("E-mail address").fill("boss@acme.example.com")
    page.get_by_label("Password").fill("wrong password")
    page.get_by_role("button", name="Log in").click()
    page.wait_for_function("document.activeElement.id === 'error-summary'")
    page.locator("#error-summary").get_by_role("link").click()
    assert page.evaluate("document.activeElement.id") == "email"
    snap(page, request, "login-error")
