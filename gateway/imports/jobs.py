"""The queued steps of an import: validation and finalise (module-level RQ jobs taking ids).

Both are idempotent. Validation starts over when re-run (it writes only its error rows).
Finalise works in chunks; each chunk's contacts, error rows, counts and the checkpoint commit
together, guarded by compare-and-set on the checkpoint, so a killed worker re-running the job
(or two workers racing) leaves exactly the store and counts of one clean run.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

from gateway import runtime
from gateway.contacts import Provenance, select_by_emails, upsert_many
from gateway.db import db, utcnow
from gateway.imports import spool
from gateway.imports.models import Import, ImportRowError
from gateway.imports.reader import iter_records
from gateway.imports.rows import RowBuilder
from gateway.validation import AccountVocabulary, FieldError

# Rows per chunk: each chunk is one transaction and one progress update.
CHUNK_ROWS = int(os.environ.get("INLET_IMPORT_CHUNK_ROWS", "2000"))
Progress = Callable[[int, int], None] | None


def validate_import(import_id: int) -> str:
    """Job: check every row, keep the errors, count, and move to fallbacks or ready."""
    with db.connection_context():
        return run_validation(import_id)


def finalise_import(import_id: int) -> str:
    """Job: write the valid rows under the merge rules, then send the report."""
    with db.connection_context():
        return run_finalise(import_id)


def file_path(imp: Import) -> Path:
    """Where the import's file lives (under INLET_DATA_DIR, shared by web and workers)."""
    return runtime.settings().data_dir / imp.path


def row_number(imp: Import, record: int) -> int:
    """The row the user sees: spreadsheet rows for CSV (header = 1), positions for JSON."""
    return record + (1 if imp.kind == "json" else 2)


# ---- validation ---------------------------------------------------------------------------

def run_validation(import_id: int, on_progress: Progress = None) -> str:
    """Validate an import that is in the ``validating`` step; ``on_progress(done, total)``."""
    imp = Import.get_or_none(Import.id == import_id)
    if imp is None or imp.step != "validating":
        return "skipped"
    ImportRowError.delete().where(ImportRowError.imp == imp.id).execute()
    vocab = AccountVocabulary.load(imp.account_id)
    builder = RowBuilder(imp.columns, imp.mapping, vocab)
    tally = _Tally()
    seen: dict[str, int] = {}
    chunk: list = []
    with spool.Writer(spool.path_for(file_path(imp)), spool.fingerprint(imp, vocab)) as out:
        for record, cells in iter_records(file_path(imp), imp.encoding, imp.delimiter):
            chunk.append((record, *builder.check(cells)))
            if len(chunk) >= CHUNK_ROWS:
                _validate_chunk(imp, builder, chunk, seen, tally, on_progress, out)
                chunk = []
        _validate_chunk(imp, builder, chunk, seen, tally, on_progress, out)
    return _validated(imp, tally)


class _Tally:
    """Counts of a validation run."""

    def __init__(self):
        self.done = self.valid = self.failed = self.blacklisted = self.duplicates = 0
        self.new = self.existing = 0
        self.missing = Counter()
        self.reasons = Counter()


def _validate_chunk(imp: Import, builder: RowBuilder, chunk: list, seen: dict, tally: _Tally,
                    on_progress: Progress, out: spool.Writer) -> None:
    if not chunk:
        return
    statuses = _statuses(imp.account_id, [c.get("email") for _, c, errs in chunk if not errs])
    errors, valid = [], []
    for record, clean, errs in chunk:
        tally.done += 1
        email = clean.get("email")
        if not errs:
            status = statuses.get(email)
            if status == "blacklisted":
                errs = [FieldError("email", "blacklisted", "This contact is blacklisted: an "
                                   "import never changes it.", email)]
            elif email in seen:
                errs = [FieldError("email", "duplicate", "Duplicate in file: the same address "
                                   f"is in row {seen[email]}; only that row is imported.",
                                   email)]
        if errs:
            errors.extend(_error_rows(imp, builder, record, errs))
            codes = {e.code for e in errs}
            if codes == {"blacklisted"}:
                tally.blacklisted += 1
            else:
                tally.failed += 1
                tally.reasons.update(codes)
                tally.duplicates += "duplicate" in codes
            continue
        seen[email] = row_number(imp, record)
        valid.append((record, clean))
        tally.valid += 1
        if email in statuses:
            tally.existing += 1
            continue
        tally.new += 1
        for name in ("language", "source"):
            if name not in clean:
                tally.missing[name] += 1
    out.write(chunk[-1][0] + 1, len(chunk), valid)
    with db.atomic():
        _insert_errors(errors)
        Import.update(progress_done=tally.done, updated_at=utcnow()).where(
            Import.id == imp.id).execute()
    if on_progress:
        on_progress(tally.done, imp.total_rows)


