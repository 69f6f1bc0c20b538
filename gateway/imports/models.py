"""The import tables: one row per import, its row errors, and each account's last mapping."""

from __future__ import annotations

import peewee as pw

from gateway.db import BaseModel, JSONField, utcnow
from gateway.models import Account

# The steps of an import, in order; "validating" and "finalising" are queued jobs. "failed":
# one of them failed again and again and was given up (the reason is in ``warnings``).
STEPS = ("mapping", "consent", "validating", "fallbacks", "ready", "finalising", "done",
         "failed")


class Import(BaseModel):
    """One import: the stored file, the uploader's choices, the step, progress and counts."""

    account = pw.ForeignKeyField(Account, backref="imports", on_delete="CASCADE")
    kind = pw.CharField(max_length=8, default="csv")  # csv | json
    filename = pw.CharField(max_length=255, default="")
    path = pw.CharField(max_length=500)  # relative to INLET_DATA_DIR
    size = pw.BigIntegerField(default=0)
    encoding = pw.CharField(max_length=16, default="utf-8")
    delimiter = pw.CharField(max_length=1, default=",")
    columns = JSONField(default=list)
    total_rows = pw.IntegerField(default=0)
    suggested_mapping = JSONField(default=dict)
    mapping = JSONField(default=dict)
    consent = pw.BooleanField(default=False)
    consent_at = pw.DateTimeField(null=True)
    consent_by = pw.CharField(max_length=254, default="")
    fallbacks = JSONField(default=dict)
    # The uploader's answers to unknown labels: [{"kind", "value", "action", "to"}], applied
    # to the cells before they are checked (rows.RowBuilder).
    fixes = JSONField(default=list)
    needs_fallbacks = JSONField(default=list)
    welcome = pw.BooleanField(default=False)
    notify_email = pw.CharField(max_length=254, null=True)
    actor = pw.CharField(max_length=254, default="")
    step = pw.CharField(max_length=16, default="mapping")
    progress_done = pw.IntegerField(default=0)
    # Finalise checkpoint: rows before it are written and counted (committed with them).
    checkpoint = pw.IntegerField(default=0)
    counts = JSONField(default=dict)
    warnings = JSONField(default=list)
    report_mail = pw.IntegerField(null=True)
    # The language of the person who started the import (their choice, their browser's, the
    # CLI's locale), for the report mail when its recipient chose none; None: nobody's.
    language = pw.CharField(max_length=8, null=True)
    created_at = pw.DateTimeField(default=utcnow)
    updated_at = pw.DateTimeField(default=utcnow)
    finished_at = pw.DateTimeField(null=True)


class ImportRowError(BaseModel):
    """One problem with one cell of one row (several per row are possible)."""

    imp = pw.ForeignKeyField(Import, backref="row_errors", on_delete="CASCADE",
                             column_name="import_id", index=False)
    record = pw.IntegerField()  # 0-based data record index in the stored file
    row = pw.IntegerField()  # what the user sees: the spreadsheet row (header = 1)
    column = pw.CharField(max_length=255, default="")
    value = pw.TextField(default="")
    code = pw.CharField(max_length=32)
    reason = pw.TextField()
    suggestion = pw.CharField(max_length=255, null=True)

    class Meta:
        indexes = ((("imp", "record"), False),)


class ImportPart(BaseModel):
    """One share of an import's validation: the records from ``start`` to ``end`` (open when
    null), checked by one job of validation run ``run``; ``tally`` is set once it is done."""

    imp = pw.ForeignKeyField(Import, backref="parts", on_delete="CASCADE",
                             column_name="import_id", index=False)
    number = pw.IntegerField()
    run = pw.CharField(max_length=32)
    start = pw.IntegerField()
    end = pw.IntegerField(null=True)
    done_rows = pw.IntegerField(default=0)
    tally = JSONField(null=True)

    class Meta:
        indexes = ((("imp", "number"), True),)


class ImportMappingMemory(BaseModel):
    """The mapping and fallbacks of the account's last finished import (mapping keyed by
    normalised column name); ``origin`` names that import: {"id", "filename", "finished_at"}."""

    account = pw.ForeignKeyField(Account, on_delete="CASCADE", unique=True)
    mapping = JSONField(default=dict)
    fallbacks = JSONField(default=dict)
    origin = JSONField(default=dict)
    updated_at = pw.DateTimeField(default=utcnow)


MODELS = [Import, ImportRowError, ImportPart, ImportMappingMemory]
