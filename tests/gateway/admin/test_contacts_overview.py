"""Contacts overview (#16, items 5–8): search by name, filters kept across tabs, pager both
ways with the position, edit, blacklist with a reason, empty states, re-adding blacklisted."""

import html as htmllib
import re

from gateway import contacts
from gateway.models import Contact
from tests.gateway.admin.conftest import account_day, csrf_of
from tests.gateway.admin.test_contacts import PROV, add, rows


def link(html, rel):
    found = re.search(rf'rel="{rel}" href="([^"]+)"', html)
    return htmllib.unescape(found.group(1)) if found else None


def test_search_matches_names_ignoring_case(admin_client, tenant):
    add(tenant.id, "n1@x.example.com", first_name="Nele", name="Peeters")
    add(tenant.id, "n2@x.example.com", first_name="Ann", name="Vannelen")
    add(tenant.id, "other@x.example.com", first_name="Bob")
    assert sorted(rows(admin_client.get("/admin/contacts?q=nele").text)) == [
        "n1@x.example.com", "n2@x.example.com"]
    assert rows(admin_client.get("/admin/contacts?q=PEETERS").text) == ["n1@x.example.com"]


def test_filters_narrow_and_survive_a_tab_switch(admin_client, tenant):
    add(tenant.id, "a@x.example.com", interests=["Music"], preferences=["Weekly"])
    add(tenant.id, "b@x.example.com", interests=["Sports"])
    add(tenant.id, "c@x.example.com", language="fr", status="unconfirmed", interests=["Music"])
    html = admin_client.get("/admin/contacts?interest=Music&q=x.example").text
    assert rows(html) == ["a@x.example.com"]
    assert rows(admin_client.get("/admin/contacts?preference=Weekly").text) == ["a@x.example.com"]
    tab = htmllib.unescape(re.search(r'href="(/admin/contacts\?tab=unconfirmed[^"]*)"',
                                     html).group(1))
    assert "interest=Music" in tab and "q=x.example" in tab
    assert rows(admin_client.get(tab).text) == ["c@x.example.com"]
    assert rows(admin_client.get("/admin/contacts?tab=unconfirmed&language=nl").text) == []
    assert "No unconfirmed contact matches these filters" in admin_client.get(
        "/admin/contacts?tab=unconfirmed&language=nl").text
    today = account_day(tenant.id, Contact.get(email="a@x.example.com").created_at)
    assert len(rows(admin_client.get(f"/admin/contacts?from={today}&to={today}").text)) >= 1
    assert rows(admin_client.get("/admin/contacts?to=2000-01-01").text) == []


def test_pager_previous_next_and_position(admin_client, tenant):
    for i in range(120):
        add(tenant.id, f"p{i:03d}@x.example.com")
    first = admin_client.get("/admin/contacts?size=50").text
    assert "1–50 of 120" in first and link(first, "prev") is None
    second = admin_client.get(link(first, "next")).text
    assert "51–100 of 120" in second
    third = admin_client.get(link(second, "next")).text
    assert "101–120 of 120" in third and link(third, "next") is None
    back = admin_client.get(link(third, "prev")).text
    assert "51–100 of 120" in back and rows(back) == rows(second)
    assert rows(admin_client.get(link(back, "prev")).text) == rows(first)
    assert len(rows(admin_client.get("/admin/contacts?size=100").text)) == 100


def test_edit_uses_the_api_rules(admin_client, tenant):
    c = add(tenant.id, "ann@x.example.com", first_name="Ann", interests=["Music", "Sports"])
    page = admin_client.get(f"/admin/contacts/{c.id}/edit").text
    assert re.search(r'name="interests" value="Sports" checked>', page)  # untickable
    form = {"csrf_token": csrf_of(page), "first_name": "", "name": "Peeters",
            "language": "fr", "source": "Website", "preferences": ["Weekly"],
            "interests": ["Music"]}
    r = admin_client.post(f"/admin/contacts/{c.id}/edit", data=form)
    assert r.status_code == 200 and "was saved" in r.text
    stored = contacts.to_dict(Contact.get_by_id(c.id))
    assert (stored["first_name"], stored["name"], stored["language"]) == (None, "Peeters", "fr")
    assert stored["interests"] == ["Music"]  # unticked on the edit page: removed
    assert stored["preferences"] == ["Weekly"]
    contacts.patch(tenant.id, c.id, {"interests": ["Sports"]}, PROV)  # the API only adds
    assert Contact.get_by_id(c.id).interests == ["Music", "Sports"]
    r = admin_client.post(f"/admin/contacts/{c.id}/edit", data=form | {"language": "xx"})
    assert r.status_code == 422 and 'id="error-summary"' in r.text
    assert Contact.get_by_id(c.id).language == "fr"


