from datetime import timedelta

from gateway import contacts
from gateway.admin.contacts import PAGE_SIZE
from gateway.contacts import Provenance
from gateway.db import utcnow
from gateway.models import Consent, Contact, ContactEvent
from tests.conftest import make_tenant
from tests.gateway.admin.conftest import account_day, csrf_of, shown_day

PROV = Provenance(channel="api", reference="token:1", actor="test")


def add(account_id, email, status="confirmed", age=None, **extra):
    """A stored contact, created ``age`` ago."""
    data = {"email": email, "language": "nl", "source": "Website", "status": status, **extra}
    contact = contacts.create(account_id, data, PROV)
    if age is not None:
        Contact.update(created_at=utcnow() - age).where(Contact.id == contact.id).execute()
    return contact


def rows(html):
    """The e-mail addresses listed in the contacts table, in order."""
    import re
    body = html.split("<tbody>")[1].split("</tbody>")[0] if "<tbody>" in html else ""
    return re.findall(r'href="/admin/contacts/\d+">([^<]+)</a>', body)


def test_three_tabs_with_their_counts(admin_client, tenant):
    add(tenant.id, "a@x.example.com")
    add(tenant.id, "b@x.example.com")
    add(tenant.id, "u@x.example.com", status="unconfirmed")
    add(tenant.id, "z@x.example.com", status="blacklisted")
    html = admin_client.get("/admin/contacts").text
    assert rows(html) == ["b@x.example.com", "a@x.example.com"]
    for tab, count in (("Confirmed", 2), ("Unconfirmed", 1), ("Blacklisted", 1)):
        assert f'{tab} <span class="count">{count}</span>' in html
    assert rows(admin_client.get("/admin/contacts?tab=unconfirmed").text) == ["u@x.example.com"]
    assert rows(admin_client.get("/admin/contacts?tab=blacklisted").text) == ["z@x.example.com"]
    assert admin_client.get("/admin/contacts?tab=nope").status_code == 400


def test_newest_first_with_just_now_today_and_the_date(admin_client, tenant):
    add(tenant.id, "old@x.example.com", age=timedelta(days=400))
    add(tenant.id, "fresh@x.example.com", age=timedelta(minutes=5))
    old = shown_day(account_day(tenant.id, Contact.get(email="old@x.example.com").created_at))
    html = admin_client.get("/admin/contacts").text
    assert rows(html) == ["fresh@x.example.com", "old@x.example.com"]
    assert ">Just now</time>" in html and f">{old}</time>" in html
    assert rows(admin_client.get("/admin/contacts?sort=created_at").text) == [
        "old@x.example.com", "fresh@x.example.com"]


def test_search_by_email(admin_client, tenant):
    add(tenant.id, "ann@alpha.example.com")
    add(tenant.id, "bob@beta.example.com")
    html = admin_client.get("/admin/contacts?q=ALPHA").text
    assert rows(html) == ["ann@alpha.example.com"]
    assert "1 confirmed contact match" in html


def test_keyset_pagination_walks_every_contact_once(admin_client, tenant):
    for i in range(PAGE_SIZE + 3):
        add(tenant.id, f"c{i:03d}@x.example.com")
    first = admin_client.get("/admin/contacts").text
    assert len(rows(first)) == PAGE_SIZE
    import html as htmllib
    import re
    nxt = htmllib.unescape(re.search(r'rel="next" href="([^"]+)"', first).group(1))
    second = admin_client.get(nxt).text
    seen = rows(first) + rows(second)
    assert len(seen) == len(set(seen)) == PAGE_SIZE + 3
    assert 'rel="next"' not in second and 'rel="prev"' in second


def test_contact_page_shows_fields_consent_and_history(admin_client, tenant):
    c = add(tenant.id, "ann@x.example.com", first_name="Ann", preferences=["Weekly"],
            interests=["Music"])
    contacts.put(tenant.id, "ann@x.example.com", {"interests": ["Sports"]}, PROV)
    html = admin_client.get(f"/admin/contacts/{c.id}").text
    assert "Ann" in html and "Weekly" in html and "Music, Sports" in html
    assert "token:1" in html  # the consent record's reference
    assert "created" in html and "updated" in html


def test_another_accounts_contact_is_not_found(admin_client, tenant):
    rival = make_tenant("Rival")
    theirs = add(rival.id, "secret@rival.example.com")
    r = admin_client.get(f"/admin/contacts/{theirs.id}")
    assert r.status_code == 404 and "secret@rival.example.com" not in r.text
    token = csrf_of(admin_client.get("/admin/contacts").text)
    assert admin_client.post(f"/admin/contacts/{theirs.id}/delete",
                             data={"csrf_token": token}).status_code == 404
    assert admin_client.post(f"/admin/contacts/{theirs.id}/blacklist",
                             data={"csrf_token": token}).status_code == 404
    assert Contact.get_by_id(theirs.id).status == "confirmed"
    assert "secret@rival.example.com" not in admin_client.get("/admin/contacts?q=secret").text


def test_blacklist_and_delete(admin_client, tenant):
    c = add(tenant.id, "ann@x.example.com")
    token = csrf_of(admin_client.get(f"/admin/contacts/{c.id}").text)
    r = admin_client.post(f"/admin/contacts/{c.id}/blacklist", data={"csrf_token": token})
    assert r.status_code == 200 and "is blacklisted" in r.text
    assert Contact.get_by_id(c.id).status == "blacklisted"
    assert ContactEvent.get(contact=c.id, kind="blacklisted").reference.startswith("user:")
    r = admin_client.post(f"/admin/contacts/{c.id}/delete", data={"csrf_token": token})
    assert r.status_code == 200 and "ann@x.example.com was deleted" in r.text
    assert Contact.get_or_none(id=c.id) is None and not Consent.select().count()


def test_actions_need_the_csrf_token(admin_client, tenant):
    c = add(tenant.id, "ann@x.example.com")
    assert admin_client.post(f"/admin/contacts/{c.id}/delete").status_code == 403
    assert admin_client.post(f"/admin/contacts/{c.id}/blacklist",
                             data={"csrf_token": "forged"}).status_code == 403
    assert Contact.get_by_id(c.id).status == "confirmed"


def test_status_counts_reuse_a_count_already_made(tenant):
    from gateway.admin.contacts import status_counts
    add(tenant.id, "a@x.example.com")
    add(tenant.id, "z@x.example.com", status="blacklisted")
    assert status_counts(tenant.id) == (
        {"confirmed": 1, "unconfirmed": 0, "blacklisted": 1}, set())
    # The listed tab's total is not counted a second time (it is trusted as given).
    counts, estimated = status_counts(tenant.id, {"confirmed": (1_234_567, True)})
    assert counts["confirmed"] == 1_234_567 and estimated == {"confirmed"}
