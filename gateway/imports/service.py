"""Import operations for the API, the admin UI wizard and the CLI (call inside a DB
connection; each raises the gateway's errors)."""

from __future__ import annotations

import csv
import uuid
from collections.abc import Iterable
from pathlib import Path

from gateway import i18n, runtime
from gateway.db import utcnow
from gateway.errors import Conflict, NotFound, ValidationFailed
from gateway.i18n import N_, _
from gateway.imports import fixes, jobs, mapping, reader, report, spool, texts
from gateway.imports.models import Import, ImportRowError
from gateway.imports.rows import FIXABLE, apply_fixes, fix_table
from gateway.models import Account
from gateway.tenancy import owned
from gateway.validation import AccountVocabulary, FieldError, normalise_email, suggest

MAX_JSON_CONTACTS = 100_000
EDITABLE_STEPS = ("mapping", "consent", "fallbacks", "ready")
# Steps an abandoned import may be cancelled in (finalising writes; done is history).
CANCELLABLE_STEPS = (*EDITABLE_STEPS, "validating", "failed")
STEP_NAMES = {"mapping": N_("Choose the columns"), "consent": N_("Waiting for consent"),
              "validating": N_("Checking the rows"), "fallbacks": N_("Review: fallbacks needed"),
              "ready": N_("Review: ready to import"), "finalising": N_("Importing"),
              "done": N_("Finished"), "failed": N_("Failed")}
ERRORS_PREVIEW = 50
FALLBACKS_MISSING = {  # finalise asked for before the review's fallbacks were chosen
    ("language",): N_("Choose a fallback language for the rows without one."),
    ("source",): N_("Choose a fallback source for the rows without one."),
    ("language", "source"): N_("Choose a fallback language and source for the rows without "
                               "one.")}


def _new_path(account_id: int) -> tuple[Path, str]:
    relative = f"imports/{account_id}/{uuid.uuid4().hex}.csv"
    return runtime.settings().data_dir / relative, relative


def _check_notify(account_id: int, notify_email) -> str | None:
    """Who gets the report: ``notify`` when given, nobody for ``false``, else the account's
    notification address (the API promises a report as the admin wizard does)."""
    if notify_email is False or str(notify_email).strip().lower() in ("false", "no", "0"):
        return None
    if notify_email in (None, "", True):
        return report.default_recipient(account_id)
    clean, error = normalise_email(notify_email)
    if error:
        raise ValidationFailed(_("notify must be an e-mail address."),
                               details=[error.to_dict()])
    return clean


def create_from_upload(account_id: int, filename: str, chunks: Iterable[bytes] | object, *,
                       actor: str = "", notify_email=None, welcome: bool = False,
                       consent: bool = False) -> Import:
    """Store an uploaded CSV (an iterable of byte chunks or a binary file) and read its header;
    refuses a broken file rule with a 4xx naming it. Returns the import, in step "mapping".

    ``consent``: the uploader stated with the file that it was obtained rightfully (the
    admin asks it next to the file picker); the mapping then starts the validation."""
    name = reader.check_filename(filename)
    notify = _check_notify(account_id, notify_email)
    if hasattr(chunks, "read"):
        chunks = iter(lambda f=chunks: f.read(1 << 20), b"")
    dest, relative = _new_path(account_id)
    size, encoding = reader.store(chunks, dest)
    try:  # any refusal from here on (a file rule, the store) leaves no file behind
        delimiter, columns, rows = reader.inspect(dest, encoding)
        imp = _create(account_id, "csv", name, relative, size, encoding, delimiter, columns,
                      rows, actor=actor, notify=notify, welcome=welcome)
        if consent:
            Import.update(consent=True, consent_at=utcnow(), consent_by=actor).where(
                Import.id == imp.id).execute()
        return get_import(account_id, imp.id)
    except BaseException:
        dest.unlink(missing_ok=True)
        raise


def _create(account_id, kind, name, relative, size, encoding, delimiter, columns, rows, *,
            actor, notify, welcome, fixed_mapping=None) -> Import:
    vocab = AccountVocabulary.load(account_id)
    suggested = fixed_mapping or mapping.suggest(columns, vocab, mapping.recall(account_id))
    return Import.create(account=account_id, kind=kind, filename=name, path=relative,
                         size=size, encoding=encoding, delimiter=delimiter, columns=columns,
                         total_rows=rows, suggested_mapping=suggested, mapping=suggested,
                         actor=actor, notify_email=notify, welcome=bool(welcome),
                         language=i18n.named())


