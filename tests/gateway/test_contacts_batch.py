"""``upsert_many`` (the import's batched write) leaves the store ``upsert`` leaves."""

import json

import pytest

from gateway import contacts
from gateway.contacts import Provenance, stored_values, upsert, upsert_many
from gateway.db import db, utcnow
from gateway.merge import CLEAR
from gateway.models import Consent, Contact, ContactEvent
from tests.conftest import make_tenant

TYPES = {"topics": "multiple_choice"}
EXISTING = [
    ({"email": "ann@example.com", "first_name": "Ann", "name": "Peeters", "language": "nl",
      "source": "Website", "interests": ["Music"], "custom_fields": {"topics": ["a", "b"]}},
     "confirmed"),
    ({"email": "unc@example.com", "language": "fr", "source": "Fair"}, "unconfirmed"),
    ({"email": "black@example.com", "language": "fr", "source": "Fair"}, "blacklisted"),
]
INCOMING = [
    {"email": "ann@example.com", "first_name": "", "name": CLEAR, "interests": ["Sports"],
     "custom_fields": {"topics": ["c"]}},
    {"email": "unc@example.com"},
    {"email": "black@example.com", "first_name": "Changed"},
    {"email": "new@example.com", "first_name": "New", "language": "en", "source": "Fair"},
    {"email": "same@example.com", "language": "nl", "source": "Website"},
]


def _store(account_id: int) -> list:
    return sorted(tuple(sorted((k, str(v)) for k, v in stored_values(c).items()))
                  for c in Contact.select().where(Contact.account == account_id))


def _history(account_id: int) -> list:
    return sorted((e.contact.email, e.kind) for e in ContactEvent.select().join(Contact)
                  .where((Contact.account == account_id) & (ContactEvent.channel == "import")))


def test_upsert_many_matches_upsert_row_by_row(store):
    one, many = make_tenant("One"), make_tenant("Many")
    p = Provenance("import", reference="import:1", actor="test")
    for tenant in (one, many):
        for clean, status in EXISTING:
            upsert(tenant.id, clean, status=status, provenance=Provenance("api"),
                   field_types=TYPES)
        upsert(tenant.id, {"email": "same@example.com", "language": "nl",
                           "source": "Website"}, status="confirmed", provenance=p,
               field_types=TYPES)
    singles = [upsert(one.id, dict(c), status="confirmed", provenance=p, field_types=TYPES)
               for c in INCOMING]
    batch = upsert_many(many.id, [dict(c) for c in INCOMING], status="confirmed",
                        provenance=p, field_types=TYPES)
    assert [r.outcome for _, r in singles] == [r.outcome for _, r in batch] == [
        "updated", "updated", "blacklisted", "created", "unchanged"]
    assert _store(one.id) == _store(many.id)
    assert _history(one.id) == _history(many.id)
    assert all(contact_id for contact_id, _ in batch)
    new = Contact.get((Contact.account == many.id) & (Contact.email == "new@example.com"))
    assert [(c.channel, c.reference) for c in Consent.select().where(
        Consent.contact == new.id)] == [("import", "import:1")]


def test_defaults_fill_new_contacts_only_and_incomplete_ones_are_not_written(store):
    tenant = make_tenant("Defaults")
    upsert(tenant.id, {"email": "old@example.com", "language": "nl", "source": "Website"},
           status="confirmed", provenance=Provenance("api"), field_types={})
    p = Provenance("import", reference="import:2")
    results = upsert_many(tenant.id, [{"email": "old@example.com"}, {"email": "n@example.com"},
                                      {"email": "m@example.com", "source": "Fair"}],
                          status="confirmed", provenance=p, field_types={},
                          defaults={"language": "fr"})
    assert [r.outcome for _, r in results] == ["unchanged", "incomplete", "created"]
    assert results[1][0] is None
    m = Contact.get(Contact.email == "m@example.com")
    assert (m.language, m.source) == ("fr", "Fair")
    assert Contact.get(Contact.email == "old@example.com").language == "nl"
    assert Contact.get_or_none(Contact.email == "n@example.com") is None


