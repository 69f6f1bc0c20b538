from gateway.db import SchemaVersion, all_models, db, upgrade


def test_upgrade_is_idempotent_and_creates_every_table(store):
    assert upgrade() == []
    tables = set(db.get_tables())
    assert {m._meta.table_name for m in all_models()} <= tables
    assert [v.version for v in SchemaVersion.select()] == [1, 2]