def _statuses(account_id: int, emails: list[str]) -> dict[str, str]:
    """{email: status} for the addresses already in the store."""
    return dict(select_by_emails(_SELECT_STATUS, account_id, emails))


_SELECT_STATUS = "SELECT email, status FROM contact WHERE account_id = {p} AND email IN ({marks})"


def _error_rows(imp: Import, builder: RowBuilder, record: int, errs: list[FieldError]) -> list:
    return [{"imp": imp.id, "record": record, "row": row_number(imp, record),
             "column": builder.column(e.field)[:255],
             "value": "" if e.value is None else str(e.value), "code": e.code,
             "reason": e.message, "suggestion": e.suggestion} for e in errs]


def _insert_errors(rows: list[dict]) -> None:
    for start in range(0, len(rows), 100):
        ImportRowError.insert_many(rows[start:start + 100]).execute()


def _validated(imp: Import, tally: _Tally) -> str:
    counts = {"rows": tally.done, "valid": tally.valid, "failed": tally.failed,
              "failed_by_reason": dict(sorted(tally.reasons.items())),
              "blacklisted": tally.blacklisted, "duplicates": tally.duplicates,
              "new": tally.new, "existing": tally.existing,
              "missing_language": tally.missing["language"],
              "missing_source": tally.missing["source"],
              "created": 0, "updated": 0, "unchanged": 0}
    needs = [name for name in ("language", "source") if tally.missing[name]]
    fallbacks = imp.fallbacks or {}
    step = "fallbacks" if any(not fallbacks.get(name) for name in needs) else "ready"
    updated = (Import.update(step=step, counts=counts, needs_fallbacks=needs,
                             progress_done=tally.done, total_rows=tally.done, checkpoint=0,
                             updated_at=utcnow())
               .where((Import.id == imp.id) & (Import.step == "validating")).execute())
    return step if updated else "skipped"


# ---- finalise -----------------------------------------------------------------------------

def run_finalise(import_id: int, on_progress: Progress = None) -> str:
    """Write an import in the ``finalising`` step, resuming after its checkpoint."""
    from gateway.imports import report
    imp = Import.get_or_none(Import.id == import_id)
    if imp is None:
        return "skipped"
    if imp.step == "done":
        report.send_pending(imp)  # a crash after the last commit: mails not yet queued
        return "done"
    if imp.step != "finalising":
        return "skipped"
    vocab = AccountVocabulary.load(imp.account_id)
    writer = _ChunkWriter(imp, RowBuilder(imp.columns, imp.mapping, vocab), vocab)
    chunks = spool.read(spool.path_for(file_path(imp)), spool.fingerprint(imp, vocab))
    try:  # the rows validation checked, as it left them: no second parse or check
        for end, covered, items in chunks:
            if end <= writer.imp.checkpoint:
                continue
            if not writer.write(items, [], end, covered):
                return "skipped"  # another worker is ahead of us
            if on_progress:
                on_progress(writer.imp.progress_done, imp.total_rows)
        return report.finish(writer.imp)
    except spool.Unusable:
        pass  # no spool, another vocabulary, or a torn file: check the rows again
    if not _finalise_from_file(writer, on_progress):
        return "skipped"
    return report.finish(writer.imp)


def _finalise_from_file(writer: _ChunkWriter, on_progress: Progress) -> bool:
    """Check and write the rows after the checkpoint from the file itself (no usable spool)."""
    imp = writer.imp
    failed = {record for (record,) in ImportRowError.select(ImportRowError.record)
              .where(ImportRowError.imp == imp.id).tuples()}
    items, errors, covered, end = [], [], 0, imp.checkpoint
    for record, cells in iter_records(file_path(imp), imp.encoding, imp.delimiter,
                                      start=imp.checkpoint):
        covered, end = covered + 1, record + 1
        if record not in failed:
            clean, errs = writer.builder.check(cells)
            if errs:  # the vocabularies changed since validation
                errors.append((record, errs))
            else:
                items.append((record, clean))
        if covered >= CHUNK_ROWS:
            if not writer.write(items, errors, end, covered):
                return False
            items, errors, covered = [], [], 0
            if on_progress:
                on_progress(imp.progress_done, imp.total_rows)
    if covered and not writer.write(items, errors, end, covered):
        return False
    return True