def test_new_contacts_get_their_own_ids_after_the_newest_was_deleted(store):
    tenant = make_tenant("Ids")
    p = Provenance("import", reference="import:1", actor="test")
    first = upsert_many(tenant.id, [{"email": f"a{i}@example.com", "language": "nl",
                                     "source": "Website"} for i in range(5)],
                        status="confirmed", provenance=p, field_types={})
    Contact.delete().where(Contact.id == first[-1][0]).execute()  # its id is free again
    cleans = [{"email": f"b{i}@example.com", "language": "nl", "source": "Website"}
              for i in range(5)]
    cleans.insert(2, {"email": "a1@example.com", "first_name": "Known"})  # an update between
    results = upsert_many(tenant.id, cleans, status="confirmed", provenance=p, field_types={})
    for clean, (contact_id, _) in zip(cleans, results, strict=True):
        assert Contact.get_by_id(contact_id).email == clean["email"]
        assert Consent.select().where(Consent.contact == contact_id).count() == 1


def test_stored_json_with_spaces_around_it_is_read_and_merged(store):
    tenant = make_tenant("Spacing")
    p = Provenance("import", reference="import:3")
    upsert(tenant.id, {"email": "ann@example.com", "language": "nl", "source": "Website"},
           status="confirmed", provenance=Provenance("api"), field_types={})
    # As another tool might have written it: JSON with whitespace around the object.
    db.execute_sql(f"UPDATE contact SET custom_fields = {db.param}",
                   [' {"note": "keep"}\n'])
    same = upsert_many(tenant.id, [{"email": "ann@example.com",
                                    "custom_fields": {"note": "keep"}}],
                       status="confirmed", provenance=p, field_types={})
    changed = upsert_many(tenant.id, [{"email": "ann@example.com",
                                       "custom_fields": {"city": "Gent"}}],
                          status="confirmed", provenance=p, field_types={})
    assert [r.outcome for _, r in same + changed] == ["unchanged", "updated"]
    assert Contact.get(Contact.email == "ann@example.com").custom_fields == {
        "note": "keep", "city": "Gent"}


def test_new_contacts_in_many_insert_pages_match_row_by_row(store, monkeypatch):
    """Multi-row INSERT pages (a small page size here) leave what row-by-row upserts leave,
    ids in input order; consent and history cover exactly the new contacts."""
    monkeypatch.setattr(contacts, "_ROWS_PER_INSERT", 7)
    one, many = make_tenant("OneByOne"), make_tenant("Paged")
    p = Provenance("import", reference="import:4", actor="test")
    cleans = [{"email": f"p{i}@example.com", "first_name": f"Pé{i}", "language": "nl",
               "source": "Website", "interests": ["Music", "Sports"][: i % 3],
               "custom_fields": {"topics": ["a"], "note": f"n{i}"} if i % 2 else {}}
              for i in range(30)]
    for clean in cleans:
        upsert(one.id, dict(clean), status="confirmed", provenance=p, field_types=TYPES)
    results = upsert_many(many.id, [dict(c) for c in cleans], status="confirmed",
                          provenance=p, field_types=TYPES)
    ids = [contact_id for contact_id, _ in results]
    assert ids == sorted(ids) and len(set(ids)) == len(cleans)
    for clean, contact_id in zip(cleans, ids, strict=True):
        assert Contact.get_by_id(contact_id).email == clean["email"]
    assert _store(one.id) == _store(many.id)
    assert _history(one.id) == _history(many.id)
    assert sorted(c.contact_id for c in Consent.select().where(Consent.account == many.id)) \
        == ids


def test_rows_from_contacts_cover_the_ids_given_and_no_gap_between(store):
    """Consecutive ids take one range; with a gap or a repeat the ids are listed: a range
    would take the contacts in between."""
    tenant = make_tenant("Gaps")
    p = Provenance("import", reference="import:5")
    results = upsert_many(tenant.id, [{"email": f"g{i}@example.com", "language": "nl",
                                       "source": "Website"} for i in range(6)],
                          status="confirmed", provenance=p, field_types={})
    ids = [contact_id for contact_id, _ in results]
    for chosen in ([ids[0], ids[2], ids[5]], [ids[1], ids[1], ids[3]], ids[1:4]):
        ContactEvent.delete().where(ContactEvent.kind == "probe").execute()
        contacts._events([(contact_id, "probe") for contact_id in chosen], p,
                         contacts._stamp(utcnow()))
        assert sorted(e.contact_id for e in ContactEvent.select().where(
            ContactEvent.kind == "probe")) == sorted(set(chosen))


@pytest.mark.parametrize("value", [
    {"b": "é", "a": [1, 2.5, None, True]}, {"z": {"y": [{}]}, "a": "x\n\"\\"}, [], {}, "tab\t",
    3, 1e300, -0.0, {"note": "Met at the fair, table 4, xxx", "birthday": "1999-01-31"}])
def test_encoded_json_is_what_the_json_field_stores(value):
    assert contacts._encode(value) == json.dumps(value, ensure_ascii=False, sort_keys=True)
