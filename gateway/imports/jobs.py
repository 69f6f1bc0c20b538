"""The queued steps of an import: validation and finalise (module-level RQ jobs taking ids).

Both are idempotent. Validation starts over when re-run (it writes only its error rows).
Finalise works in chunks; each chunk's contacts, error rows, counts and the checkpoint commit
together, guarded by compare-and-set on the checkpoint, so a killed worker re-running the job
(or two workers racing) leaves exactly the store and counts of one clean run.
"""

from __future__ import annotations

import logging
import os
import uuid
from collections import Counter
from collections.abc import Callable
from datetime import timedelta

import peewee
import redis
from peewee import fn

from gateway import i18n, runtime
from gateway.contact_rows import stored_by_email
from gateway.contacts import Provenance, upsert_many
from gateway.db import db, is_postgres, utcnow
from gateway.i18n import N_, _
from gateway.imports import report, spool
from gateway.imports.models import Import, ImportPart, ImportRowError
from gateway.imports.reader import iter_records
from gateway.imports.rows import RowBuilder
from gateway.imports.spool import file_path
from gateway.merge import merge
from gateway.validation import AccountVocabulary, FieldError
from privacy import suppression

# Rows per chunk: each chunk is one transaction and one progress update.
CHUNK_ROWS = int(os.environ.get("INLET_IMPORT_CHUNK_ROWS", "2000"))
# Chunks per finalise transaction on PostgreSQL (see ``finalise_rows``).
FINALISE_CHUNKS_PG = 5
Progress = Callable[[int, int], None] | None
log = logging.getLogger("inlet.imports")


def validate_import(import_id: int) -> str:
    """Job: check every row, keep the errors, count, and move to fallbacks or ready."""
    with db.connection_context():
        return attempt(import_id, "validating", lambda: run_validation(import_id))


def finalise_import(import_id: int) -> str:
    """Job: write the valid rows under the merge rules, then send the report."""
    with db.connection_context():
        return attempt(import_id, "finalising", lambda: run_finalise(import_id))


# ---- giving up ----------------------------------------------------------------------------
#
# A step that fails the same way on every run (a value the database refuses, say) would be
# retried by RQ, then queued again by the sweep, forever. Each failed run is counted on the
# import (in its counts: no column needed); a finalise chunk that commits resets the count.
# The MAX_ATTEMPTS-th failure in a row ends the import as "failed", with a reason the user
# sees in the API and the admin UI; the sweep never queues a failed import again.

MAX_ATTEMPTS = 3
BLACKLISTED = N_("This contact is blacklisted: an import never changes it.")
REQUIRED_FOR_NEW = {"language": N_("The language is required for a new contact."),
                    "source": N_("The source is required for a new contact.")}
FAILED_ATTEMPTS = "failed_attempts"  # the key in Import.counts
# A database or Redis that is down is no fault of the import: the sweep recovers those.
_TRANSIENT = (peewee.OperationalError, peewee.InterfaceError, redis.exceptions.RedisError)


@i18n.in_english
def attempt(import_id: int, step: str, run: Callable[[], str]) -> str:
    """``run()`` (one run of ``step``); a failure is counted and re-raised, so the queue
    retries it, until the last allowed one ends the import as ``failed``."""
    try:
        return run()
    except _TRANSIENT:
        raise
    except Exception:
        log.exception("import %s: %s failed", import_id, step)
        if _note_failure(import_id, step):
            return "failed"
        raise


def _note_failure(import_id: int, step: str) -> bool:
    """Count a failed run of ``step``; True when it was the last allowed and the import is
    now ``failed``."""
    try:
        with db.atomic():
            _lock(import_id)
            imp = Import.get_or_none(Import.id == import_id)
            if imp is None or imp.step != step:
                return False  # moved on (another run finished it): nothing to count
            counts = dict(imp.counts or {})
            counts[FAILED_ATTEMPTS] = counts.get(FAILED_ATTEMPTS, 0) + 1
            failed = counts[FAILED_ATTEMPTS] >= MAX_ATTEMPTS
            changes = {"counts": counts}
            if failed:
                changes.update(step="failed", finished_at=utcnow(),
                               warnings=[*(imp.warnings or []), failure_reason(imp)])
            Import.update(**changes).where(Import.id == imp.id).execute()
    except Exception:  # the store is failing too: the queue retries the run anyway
        log.exception("import %s: could not count the failure of %s", import_id, step)
        return False
    if failed:
        spool.remove(file_path(imp))
    return failed