def create_from_json(account_id: int, contacts, *, actor: str = "", notify_email=None,
                     welcome: bool = False) -> Import:
    """Start an import from a list of contact objects (the API's JSON form): same steps, the
    mapping is the field names. Returns the import, in step "mapping"."""
    if not isinstance(contacts, list) or not contacts:
        raise ValidationFailed(_("contacts must be a non-empty array of contact objects."))
    if len(contacts) > MAX_JSON_CONTACTS:
        raise reader.TooManyRows(_("At most %(num)s contacts per import.")
                                 % {"num": i18n.number(MAX_JSON_CONTACTS)}
                                 + " " + _(reader.SPLIT_HINT))
    bad = [i for i, item in enumerate(contacts) if not isinstance(item, dict)]
    if bad:
        raise ValidationFailed(_("Every contact must be an object."),
                               details=[{"field": f"contacts[{i}]", "code": "invalid"}
                                        for i in bad[:20]])
    notify = _check_notify(account_id, notify_email)
    vocab = AccountVocabulary.load(account_id)
    columns = _json_columns(contacts, vocab)
    dest, relative = _new_path(account_id)
    dest.parent.mkdir(parents=True, exist_ok=True)
    with open(dest, "w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh, lineterminator="\r\n")
        writer.writerow(columns)
        for item in contacts:
            custom = item.get("custom_fields") if isinstance(item.get("custom_fields"),
                                                             dict) else {}
            writer.writerow([_cell(item.get(c) if c in item else custom.get(c))
                             for c in columns])
    known = set(mapping.fields(vocab))
    fixed = {c: (c if c in known else None) for c in columns}
    imp = _create(account_id, "json", "contacts.json", relative, dest.stat().st_size, "utf-8",
                  ",", columns, len(contacts), actor=actor, notify=notify, welcome=welcome,
                  fixed_mapping=fixed)
    ignored = [c for c, f in fixed.items() if f is None]
    if ignored:
        imp.warnings = [_("Ignored unknown keys: %(keys)s.") % {"keys": ", ".join(ignored)}]
        imp.save()
    return imp


def _json_columns(contacts: list[dict], vocab: AccountVocabulary) -> list[str]:
    columns: dict[str, None] = {"email": None}
    for item in contacts:
        for key, value in item.items():
            if key == "custom_fields" and isinstance(value, dict):
                columns.update(dict.fromkeys(value))
            elif key != "custom_fields":
                columns[key] = None
    return list(columns)


def _cell(value) -> str:
    """A JSON value as the CSV cell the same validation reads."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list | tuple):
        return ",".join(str(v) for v in value)
    return str(value)


def get_import(account_id: int, import_id) -> Import:
    """One of the account's imports, or 404 (never another account's)."""
    return owned(Import, account_id, import_id, "import")


def to_dict(imp: Import) -> dict:
    """The API import shape (plus the report once done and the first errors)."""
    done = imp.step == "done"
    total = imp.total_rows
    data = {
        "id": imp.id, "kind": imp.kind, "filename": imp.filename, "step": imp.step,
        "progress": {"done": min(imp.progress_done, total), "total": total},
        "delimiter": imp.delimiter, "encoding": imp.encoding, "columns": imp.columns,
        "suggested_mapping": imp.suggested_mapping, "mapping": imp.mapping,
        "consent": imp.consent, "fallbacks": imp.fallbacks or {}, "fixes": imp.fixes or [],
        "unknown_values": fixes.unknown_values(imp) if imp.step in EDITABLE_STEPS else [],
        "needs_fallbacks": imp.needs_fallbacks or [], "welcome": imp.welcome,
        "notify": imp.notify_email, "counts": imp.counts or {},
        "warnings": (imp.warnings or []) + report.warnings(imp),
        "errors_url": f"/api/imports/{imp.id}/errors.csv",
        "errors": [_error_dict(e) for e in ImportRowError.select().where(
            ImportRowError.imp == imp.id).order_by(ImportRowError.record, ImportRowError.id)
            .limit(ERRORS_PREVIEW)],
        "created_at": imp.created_at.isoformat() + "Z",
        "finished_at": imp.finished_at.isoformat() + "Z" if imp.finished_at else None,
    }
    if done:
        data["report"] = report.summary(imp) | {"errors_url": data["errors_url"]}
    return data


def _error_dict(e: ImportRowError) -> dict:
    item = {"row": e.row, "column": e.column, "value": e.value, "code": e.code,
            "reason": e.reason}
    if e.suggestion:
        item["suggestion"] = e.suggestion
    return item


def state(account_id: int, import_id) -> dict:
    """The import as the API shows it."""
    return to_dict(get_import(account_id, import_id))


def list_imports(account_id: int, limit: int = 20) -> list[dict]:
    """The account's latest imports, newest first (short form for lists): ``name`` tells
    imports of the same file name apart ("people.csv (2)"), ``step_name`` is for people."""
    rows = list(Import.select().where(Import.account == account_id)
                .order_by(Import.id.desc()).limit(limit))
    names = _distinct_names(account_id, {i.filename for i in rows})
    return [{"id": i.id, "filename": i.filename, "name": names.get(i.id, i.filename),
             "step": i.step, "step_name": step_name(i),
             "cancellable": i.step in CANCELLABLE_STEPS, "counts": i.counts or {},
             "created_at": i.created_at.isoformat() + "Z"} for i in rows]


def step_name(imp: Import) -> str:
    """The import's step for people: a review with failing rows says how many can go in
    ("ready to import" only when nothing fails)."""
    counts = imp.counts or {}
    if imp.step == "ready" and counts.get("failed"):
        return _("Review: %(valid)s of %(total)s rows can be imported") % {
            "valid": i18n.number(counts.get("valid", 0)),
            "total": i18n.number(counts.get("rows", 0))}
    return _(STEP_NAMES[imp.step]) if imp.step in STEP_NAMES else imp.step


def _distinct_names(account_id: int, filenames: set[str]) -> dict[int, str]:
    """{import id: "name (n)"} for the n-th import (n > 1) of a file name, oldest first."""
    seen: dict[str, int] = {}
    names = {}
    for import_id, filename in (Import.select(Import.id, Import.filename)
                                .where((Import.account == account_id)
                                       & Import.filename.in_(list(filenames)))
                                .order_by(Import.id).tuples()):
        seen[filename] = seen.get(filename, 0) + 1
        if seen[filename] > 1:
            names[import_id] = f"{filename or 'import'} ({seen[filename]})"
    return names


def _editable(imp: Import) -> None:
    if imp.step not in EDITABLE_STEPS:
        raise Conflict(_("The import is %(step)s; its choices can no longer change.")
                       % {"step": step_name(imp).lower()})


def _start_validation(imp: Import, changes: dict | None = None,
                      restore: dict | None = None) -> None:
    """Apply ``changes`` and move to validating (once), then queue the (idempotent) job.

    The move is committed first: a job may start at once and must find it. If the queue
    refuses (503), the import is put back as it was (plus ``restore``), so "nothing was
    accepted" holds: no import is left validating for a sweep to move on later.
    """
    changes = changes or {}
    before = {name: getattr(imp, name)
              for name in (*changes, "step", "progress_done", "checkpoint", "updated_at")}
    moved = (Import.update(**changes, step="validating", progress_done=0, checkpoint=0,
                           updated_at=utcnow())
             .where((Import.id == imp.id) & (Import.step.in_(EDITABLE_STEPS))).execute())
    if not moved:
        return
    try:
        runtime.queue().enqueue(jobs.validate_import, imp.id)
    except Exception:
        Import.update(**before, **(restore or {})).where(
            (Import.id == imp.id) & (Import.step == "validating")).execute()
        raise


def discard(account_id: int, import_id) -> None:
    """Remove an import whose start was refused (its row and its file): nothing is left."""
    imp = get_import(account_id, import_id)
    path = spool.file_path(imp)
    imp.delete_instance(recursive=True)
    path.unlink(missing_ok=True)
    spool.remove(path)


def cancel(account_id: int, import_id) -> None:
    """Delete an abandoned import: its row, errors and stored file (not while it writes
    contacts, nor once done: a finished import is the record of what came in)."""
    imp = get_import(account_id, import_id)
    if imp.step not in CANCELLABLE_STEPS:
        raise Conflict(_("The import is %(step)s; it can no longer be cancelled.")
                       % {"step": step_name(imp).lower()})
    discard(account_id, import_id)


def set_mapping(account_id: int, import_id, chosen: dict) -> dict:
    """Choose the column → field mapping ({column: field or None}); remembered for the next
    import. Re-validates when consent was already given."""
    imp = get_import(account_id, import_id)
    _editable(imp)
    vocab = AccountVocabulary.load(account_id)
    checked = mapping.check(chosen, imp.columns, vocab)
    # Remembered once the import is done (report.finish): an abandoned mapping is no model.
    Import.update(mapping=checked, step="consent" if not imp.consent else imp.step,
                  updated_at=utcnow()).where(Import.id == imp.id).execute()
    if imp.consent:  # a refused start puts the previous mapping back too
        _start_validation(get_import(account_id, import_id), restore={"mapping": imp.mapping})
    return state(account_id, import_id)


def set_consent(account_id: int, import_id, obtained_rightfully, *, actor: str = "",
                welcome: bool | None = None) -> dict:
    """Record that the data was obtained rightfully (required) and queue the validation."""
    imp = get_import(account_id, import_id)
    if obtained_rightfully is not True:
        raise ValidationFailed(_("The import cannot continue without consent: confirm the "
                                 "contacts' data was obtained rightfully."),
                               details=[{"field": "obtained_rightfully", "code": "required"}])
    if imp.consent:
        return to_dict(imp)  # idempotent
    _editable(imp)
    vocab = AccountVocabulary.load(account_id)
    mapping.check(imp.mapping, imp.columns, vocab)  # the suggestion, if never changed
    changes = {"consent": True, "consent_at": utcnow(), "consent_by": actor or imp.actor}
    if welcome is not None:
        changes["welcome"] = bool(welcome)
    _start_validation(imp, changes)  # one update: consent is never kept without its job
    return state(account_id, import_id)


def set_fallbacks(account_id: int, import_id, data: dict) -> dict:
    """Choose the language and/or source given to new contacts that lack one."""
    imp = get_import(account_id, import_id)
    _editable(imp)
    if imp.step == "validating":
        raise Conflict(_("Wait for the validation to finish."))
    if not isinstance(data, dict):
        raise ValidationFailed(_("Send {\"language\": ..., \"source\": ...}."))
    vocab = AccountVocabulary.load(account_id)
    chosen, errors = dict(imp.fallbacks or {}), []
    for name, allowed in (("language", vocab.languages), ("source", vocab.sources)):
        value = data.get(name)
        if value in (None, ""):
            continue
        value = str(value).strip()
        value = value.lower() if name == "language" else value
        if value not in allowed:
            hint = suggest(value, allowed)
            unknown = (_("Unknown language '%(value)s'.") if name == "language"
                       else _("Unknown source '%(value)s'.")) % {"value": value}
            if hint:
                unknown += " " + _("Did you mean '%(hint)s'?") % {"hint": hint}
            errors.append(FieldError(name, f"unknown_{name}", unknown, value, hint))
        chosen[name] = value
    if errors:
        raise ValidationFailed(details=[e.to_dict() for e in errors])
    step = imp.step
    if step == "fallbacks" and all(chosen.get(n) for n in imp.needs_fallbacks or []):
        step = "ready"
    Import.update(fallbacks=chosen, step=step, updated_at=utcnow()).where(
        Import.id == imp.id).execute()
    return state(account_id, import_id)


def finalise(account_id: int, import_id) -> dict:
    """Queue the writing of the valid rows (resumes a crashed run; a done import stays)."""
    imp = get_import(account_id, import_id)
    if imp.step == "failed":
        raise Conflict(" ".join(imp.warnings or []) or _("The import failed."))
    if imp.step in ("mapping", "consent"):
        raise Conflict(_("Give consent first: the import cannot continue without it."))
    if imp.step == "validating":
        raise Conflict(_("The validation is still running; finalise when it is done."))
    if imp.step == "fallbacks":
        missing = [n for n in imp.needs_fallbacks if not (imp.fallbacks or {}).get(n)]
        raise Conflict(_(FALLBACKS_MISSING.get(tuple(sorted(missing)),
                                               FALLBACKS_MISSING[("language", "source")])),
                       details=[{"field": n, "code": "fallback_required"} for n in missing])
    if imp.step == "ready":
        (Import.update(step="finalising", progress_done=0, checkpoint=0, updated_at=utcnow())
         .where((Import.id == imp.id) & (Import.step == "ready")).execute())
    if get_import(account_id, import_id).step == "finalising":
        runtime.queue().enqueue(jobs.finalise_import, imp.id)
    return state(account_id, import_id)


def set_fixes(account_id: int, import_id, given) -> dict:
    """Answer unknown labels ([{"kind", "value", "action": create|map|ignore, "to"}]) and
    check the rows again with the answers applied (no new upload)."""
    imp = get_import(account_id, import_id)
    _editable(imp)
    chosen = fixes.apply(account_id, imp, given)
    if imp.consent:
        _start_validation(imp, {"fixes": chosen}, restore={"fixes": imp.fixes})
    else:
        Import.update(fixes=chosen, updated_at=utcnow()).where(Import.id == imp.id).execute()
    return state(account_id, import_id)


def errors_csv(account_id: int, import_id, language: str | None = None,
               browser_language: str | None = None) -> bytes:
    """The failing rows in the file's own separator, with the fixes already chosen applied,
    and three columns added: the original row number, the reason and the suggested fix, in
    ``language`` (asked for), else the account's (Settings), else ``browser_language``,
    else English."""
    imp = get_import(account_id, import_id)
    if not spool.file_path(imp).exists():
        raise NotFound("The uploaded file was deleted after its retention period "
                   "(INLET_RETENTION_UPLOADS); the counts are kept.")
    account = Account.select(Account.report_language).where(Account.id == account_id).scalar()
    problems: dict[int, tuple[int, list[str], list[str]]] = {}
    with i18n.use(i18n.pick(language, account, browser_language)):
        for record, row, column, value, code, reason, suggestion in (ImportRowError.select(
                ImportRowError.record, ImportRowError.row, ImportRowError.column,
                ImportRowError.value, ImportRowError.code, ImportRowError.reason,
                ImportRowError.suggestion)
                .where(ImportRowError.imp == imp.id)
                .order_by(ImportRowError.record, ImportRowError.id).tuples()):
            _row, reasons, fixes_ = problems.setdefault(record, (row, [], []))
            reasons.append(f"{column}: {texts.reason(code, value, reason)}")
            fix = texts.fix(code, suggestion)
            if fix:
                fixes_.append(f"{column}: {fix}")
        header = [*imp.columns, *(texts.header(h) for h in ("row", "reason", "fix"))]
    fixer = _cell_fixer(imp)
    rows = ([*fixer(cells), *[""] * (len(imp.columns) - len(cells)), str(problems[record][0]),
             " | ".join(problems[record][1]), " | ".join(problems[record][2])]
            for record, cells in reader.iter_records(spool.file_path(imp), imp.encoding,
                                                     imp.delimiter) if record in problems)
    return reader.write_csv([header, *rows], imp.delimiter)


def _cell_fixer(imp: Import):
    """A function applying the import's chosen fixes to a record's cells (as RowBuilder
    does before checking), so the error file needs only the fixes not chosen yet."""
    table = fix_table(imp.fixes)
    columns = [(i, field) for i, column in enumerate(imp.columns)
               if (field := (imp.mapping or {}).get(column)) in FIXABLE and field in table]

    def fixed(cells: list[str]) -> list[str]:
        cells = list(cells)
        for index, field in columns:
            if index < len(cells) and cells[index]:
                cells[index] = apply_fixes(field, cells[index], table)
        return cells
    return fixed


def run_now(account_id: int, import_id, on_progress=None) -> dict:
    """Run the queued step (validation or finalise) in this process (CLI), with progress."""
    imp = get_import(account_id, import_id)
    if imp.step == "validating":
        jobs.run_validation(imp.id, on_progress, inline=True)
    elif imp.step == "finalising":
        jobs.run_finalise(imp.id, on_progress)
    return state(account_id, import_id)


__all__ = ["create_from_upload", "create_from_json", "discard", "get_import", "state",
           "to_dict", "list_imports", "set_mapping", "set_consent", "set_fallbacks", "finalise",
           "errors_csv", "run_now", "set_fixes", "cancel"]
