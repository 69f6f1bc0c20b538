"""The imports' part of the privacy contract (``Area.erase``/``Area.retention``).

Erasure rewrites each stored upload of the account that names the address with that
person's rows blanked (a row of empty cells, which every reader skips, so the other rows
keep their record numbers and errors.csv stays right), drops the checked-row spools (finalise
reads the file again if it still runs) and the row errors of those rows.

Retention: uploaded files (and spools) of finished or failed imports go after
INLET_RETENTION_UPLOADS days, row errors (errors.csv) after INLET_RETENTION_ERRORS days;
an import never finalised is deleted whole, file included, after INLET_RETENTION_UPLOADS.
"""

from __future__ import annotations

import csv
import os
from datetime import datetime
from pathlib import Path

from gateway.imports import reader, spool
from gateway.imports.models import Import, ImportRowError
from gateway.personal_data import cutoff, mentions, redact

FINISHED = ("done", "failed")
# Never finalised: still being set up or checked (finalising is the stalled-import sweep's).
UNFINISHED = ("mapping", "consent", "validating", "fallbacks", "ready")


def erase(account_id: int, contact_id: int, email: str) -> None:
    """Blank the person's rows in the account's uploads and drop their row errors."""
    for imp in Import.select().where(Import.account == account_id):
        path = spool.file_path(imp)
        records = blank_rows(path, imp.encoding, imp.delimiter, email)
        if records:
            spool.remove(path)
        condition = mentions(ImportRowError.value, email)
        if records:
            condition |= ImportRowError.record.in_(sorted(records))
        ImportRowError.delete().where((ImportRowError.imp == imp.id) & condition).execute()
        changes = {name: redact(getattr(imp, name), email)
                   for name in ("notify_email", "actor", "consent_by", "filename")
                   if email in (getattr(imp, name) or "").lower()}
        if changes:
            Import.update(changes).where(Import.id == imp.id).execute()


def blank_rows(path: Path, encoding: str, delimiter: str, email: str) -> set[int]:
    """Rewrite ``path`` with every data row naming ``email`` made empty; returns their
    record numbers (empty when the file does not name it, and then it is left as it is)."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return set()
    if email.encode(encoding, "ignore").lower() not in raw.lower():
        return set()
    blanked: set[int] = set()
    tmp = path.with_suffix(path.suffix + "-erasing")
    with reader.open_text(path, encoding) as src, \
            open(tmp, "w", encoding=encoding, newline="") as dst:
        rows, out = csv.reader(src, delimiter=delimiter), csv.writer(dst, delimiter=delimiter)
        out.writerow(next(rows, []))
        for index, record in enumerate(rows):
            if any(email in cell.lower() for cell in record):
                blanked.add(index)
                record = [""] * max(len(record), 2)  # ",": a row of empty cells
            out.writerow(record)
    os.replace(tmp, path)
    return blanked


def purge_uploads(now: datetime) -> int:
    """Delete the files of finished imports older than the period, and unfinished imports
    (row and file) left alone that long; returns how many imports were touched."""
    limit = cutoff(now, "uploads")
    touched = 0
    for imp in Import.select().where((Import.step.in_(FINISHED))
                                     & (Import.created_at < limit)):
        path = spool.file_path(imp)
        if path.exists() or list(path.parent.glob(path.stem + ".*")):
            path.unlink(missing_ok=True)
            spool.remove(path)
            touched += 1
    for imp in Import.select().where((Import.step.in_(UNFINISHED))
                                     & (Import.updated_at < limit)):
        path = spool.file_path(imp)
        imp.delete_instance(recursive=True)
        path.unlink(missing_ok=True)
        spool.remove(path)
        touched += 1
    return touched


def purge_errors(now: datetime) -> int:
    """Delete the row errors of imports finished (last changed) before the period; the
    counts stay."""
    old = Import.select(Import.id).where((Import.step.in_(FINISHED))
                                        & (Import.updated_at < cutoff(now, "errors")))
    return ImportRowError.delete().where(ImportRowError.imp.in_(old)).execute()


def file_purged(imp: Import) -> bool:
    """The import's upload is gone (retention): errors.csv cannot be made any more."""
    return not spool.file_path(imp).exists()


__all__ = ["erase", "blank_rows", "purge_uploads", "purge_errors", "file_purged"]
