"""The database handle (a Peewee ``DatabaseProxy``), the base of every model, and the
machinery of schema upgrades (the upgrades themselves are in ``gateway.schema``)."""

from __future__ import annotations

import contextlib
import json
import re
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import peewee
from playhouse.db_url import connect

db = peewee.DatabaseProxy()


def utcnow() -> datetime:
    """Naive UTC now: stored the same way on SQLite and PostgreSQL."""
    return datetime.now(UTC).replace(tzinfo=None)


class JSONField(peewee.TextField):
    """JSON kept as text, so one schema serves SQLite and PostgreSQL."""

    def db_value(self, value):
        return None if value is None else json.dumps(value, ensure_ascii=False, sort_keys=True)

    def python_value(self, value):
        return None if value is None else loads_stored(value)


def _no_constant(name: str) -> None:
    return None


# NaN and Infinity are not JSON, yet older releases stored them: read them as null, so that
# no stored value can make a list or a delivery log fail to render (validation refuses them).
_stored_decoder = json.JSONDecoder(parse_constant=_no_constant)


def loads_stored(raw: str):
    """Stored JSON text as Python values, any NaN/Infinity as None."""
    return _stored_decoder.decode(raw)


class AutoIncrementField(peewee.AutoField):
    """An integer key that never hands out an id twice, even the highest one after a delete.

    PostgreSQL: ``SERIAL`` (a sequence never goes back). SQLite: ``INTEGER PRIMARY KEY
    AUTOINCREMENT`` (without it SQLite gives the next row max(id) + 1, i.e. a deleted
    highest id again; ``sqlite_sequence`` keeps the high-water mark instead).
    """

    def ddl(self, ctx):
        node = super().ddl(ctx)
        return peewee.NodeList((node, peewee.SQL("AUTOINCREMENT"))) if is_sqlite() else node


class BaseModel(peewee.Model):
    id = AutoIncrementField()

    class Meta:
        database = db
        legacy_table_names = False


def open_database(url: str) -> peewee.Database:
    """Open (lazily) the database named by ``url``: ``sqlite:///…`` or ``postgresql://…``."""
    if url.startswith("sqlite:///"):
        path = Path(url.removeprefix("sqlite:///"))
        if str(path) != ":memory:":
            path.parent.mkdir(parents=True, exist_ok=True)
        # WAL lets the web process read while a job writes; busy_timeout waits out the writer.
        # A 32 MB page cache (default 2 MB) keeps an import's index pages in memory.
        return SerialSqliteDatabase(str(path), pragmas={
            "journal_mode": "wal", "foreign_keys": 1, "busy_timeout": 60000,
            "synchronous": "normal", "cache_size": -32768,
            # Reads through a memory map (address space, not memory): a search touching
            # thousands of scattered rows costs half of what page-by-page reads do.
            "mmap_size": 1 << 30,
            # deleted content is overwritten: an erased person leaves nothing in free pages
            "secure_delete": 1}, autoconnect=True)
    return connect(url, autoconnect=True)


_writer_locks: dict[str, threading.RLock] = {}
_writer_locks_guard = threading.Lock()


class SerialSqliteDatabase(peewee.SqliteDatabase):
    """SQLite whose transactions take one in-process writer lock, then ``BEGIN IMMEDIATE``.

    A deferred transaction that reads, then writes after another connection committed, gets
    "database is locked" at once (SQLite cannot wait: its snapshot is stale). Here writers of
    this process queue on a lock instead (the web's requests and the embedded runner), and
    ``BEGIN IMMEDIATE`` makes any other process wait out ``busy_timeout``. Reads outside a
    transaction never wait (WAL).
    """

    def __init__(self, database, *args, **kwargs):
        super().__init__(database, *args, **kwargs)
        with _writer_locks_guard:  # one lock per file, shared by every handle on it
            self._writer = _writer_locks.setdefault(str(database), threading.RLock())
        self._holding = threading.local()

    def begin(self, lock_type=None):
        """Take the writer lock, then start an immediate transaction."""
        self._writer.acquire()
        self._holding.held = True
        try:
            super().begin("IMMEDIATE")
        except BaseException:
            self._release()
            raise

    def commit(self):
        """Commit, then let the next writer in."""
        try:
            super().commit()
        finally:
            self._release()

    def rollback(self):
        """Roll back, then let the next writer in."""
        try:
            super().rollback()
        finally:
            self._release()

    def close(self):
        """Close; a transaction left open by its thread gives the lock back."""
        try:
            return super().close()
        finally:
            self._release()

    def _release(self) -> None:
        if getattr(self._holding, "held", False):
            self._holding.held = False
            self._writer.release()


def init_database(url: str) -> peewee.Database:
    """Point the proxy at ``url`` and return the database."""
    database = open_database(url)
    db.initialize(database)
    return database


def is_postgres() -> bool:
    """True when the proxy points at PostgreSQL."""
    return isinstance(db.obj, peewee.PostgresqlDatabase)


