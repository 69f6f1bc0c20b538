"""The database handle (a Peewee ``DatabaseProxy``) and the one schema-upgrade command."""

from __future__ import annotations

import json
from collections.abc import Callable
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
        return None if value is None else json.loads(value)


class BaseModel(peewee.Model):
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
        return peewee.SqliteDatabase(str(path), pragmas={
            "journal_mode": "wal", "foreign_keys": 1, "busy_timeout": 15000,
            "synchronous": "normal", "cache_size": -32768}, autoconnect=True)
    return connect(url, autoconnect=True)


def init_database(url: str) -> peewee.Database:
    """Point the proxy at ``url`` and return the database."""
    database = open_database(url)
    db.initialize(database)
    return database


def is_postgres() -> bool:
    """True when the proxy points at PostgreSQL."""
    return isinstance(db.obj, peewee.PostgresqlDatabase)


class SchemaVersion(BaseModel):
    version = peewee.IntegerField(primary_key=True)
    applied_at = peewee.DateTimeField(default=utcnow)


def all_models() -> list[type[peewee.Model]]:
    """Every table of every area (each area keeps its tables in its own ``models``)."""
    from connectors import models as connector_models
    from forms import models as form_models
    from gateway import models as core_models
    from gateway.imports import models as import_models
    return [*core_models.MODELS, *import_models.MODELS, *form_models.MODELS,
            *connector_models.MODELS]


def _initial_schema() -> None:
    db.create_tables(all_models(), safe=True)


def _import_parts() -> None:
    from gateway.imports.models import ImportPart
    db.create_tables([ImportPart], safe=True)


# Each upgrade is (version, function); new ones are appended, never edited.
MIGRATIONS: list[tuple[int, Callable[[], None]]] = [
    (1, _initial_schema),
    (2, _import_parts),
]


def upgrade() -> list[int]:
    """Bring the schema to the newest version; returns the versions applied."""
    applied = []
    with db.connection_context():
        db.create_tables([SchemaVersion], safe=True)
        done = {row.version for row in SchemaVersion.select()}
        for version, step in MIGRATIONS:
            if version in done:
                continue
            with db.atomic():
                step()
                SchemaVersion.create(version=version)
            applied.append(version)
    return applied