def failure_reason(imp: Import) -> str:
    """What the user reads once ``imp`` (still in its failing step) gave up."""
    if imp.step == "validating":
        return _(report.FAILED_CHECKING) % {"tries": MAX_ATTEMPTS}
    row = row_number(imp, imp.checkpoint)
    text = report.FAILED_WRITING_FIRST if not imp.checkpoint else report.FAILED_WRITING
    return _(text) % {"row": row, "tries": MAX_ATTEMPTS}


def row_number(imp: Import, record: int) -> int:
    """The row the user sees: spreadsheet rows for CSV (header = 1), positions for JSON."""
    return record + (1 if imp.kind == "json" else 2)


# ---- validation ---------------------------------------------------------------------------
#
# A large file is split into parts (records ``start`` to ``end``), each checked by its own job
# so several workers share it. A part writes its error rows, its spool and a key file of its
# valid rows' addresses. Whichever part finishes last joins them: it marks the duplicates in
# the file (across parts, so the first row of an address always wins, as a single pass would
# decide) and moves the import on.

MIN_PART_ROWS = 10_000  # below this a second job costs more than it saves
# Flags a part keeps per valid row so the join can undo its counts when it is a duplicate.
EXISTING, NO_LANGUAGE, NO_SOURCE, UNCHANGED = 1, 2, 4, 8


def validate_part(import_id: int, number: int, run: str) -> str:
    """Job: check one part of an import; the last part to finish joins them."""
    with db.connection_context():
        return attempt(import_id, "validating", lambda: run_part(import_id, number, run))


@i18n.in_english
def run_validation(import_id: int, on_progress: Progress = None, *,
                   inline: bool = False) -> str:
    """Start validating an import in the ``validating`` step: queue its parts but the first,
    and check the first here (``inline``: every part here); ``on_progress(done, total)``."""
    imp = Import.get_or_none(Import.id == import_id)
    if imp is None or imp.step != "validating":
        return "skipped"
    parts = _plan_parts(imp)
    if not inline:
        for part in parts[1:]:
            runtime.queue().enqueue(validate_part, imp.id, part.number, part.run)
        parts = parts[:1]
    outcome = "validating"
    for part in parts:
        outcome = run_part(imp.id, part.number, part.run, on_progress)
    return outcome