def is_sqlite() -> bool:
    """True when the proxy points at SQLite."""
    return isinstance(db.obj, peewee.SqliteDatabase)


class SchemaVersion(BaseModel):
    version = peewee.IntegerField(primary_key=True)
    applied_at = peewee.DateTimeField(default=utcnow)


_INTEGER_KEY = r'("{column}"\s+INTEGER\s+NOT\s+NULL\s+PRIMARY\s+KEY)(?!\s+AUTOINCREMENT)'


def run_many(template: str, rows: list, pg_template: str | None = None) -> None:
    """One fixed statement for many rows: ``executemany`` on SQLite (``{p}`` in ``template``
    is a placeholder), ``VALUES`` pages on PostgreSQL (``%s`` in ``pg_template``, default
    ``template``, stands for the rows)."""
    if not rows:
        return
    cursor = db.cursor()
    if is_postgres():
        from psycopg2.extras import execute_values
        execute_values(cursor, pg_template or template, rows, page_size=1000)
    else:
        cursor.executemany(template.replace("{p}", db.param), rows)


def add_autoincrement(table: str) -> None:
    """Rebuild a SQLite table whose integer key lacks AUTOINCREMENT (no-op when it has it).

    ``sqlite_sequence`` starts at the highest id present: ids deleted above it before this
    ran were reused already or may be once (SQLite kept no trace of them); every link is
    also bound to a nonce, so such an id acts on nothing it was not issued for.
    """
    key = next(c.name for c in db.get_columns(table) if c.primary_key)
    pattern = re.compile(_INTEGER_KEY.format(column=re.escape(key)), re.IGNORECASE)
    create = _create_statement(table)
    if "AUTOINCREMENT" in create.upper():
        return
    edited, count = pattern.subn(r"\1 AUTOINCREMENT", create)
    if count != 1:
        raise RuntimeError(f"Unexpected key declaration of table {table}: {create}")
    rebuild_sqlite_table(table, edited)
    highest = db.execute_sql(f'SELECT MAX("{key}") FROM "{table}"').fetchone()[0]  # noqa: S608
    if highest is not None:
        db.execute_sql("DELETE FROM sqlite_sequence WHERE name = ?", (table,))
        db.execute_sql("INSERT INTO sqlite_sequence (name, seq) VALUES (?, ?)", (table, highest))


def _create_statement(table: str) -> str:
    return db.execute_sql("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ?",
                          (table,)).fetchone()[0]


def rebuild_sqlite_table(table: str, create: str) -> None:
    """Replace ``table`` by one made with ``create`` (its CREATE TABLE statement, same columns
    in the same order): rows and indexes kept. Foreign keys must be off (``apply_migrations``
    does it): dropping the old table would otherwise cascade-delete the rows referring to it."""
    indexes = [row[0] for row in db.execute_sql(
        "SELECT sql FROM sqlite_master WHERE type = 'index' AND tbl_name = ? "
        "AND sql IS NOT NULL", (table,))]
    temp = f"{table}__rebuilt"
    # Table names come from the schema itself, never from input.
    db.execute_sql(re.sub(r'^CREATE TABLE\s+("[^"]+"|\S+)', f'CREATE TABLE "{temp}"', create,
                          count=1))
    db.execute_sql(f'INSERT INTO "{temp}" SELECT * FROM "{table}"')  # noqa: S608
    db.execute_sql(f'DROP TABLE "{table}"')
    db.execute_sql(f'ALTER TABLE "{temp}" RENAME TO "{table}"')
    for statement in indexes:
        db.execute_sql(statement)


def apply_migrations(migrations: list[tuple[int, Callable[[], None]]]) -> list[int]:
    """Run each (version, function) not applied yet, in order; returns the versions applied."""
    applied = []
    with db.connection_context(), _foreign_keys_deferred():
        db.create_tables([SchemaVersion], safe=True)
        done = {row.version for row in SchemaVersion.select()}
        for version, step in migrations:
            if version in done:
                continue
            with db.atomic():
                step()
                _check_foreign_keys()
                SchemaVersion.create(version=version)
            applied.append(version)
    return applied


@contextlib.contextmanager
def _foreign_keys_deferred() -> Iterator[None]:
    """SQLite: foreign keys off while the steps run (a table rebuild drops the old table, which
    would cascade-delete its children); each step checks them before it commits."""
    if not is_sqlite():
        yield
        return
    before = db.execute_sql("PRAGMA foreign_keys").fetchone()[0]
    db.execute_sql("PRAGMA foreign_keys = OFF")  # a no-op inside a transaction: checked
    if db.execute_sql("PRAGMA foreign_keys").fetchone()[0]:
        raise RuntimeError("apply_migrations() must not run inside a transaction")
    try:
        yield
    finally:
        db.execute_sql(f"PRAGMA foreign_keys = {int(bool(before))}")


def _check_foreign_keys() -> None:
    if is_sqlite() and db.execute_sql("PRAGMA foreign_key_check").fetchone():
        raise RuntimeError("A schema upgrade left rows referring to missing rows.")
