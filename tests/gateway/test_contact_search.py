"""Contact search by index (schema version 18): trigram indexes on PostgreSQL, an FTS5 trigram
table kept in sync by triggers on SQLite; the same answers as a plain substring search."""

import pytest

from gateway import contact_search, contacts
from gateway.contacts import Provenance
from gateway.db import db, is_postgres
from gateway.models import Contact
from tests.conftest import make_tenant

PROV = Provenance(channel="api", reference="token:1", actor="test")


def found(account_id, q, **filters):
    listing = contacts.list_contacts(account_id, q=q, **filters)
    return sorted(c["email"] for c in listing["items"])


def plan(q: str) -> str:
    sql, params = Contact.select().where(contact_search.search_condition(q)).sql()
    explain = "EXPLAIN " if is_postgres() else "EXPLAIN QUERY PLAN "
    return " ".join(str(row) for row in db.execute_sql(explain + sql, params).fetchall())


@pytest.fixture
def people(store):
    tenant = make_tenant("Acme")
    for email, first, name, language in (("nele@x.example.com", "Nele", "Peeters", "fr"),
                                         ("ann@x.example.com", "Ann", "Vannelen", "nl"),
                                         ("bob@y.example.com", "Bob", "Élodie-Dupont", "fr"),
                                         ("zoe@y.example.com", "Zoë", None, "nl")):
        contacts.create(tenant.id, {"email": email, "first_name": first, "name": name,
                                    "language": language, "source": "Website",
                                    "status": "confirmed"}, PROV)
    return tenant


def test_search_finds_parts_of_e_mail_and_names_ignoring_case(people):
    assert found(people.id, "NELE") == ["ann@x.example.com", "nele@x.example.com"]
    assert found(people.id, "nele", language="fr") == ["nele@x.example.com"]
    assert found(people.id, "y.example") == ["bob@y.example.com", "zoe@y.example.com"]
    assert found(people.id, "dupont") == ["bob@y.example.com"]
    assert found(people.id, "ne") == ["ann@x.example.com", "nele@x.example.com"]  # < 3: scans
    assert found(people.id, 'a"b') == [] and found(people.id, "nobody") == []
    other = make_tenant("Other")
    assert found(other.id, "nele") == []  # another account's contacts never show


def test_the_index_follows_changes_and_deletions(people):
    ann = Contact.get(email="ann@x.example.com")
    contacts.patch(people.id, ann.id, {"name": "Janssens"}, PROV)
    assert found(people.id, "vannelen") == [] and found(people.id, "janssens") == [
        "ann@x.example.com"]
    contacts.delete(people.id, Contact.get(email="nele@x.example.com").id)
    assert found(people.id, "nele") == []


def test_a_search_of_three_characters_or_more_uses_the_index(people):
    if is_postgres():
        names = {row[0] for row in db.execute_sql(
            "SELECT indexname FROM pg_indexes WHERE tablename = 'contact'").fetchall()}
        assert {"contact_email_trgm", "contact_first_name_trgm", "contact_name_trgm"} <= names
        with db.atomic():
            db.execute_sql("SET LOCAL enable_seqscan = off")  # a 4-row table: force it
            assert "contact_email_trgm" in plan("nele")
    else:
        assert "contact_search VIRTUAL TABLE" in plan("nele")
        assert "contact_search" not in plan("ne")


def test_a_broad_search_on_sqlite_walks_the_list_instead(people, monkeypatch):
    if is_postgres():
        pytest.skip("PostgreSQL chooses by its planner")
    monkeypatch.setattr(contact_search, "FTS_DRIVE_LIMIT", 2)
    assert "contact_search" not in plan("example")
    assert len(found(people.id, "example")) == 4