def test_blacklist_with_a_reason_shows_in_the_tab_and_refuses_a_re_add(admin_client, tenant):
    c = add(tenant.id, "ann@x.example.com")
    token = csrf_of(admin_client.get(f"/admin/contacts/{c.id}").text)
    admin_client.post(f"/admin/contacts/{c.id}/blacklist",
                      data={"csrf_token": token, "reason": "Asked by phone"})
    tab = admin_client.get("/admin/contacts?tab=blacklisted").text
    assert "Asked by phone" in tab and ">Just now</time>" in tab and "Blacklisted</th>" in tab
    page = admin_client.get("/admin/contacts/new").text
    r = admin_client.post("/admin/contacts/new", data={
        "csrf_token": csrf_of(page), "email": "ann@x.example.com", "language": "nl",
        "source": "Website", "obtained_rightfully": "yes"})
    assert r.status_code == 422
    assert "is blacklisted" in r.text and "Asked by phone" in r.text


def test_empty_states_say_what_to_do(admin_client, tenant):
    html = admin_client.get("/admin/contacts").text
    for words in ("Import a file", "Add a contact", "Create a form"):
        assert words in html
    add(tenant.id, "ann@x.example.com")
    html = admin_client.get("/admin/contacts?tab=unconfirmed").text
    assert "No unconfirmed contacts." in html and "yet" not in html.split("<main")[-1]
    contacts.blacklist(tenant.id, Contact.get().id, PROV)


def _many(account_id: int, rows: int) -> None:
    """``rows`` confirmed contacts in one statement (set-based: fast at any size)."""
    from gateway.db import db, is_postgres
    values = (f"{account_id}, 'm' || g || '@x.example.com', 'nl', 'Website', 'confirmed', "
              "'[]', '[]', '{}', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP")
    columns = ("(account_id, email, language, source, status, preferences, interests, "
               "custom_fields, created_at, updated_at)")
    if is_postgres():
        db.execute_sql(f"INSERT INTO contact {columns} SELECT {values} "
                       f"FROM generate_series(1, {rows}) AS g")
        db.execute_sql("ANALYZE contact")
    else:
        db.execute_sql(f"INSERT INTO contact {columns} WITH RECURSIVE s(g) AS (SELECT 1 "
                       f"UNION ALL SELECT g + 1 FROM s WHERE g < {rows}) SELECT {values} FROM s")


def test_counts_above_ten_thousand_say_about_in_tabs_and_pager(admin_client, tenant):
    from gateway.db import is_postgres
    _many(tenant.id, 30_000)
    html = admin_client.get("/admin/contacts").text
    said = "about 30,000" if is_postgres() else "more than 10,000"  # SQLite has no estimate
    assert f'Confirmed <span class="count">{said}</span>' in html
    assert f"1–50 of {said}</p>" in html
    html = admin_client.get("/admin/contacts?q=x.example").text  # a search: counted the same
    assert f"{said} confirmed contacts match" in html


def test_a_count_far_above_the_limit_is_the_estimate_a_near_one_is_counted(store, tenant):
    """PostgreSQL: an estimate five times the exact-count limit is taken as it is (no scan of
    the matching rows); nearer the limit the bounded count decides, as SQLite always does."""
    from gateway.db import is_postgres
    _many(tenant.id, 1_000)
    where = (Contact.account == tenant.id) & (Contact.status == "confirmed")
    count, estimated = contacts.count_contacts(where, limit=100)
    assert estimated and count == (1_000 if is_postgres() else 100)  # about 1,000: 10× limit
    count, estimated = contacts.count_contacts(where, limit=500)  # 2× the limit: counted
    assert estimated and count == (1_000 if is_postgres() else 500)
    assert contacts.count_contacts(where, limit=5_000) == (1_000, False)