def _plan_parts(imp: Import) -> list[ImportPart]:
    """Start a new validation run: forget the last one's parts and errors, split the rows."""
    count = max(1, min(runtime.settings().import_parts, imp.total_rows // MIN_PART_ROWS))
    size = -(-imp.total_rows // count)
    run = uuid.uuid4().hex
    with db.atomic():
        _lock(imp.id)
        ImportPart.delete().where(ImportPart.imp == imp.id).execute()
        ImportRowError.delete().where(ImportRowError.imp == imp.id).execute()
        # The last part reads to the end: blank lines make records outnumber rows.
        return [ImportPart.create(imp=imp.id, number=n, run=run, start=n * size,
                                  end=(n + 1) * size if n < count - 1 else None)
                for n in range(count)]


def part_name(part: ImportPart) -> str:
    """Names a part's files; the run in it keeps a superseded run off the current one's."""
    return f"{part.run}-{part.number}"


@i18n.in_english
def run_part(import_id: int, number: int, run: str, on_progress: Progress = None) -> str:
    """Check one part of validation run ``run``; returns the import's step after it."""
    part = ImportPart.get_or_none((ImportPart.imp == import_id) & (ImportPart.number == number)
                                  & (ImportPart.run == run))
    imp = Import.get_or_none(Import.id == import_id)
    if part is None or imp is None or imp.step != "validating":
        return "skipped"  # a newer run replaced this one, or the import moved on
    if part.tally is None:
        try:
            _check_part(imp, part, on_progress)
        except _Superseded:
            return "skipped"
    return _finish_part(imp.id, part)


class _Superseded(Exception):
    """Validation started over while this part ran: its writes are rolled back."""


def _still_current(part: ImportPart, done_rows: int) -> None:
    """Record the part's progress, or raise _Superseded if a new run replaced it.

    Called inside each of the part's transactions: a new run deletes the old parts (and
    their errors) in one transaction, so a late writer of an old run never mixes in."""
    # By run too: SQLite hands a deleted part's id to the next run's part.
    if not (ImportPart.update(done_rows=done_rows)
            .where((ImportPart.id == part.id) & (ImportPart.run == part.run)).execute()):
        raise _Superseded()


def _check_part(imp: Import, part: ImportPart, on_progress: Progress) -> None:
    """Check the part's records, writing its error rows, spool and key file."""
    in_part = ImportRowError.record >= part.start
    if part.end is not None:
        in_part &= ImportRowError.record < part.end
    with db.atomic():  # a retried part: forget what its failed run wrote
        _lock(imp.id)
        ImportRowError.delete().where((ImportRowError.imp == imp.id) & in_part).execute()
        _still_current(part, done_rows=0)
    vocab = AccountVocabulary.load(imp.account_id)
    builder = RowBuilder(imp.columns, imp.mapping, vocab, imp.fixes)
    tally, keys, chunk = _Tally(), [], []
    path = file_path(imp)
    with spool.Writer(spool.path_for(path, part_name(part)),
                      spool.fingerprint(imp, vocab)) as out:
        for record, cells in iter_records(path, imp.encoding, imp.delimiter, start=part.start):
            if part.end is not None and record >= part.end:
                break
            chunk.append((record, *builder.check(cells)))
            if len(chunk) >= CHUNK_ROWS:
                _validate_chunk(imp, part, builder, chunk, keys, tally, on_progress, out)
                chunk = []
        _validate_chunk(imp, part, builder, chunk, keys, tally, on_progress, out)
    spool.write_keys(spool.keys_path(path, part_name(part)), keys)
    part.tally = tally.as_dict()


class _Tally:
    """Counts of a validation part, or of a whole validation run."""

    FIELDS = ("done", "valid", "failed", "blacklisted", "duplicates", "new", "existing",
              "existing_unchanged")

    def __init__(self, saved: dict | None = None):
        saved = saved or {}
        for name in self.FIELDS:
            setattr(self, name, saved.get(name, 0))
        self.missing = Counter(saved.get("missing", {}))
        self.reasons = Counter(saved.get("reasons", {}))

    def as_dict(self) -> dict:
        """The counts as JSON."""
        return {**{name: getattr(self, name) for name in self.FIELDS},
                "missing": dict(self.missing), "reasons": dict(self.reasons)}

    def add(self, other: _Tally) -> None:
        """Add another part's counts."""
        for name in self.FIELDS:
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.missing.update(other.missing)
        self.reasons.update(other.reasons)

    def undo_valid(self, flags: int) -> None:
        """A row counted valid turned out a duplicate in the file."""
        self.valid -= 1
        self.failed += 1
        self.duplicates += 1
        self.reasons["duplicate"] += 1
        if flags & EXISTING:
            self.existing -= 1
            self.existing_unchanged -= bool(flags & UNCHANGED)
            return
        self.new -= 1
        self.missing["language"] -= bool(flags & NO_LANGUAGE)
        self.missing["source"] -= bool(flags & NO_SOURCE)


def _validate_chunk(imp: Import, part: ImportPart, builder: RowBuilder, chunk: list,
                    keys: list, tally: _Tally, on_progress: Progress,
                    out: spool.Writer) -> None:
    if not chunk:
        return
    stored = _stored(imp.account_id, [c.get("email") for _, c, errs in chunk if not errs])
    refused = suppression.suppressed(imp.account_id, [c.get("email") for _, c, errs in chunk
                                                      if not errs and c.get("email") not in stored])
    errors, valid = [], []
    for record, clean, errs in chunk:
        tally.done += 1
        email = clean.get("email")
        if not errs and email in refused:  # erased at the person's request (privacy area)
            errs = [FieldError("email", "suppressed", suppression.Suppressed.message)]
        if not errs and stored.get(email, {}).get("status") == "blacklisted":
            errs = [FieldError("email", "blacklisted", _(BLACKLISTED), email)]
        if errs:
            errors.extend(_error_rows(imp, builder, record, errs))
            codes = {e.code for e in errs}
            if codes == {"blacklisted"}:
                tally.blacklisted += 1
            else:
                tally.failed += 1
                tally.reasons.update(codes)
            continue
        valid.append((record, clean))
        tally.valid += 1
        if email in stored:
            tally.existing += 1
            # What finalise will decide: an existing row that changes nothing is no update.
            same = merge(stored[email], clean, builder.vocab.field_types,
                         "confirmed").outcome == "unchanged"
            tally.existing_unchanged += same
            keys.append((email, record, EXISTING | (UNCHANGED if same else 0)))
            continue
        tally.new += 1
        flags = 0
        if "language" not in clean:
            tally.missing["language"] += 1
            flags |= NO_LANGUAGE
        if "source" not in clean:
            tally.missing["source"] += 1
            flags |= NO_SOURCE
        keys.append((email, record, flags))
    out.write(chunk[-1][0] + 1, len(chunk), valid)
    with db.atomic():
        _lock(imp.id)
        _insert_errors(errors)
        _still_current(part, done_rows=tally.done)
        done = (ImportPart.select(fn.SUM(ImportPart.done_rows))
                .where(ImportPart.imp == imp.id).scalar() or 0)
        Import.update(progress_done=done).where(Import.id == imp.id).execute()
    if on_progress:
        on_progress(done, imp.total_rows)


def _stored(account_id: int, emails: list[str]) -> dict[str, dict]:
    """{email: stored values} for the addresses already in the store."""
    # The batch write's own reader: plain rows, no model objects (a third of a re-import).
    return {email: values for email, (_, values) in stored_by_email(account_id, emails).items()}


def _error_rows(imp: Import, builder: RowBuilder, record: int, errs: list[FieldError]) -> list:
    # A refused value is shown as it came, but PostgreSQL text cannot hold NUL.
    return [{"imp": imp.id, "record": record, "row": row_number(imp, record),
             "column": builder.column(e.field)[:255].replace("\x00", ""),
             "value": "" if e.value is None else str(e.value).replace("\x00", ""),
             "code": e.code, "reason": e.message.replace("\x00", ""),
             "suggestion": e.suggestion} for e in errs]


def _insert_errors(rows: list[dict]) -> None:
    for start in range(0, len(rows), 100):
        ImportRowError.insert_many(rows[start:start + 100]).execute()


def _lock(import_id: int) -> None:
    """Begin a validation write with a write to the import's row: it serialises the parts'
    transactions (a row lock on PostgreSQL, the write lock on SQLite), always taken first so
    they never wait on each other in a cycle."""
    Import.update(updated_at=utcnow()).where(Import.id == import_id).execute()


def _finish_part(import_id: int, part: ImportPart) -> str:
    """Mark the part done; if it is the last, join the parts. Safe to repeat."""
    with db.atomic():
        _lock(import_id)  # so exactly one of the finishing parts sees every part done
        (ImportPart.update(tally=part.tally, done_rows=part.tally["done"])
         .where((ImportPart.id == part.id) & (ImportPart.run == part.run)
                & ImportPart.tally.is_null()).execute())
        imp = Import.get_by_id(import_id)
        parts = list(ImportPart.select().where(ImportPart.imp == import_id)
                     .order_by(ImportPart.number))
        if imp.step != "validating" or any(p.run != part.run for p in parts):
            return "skipped"
        if any(p.tally is None for p in parts):
            return "validating"
        return _join(imp, parts)


def _join(imp: Import, parts: list[ImportPart]) -> str:
    """Sum the parts' counts, mark the duplicates in the file, and move the import on."""
    tally = _Tally()
    for part in parts:
        tally.add(_Tally(part.tally))
    builder = RowBuilder(imp.columns, imp.mapping, AccountVocabulary.load(imp.account_id),
                         imp.fixes)
    first: dict[str, int] = {}
    errors = []
    for part in parts:
        for email, record, flags in spool.read_keys(spool.keys_path(file_path(imp),
                                                                   part_name(part))):
            seen = first.setdefault(email, record)
            if seen != record:
                tally.undo_valid(flags)
                errors.extend(_error_rows(imp, builder, record, [FieldError(
                    "email", "duplicate", _("Duplicate in file: the same address is in row "
                                            "%(row)s; only that row is imported.")
                    % {"row": row_number(imp, seen)}, email)]))
    _insert_errors(errors)
    return _validated(imp, tally)


def _validated(imp: Import, tally: _Tally) -> str:
    counts = {"rows": tally.done, "valid": tally.valid, "failed": tally.failed,
              "failed_by_reason": dict(sorted(tally.reasons.items())),
              "blacklisted": tally.blacklisted, "duplicates": tally.duplicates,
              "new": tally.new, "existing": tally.existing,
              "existing_unchanged": tally.existing_unchanged,
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

@i18n.in_english
def run_finalise(import_id: int, on_progress: Progress = None) -> str:
    """Write an import in the ``finalising`` step, resuming after its checkpoint."""
    imp = Import.get_or_none(Import.id == import_id)
    if imp is None:
        return "skipped"
    if imp.step == "done":
        report.send_pending(imp)  # a crash after the last commit: mails not yet queued
        return "done"
    if imp.step != "finalising":
        return "skipped"
    vocab = AccountVocabulary.load(imp.account_id)
    writer = _ChunkWriter(imp, RowBuilder(imp.columns, imp.mapping, vocab, imp.fixes), vocab)
    parts = ImportPart.select().where(ImportPart.imp == imp.id).order_by(ImportPart.number)
    chunks = spool.read_all([spool.path_for(file_path(imp), part_name(p)) for p in parts],
                            spool.fingerprint(imp, vocab))
    duplicates = _duplicates(imp)
    try:  # the rows validation checked, as it left them: no second parse or check
        for end, covered, items in _joined(chunks, writer.imp.checkpoint, finalise_rows()):
            if duplicates:  # the join found them after the parts wrote their spools
                items = [item for item in items if item[0] not in duplicates]
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


def finalise_rows() -> int:
    """Rows per finalise transaction: more on PostgreSQL (a batch's fixed cost is spread)
    than on SQLite (where a long write would keep the web's other writers waiting)."""
    return CHUNK_ROWS * (FINALISE_CHUNKS_PG if is_postgres() else 1)


def _joined(chunks, checkpoint: int, rows: int):
    """The spool's (end, covered, items) after ``checkpoint``, joined up to ``rows`` rows."""
    end, covered, items = checkpoint, 0, []
    for chunk_end, chunk_covered, chunk_items in chunks:
        if chunk_end <= checkpoint:
            continue
        end, covered = chunk_end, covered + chunk_covered
        items.extend(chunk_items)
        if covered >= rows:
            yield end, covered, items
            covered, items = 0, []
    if covered:
        yield end, covered, items


def _duplicates(imp: Import) -> set[int]:
    return {record for (record,) in ImportRowError.select(ImportRowError.record).where(
        (ImportRowError.imp == imp.id) & (ImportRowError.code == "duplicate")).tuples()}


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
        # Provenance clips the actor ("token:N" and the token's name) to its column.
        self.provenance = Provenance(channel="import", reference=f"import:{imp.id}",
                                     actor=imp.consent_by or imp.actor,
                                     text="The uploader stated the data was obtained "
                                          "rightfully.")

    def write(self, items: list, failures: list, end: int, covered: int) -> bool:
        """Write the valid ``items`` [(record, clean)] and record ``failures`` [(record,
        errors)] of ``covered`` rows up to record ``end``; False if another worker got there."""
        imp = self.imp
        counts = dict(imp.counts)
        counts.pop(FAILED_ATTEMPTS, None)  # progress: earlier failures were not this one's
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
            for (record, clean), (_email, result) in zip(items, results, strict=True):
                if result.outcome == "blacklisted":
                    errors.extend(_error_rows(imp, self.builder, record, [FieldError(
                        "email", "blacklisted", _(BLACKLISTED), clean["email"])]))
                    counts["blacklisted"] = counts.get("blacklisted", 0) + 1
                elif result.outcome == "incomplete":
                    missing = [n for n in ("language", "source") if not result.values.get(n)]
                    errors.extend(_error_rows(imp, self.builder, record, [FieldError(
                        n, "required", _(REQUIRED_FOR_NEW[n]))
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