class _ChunkWriter:
    """Writes one chunk of rows and advances the checkpoint in the same transaction."""

    def __init__(self, imp: Import, builder: RowBuilder, vocab: AccountVocabulary):
        self.imp = imp
        self.builder = builder
        self.field_types = vocab.field_types
        self.fallbacks = {k: v for k, v in (imp.fallbacks or {}).items()
                          if k in imp.needs_fallbacks and v}
        self.provenance = Provenance(channel="import", reference=f"import:{imp.id}",
                                     actor=imp.consent_by or imp.actor,
                                     text="The uploader stated the data was obtained "
                                          "rightfully.")

    def write(self, items: list, failures: list, end: int, covered: int) -> bool:
        """Write the valid ``items`` [(record, clean)] and record ``failures`` [(record,
        errors)] of ``covered`` rows up to record ``end``; False if another worker got there."""
        imp = self.imp
        counts = dict(imp.counts)
        counts["failed_by_reason"] = dict(counts.get("failed_by_reason") or {})
        errors = []
        for record, errs in failures:
            errors.extend(_error_rows(imp, self.builder, record, errs))
            _count_failure(counts, {e.code for e in errs})
        done = imp.progress_done + covered
        with db.atomic():
            moved = (Import.update(checkpoint=end, progress_done=done, updated_at=utcnow())
                     .where((Import.id == imp.id) & (Import.checkpoint == imp.checkpoint)
                            & (Import.step == "finalising")).execute())
            if not moved:
                return False
            results = upsert_many(imp.account_id, [c for _, c in items], status="confirmed",
                                  provenance=self.provenance, field_types=self.field_types,
                                  defaults=self.fallbacks)
            for (record, clean), (_, result) in zip(items, results, strict=True):
                if result.outcome == "blacklisted":
                    errors.extend(_error_rows(imp, self.builder, record, [FieldError(
                        "email", "blacklisted", "This contact is blacklisted: an import "
                        "never changes it.", clean["email"])]))
                    counts["blacklisted"] = counts.get("blacklisted", 0) + 1
                elif result.outcome == "incomplete":
                    missing = [n for n in ("language", "source") if not result.values.get(n)]
                    errors.extend(_error_rows(imp, self.builder, record, [FieldError(
                        n, "required", f"The {n} is required for a new contact.")
                        for n in missing]))
                    _count_failure(counts, {"required"})
                else:
                    counts[result.outcome] = counts.get(result.outcome, 0) + 1
            _insert_errors(errors)
            Import.update(counts=counts).where(Import.id == imp.id).execute()
        imp.checkpoint, imp.progress_done, imp.counts = end, done, counts
        return True


def _count_failure(counts: dict, codes: set[str]) -> None:
    counts["failed"] = counts.get("failed", 0) + 1
    counts["valid"] = counts.get("valid", 0) - 1
    for code in codes:
        counts["failed_by_reason"][code] = counts["failed_by_reason"].get(code, 0) + 1


# ---- recovery -----------------------------------------------------------------------------

STALLED_AFTER = timedelta(minutes=10)


def requeue_stalled(older_than: timedelta = STALLED_AFTER) -> int:
    """Sweep: queue again every import whose validation or finalise made no progress lately.

    Its job was lost (Redis flushed, a worker killed outside RQ's bookkeeping); both jobs are
    idempotent and resume, so a spare run costs nothing but a skipped check.
    """
    cutoff = utcnow() - older_than
    jobs = {"validating": validate_import, "finalising": finalise_import}
    with db.connection_context():
        stalled = list(Import.select(Import.id, Import.step).where(
            Import.step.in_(list(jobs)) & (Import.updated_at < cutoff)))
        for imp in stalled:
            # Touch it so the next sweep waits another interval for this run.
            Import.update(updated_at=utcnow()).where(Import.id == imp.id).execute()
            runtime.queue().enqueue(jobs[imp.step], imp.id)
    return len(stalled)
