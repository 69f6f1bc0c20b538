import pytest

from gateway.db import SchemaVersion, add_autoincrement, db, is_sqlite, rebuild_sqlite_table
from gateway.models import Account, Contact
from gateway.schema import MIGRATIONS, all_models, upgrade

sqlite_only = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


def test_upgrade_is_idempotent_and_creates_every_table(store):
    assert upgrade() == []
    tables = set(db.get_tables())
    assert {m._meta.table_name for m in all_models()} <= tables
    assert [v.version for v in SchemaVersion.select().order_by(SchemaVersion.version)] == [
        version for version, _ in MIGRATIONS]


def _contact(account_id: int, email: str) -> Contact:
    return Contact.create(account=account_id, email=email, language="en", source="Website")


def test_a_deleted_highest_id_is_never_given_again(store):
    account = Account.create(name="Acme")
    _contact(account.id, "a@example.com")
    highest = _contact(account.id, "b@example.com")
    highest.delete_instance()
    assert _contact(account.id, "c@example.com").id > highest.id
    gone = Account.create(name="Gone")
    gone.delete_instance()
    assert Account.create(name="Next").id > gone.id


def _sql(table: str) -> str:
    return db.execute_sql("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ?",
                          (table,)).fetchone()[0]


def _indexes() -> set[tuple[str, str]]:
    return set(db.execute_sql("SELECT name, sql FROM sqlite_master WHERE type = 'index'"))


def _as_version_2() -> None:
    """Turn the fresh store back into the shape version 2 made: keys without AUTOINCREMENT,
    no link nonces."""
    db.execute_sql("PRAGMA foreign_keys = OFF")
    for model in all_models():
        table = model._meta.table_name
        if "AUTOINCREMENT" in _sql(table):
            rebuild_sqlite_table(table, _sql(table).replace(" AUTOINCREMENT", ""))
    db.execute_sql("DELETE FROM sqlite_sequence")
    db.execute_sql("ALTER TABLE confirmation DROP COLUMN nonce")
    db.execute_sql('DROP TABLE "unsubscribe_link"')
    db.execute_sql('DROP TABLE IF EXISTS "admin_session"')  # version 4's, made after 3
    db.execute_sql("PRAGMA foreign_keys = ON")
    SchemaVersion.delete().where(SchemaVersion.version == 3).execute()


@sqlite_only
def test_version_3_stops_sqlite_reusing_ids_and_keeps_every_row(store):
    indexes = _indexes()
    _as_version_2()
    account = Account.create(name="Acme")
    kept = _contact(account.id, "kept@example.com")
    form_id = db.execute_sql(
        # label_texts: a later version's column, in the table as the test builds it
        "INSERT INTO form (account_id, name, slug, source, fields, preferences, interests, "
        "languages, texts, mails, double_opt_in, welcome, redirect_urls, allowed_origins, "
        "min_fill_seconds, created_at, updated_at, label_texts) VALUES (?, 'F', 'f-123', "
        "'Website', '[]', '[]', '[]', '[\"en\"]', '{}', '{}', 1, 0, '[]', '[]', 0, "
        "'2024-01-01', '2024-01-01', '{}')",
        (account.id,)).lastrowid
    db.execute_sql("INSERT INTO confirmation (form_id, contact_id, language, created_at, "
                   "confirmed, welcome_sent) VALUES (?, ?, 'en', '2024-01-01', 0, 0)",
                   (form_id, kept.id))
    highest = _contact(account.id, "x@example.com")
    highest.delete_instance()
    # The old shape, as released: the next row gets the deleted highest id again.
    assert _contact(account.id, "y@example.com").id == highest.id

    assert upgrade() == [3]
    db.create_tables(all_models(), safe=True)  # what version 4 makes (its own test's concern)

    assert all("AUTOINCREMENT" in _sql(m._meta.table_name) for m in all_models()
               if m._meta.table_name not in ("submission", "delivery"))
    assert _indexes() == indexes
    assert db.execute_sql("PRAGMA foreign_keys").fetchone()[0] == 1
    assert [c.email for c in Contact.select().order_by(Contact.id)] == [
        "kept@example.com", "y@example.com"]
    [(nonce, contact_id)] = db.execute_sql("SELECT nonce, contact_id FROM confirmation")
    assert contact_id == kept.id and len(nonce) == 32  # children kept, given a nonce
    reused = Contact.get(Contact.email == "y@example.com")
    reused.delete_instance()
    assert _contact(account.id, "z@example.com").id > reused.id
    assert add_autoincrement("contact") is None and upgrade() == []  # nothing left to do


def test_version_3_is_a_no_op_on_a_fresh_store(store):
    SchemaVersion.delete().where(SchemaVersion.version == 3).execute()
    before = _schema()
    assert upgrade() == [3]
    assert _schema() == before


def _schema() -> list:
    if is_sqlite():
        return sorted(db.execute_sql("SELECT type, name, sql FROM sqlite_master"))
    return sorted((t, [(c.name, c.data_type, c.null) for c in db.get_columns(t)])
                  for t in db.get_tables())
