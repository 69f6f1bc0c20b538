"""``upsert_many`` (the import's batched write) leaves the store ``upsert`` leaves."""

import json

import pytest

from gateway import contact_rows, contacts
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
    monkeypatch.setattr(contact_rows, "ROWS_PER_INSERT", 7)
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
                         contact_rows.stamp(utcnow()))
        assert sorted(e.contact_id for e in ContactEvent.select().where(
            ContactEvent.kind == "probe")) == sorted(set(chosen))


@pytest.mark.parametrize("value", [
    {"b": "é", "a": [1, 2.5, None, True]}, {"z": {"y": [{}]}, "a": "x\n\"\\"}, [], {}, "tab\t",
    3, 1e300, -0.0, {"note": "Met at the fair, table 4, xxx", "birthday": "1999-01-31"}])
def test_encoded_json_is_what_the_json_field_stores(value):
    assert contact_rows.encode(value) == json.dumps(value, ensure_ascii=False, sort_keys=True)


# Values COPY's text format must escape (tab, newline, CR, backslash, "\N", which is its
# NULL) or carry as they are (quotes, unicode beyond the BMP); a NUL never gets this far.
ODD_TEXT = "Line 1\tcol\\umn \"quoted\" 'single'\r\nLine 2 \\N \\t é ☃ 𝄞\nend\x00!"
ODD_LABEL = 'Rock "n" Roll \\ é'


def _odd_tenant(name: str):
    from gateway.accounts import add_custom_field, add_vocabulary
    tenant = make_tenant(name)
    add_vocabulary(tenant.id, "interest", ODD_LABEL)
    add_custom_field(tenant.id, {"name": "note", "type": "text"})
    add_custom_field(tenant.id, {"name": "topics", "type": "multiple_choice",
                                 "choices": ["a\\b", "c\td", "ë"]})
    return tenant


def _odd_records(round_: int) -> list[dict]:
    return [{"email": f"odd{i}@example.com", "first_name": f'Zoë "Z" O\'Brien \\{round_}',
             "name": "\\N" if i % 2 else ("-" if round_ else "Back\\slash"),
             "language": "nl", "source": "Website",
             "interests": [ODD_LABEL, "Music"] if i % 2 else [ODD_LABEL],
             "custom_fields": {"note": ODD_TEXT * (i + 1) + str(round_),
                               "topics": ["a\\b", "c\td", "ë"][: i + round_ + 1]}}
            for i in range(3)]


def _raw(account_id: int) -> list[tuple]:
    """The stored text itself, column by column: what any other reader of the table sees."""
    return db.execute_sql(
        "SELECT email, first_name, name, language, source, status, preferences, interests, "
        f"custom_fields FROM contact WHERE account_id = {db.param} ORDER BY email",
        [account_id]).fetchall()


def test_odd_values_are_stored_as_the_single_record_path_stores_them(store):
    """Created and then updated contacts holding quotes, tabs, backslashes, multi-line text,
    unicode and odd labels: the batch (COPY on PostgreSQL) leaves the very same text."""
    one, many = _odd_tenant("OddOne"), _odd_tenant("OddMany")
    p = Provenance("import", reference="import:6", actor='Ann "A" \\ O\'Neil')
    field_types = {"topics": "multiple_choice", "note": "text"}
    for round_ in (0, 1):  # created, then updated
        cleans = [contacts.validate(one.id, r, creating=True) for r in _odd_records(round_)]
        assert all("\x00" not in c["custom_fields"]["note"] for c in cleans)  # refused before
        for clean in cleans:
            upsert(one.id, dict(clean), status="confirmed", provenance=p,
                   field_types=field_types)
        results = upsert_many(many.id, [dict(c) for c in cleans], status="confirmed",
                              provenance=p, field_types=field_types)
        assert {r.outcome for _, r in results} == {("created", "updated")[round_]}
        assert [row[1:] for row in _raw(one.id)] == [row[1:] for row in _raw(many.id)]
    assert _store(one.id) == _store(many.id)
    assert _history(one.id) == _history(many.id)
    stored = Contact.get((Contact.account == many.id) & (Contact.email == "odd2@example.com"))
    assert stored.custom_fields["note"] == (ODD_TEXT.replace("\x00", "") * 3).strip() + "1"
    assert stored.name is None and stored.interests == [ODD_LABEL]
    assert Consent.get(Consent.contact == stored.id).actor == 'Ann "A" \\ O\'Neil'


def test_several_batches_in_one_transaction(store):
    """A caller may write batches in rounds inside one transaction (the same contact in two
    rounds, say): each round's temporary rows are its own."""
    tenant = make_tenant("Rounds")
    p = Provenance("form", reference="form:1")
    with db.atomic():
        first = upsert_many(tenant.id, [{"email": "r@example.com", "language": "nl",
                                         "source": "Website", "first_name": "One"}],
                            status="unconfirmed", provenance=p, field_types={})
        second = upsert_many(tenant.id, [{"email": "r@example.com", "first_name": "Two"},
                                         {"email": "s@example.com", "language": "fr",
                                          "source": "Fair"}],
                             status="confirmed", provenance=p, field_types={})
    assert [r.outcome for _, r in first + second] == ["created", "updated", "created"]
    assert first[0][0] == second[0][0]
    contact = Contact.get_by_id(first[0][0])
    assert (contact.first_name, contact.status) == ("Two", "confirmed")
    assert sorted(e.kind for e in ContactEvent.select().where(
        ContactEvent.contact == contact.id)) == ["confirmed", "created"]
