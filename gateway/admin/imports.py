"""The "Upload a file" wizard over the import service (gateway.imports.service).

Steps as the user sees them: guidelines, file and consent → mapping (with sample values) →
validation (live progress) → review: unknown labels to create, map or ignore (checked again
in place), errors, errors.csv and fallbacks → finalise (live progress) → "N new contacts
added" on the contacts overview, and the report.
"""

from __future__ import annotations

from itertools import islice

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from gateway import i18n
from gateway.accounts import list_vocabulary
from gateway.admin import csrf
from gateway.admin.pages import Viewer, page, redirect, render
from gateway.admin.session import flash
from gateway.errors import InletError, ValidationFailed
from gateway.i18n import N_, _
from gateway.imports import fixes, mapping, reader, report, service, spool, texts
from gateway.imports.models import ImportRowError
from gateway.validation import AccountVocabulary, normalise_email
from gateway.web import in_db, whole_number

UPLOAD_OVERHEAD = 64 * 1024  # multipart headers and the other fields around the file
SAMPLE_ROWS = 3  # sample values shown per column on the mapping screen
EXAMPLES_PER_REASON = 5
PROGRESS_STEPS = ("validating", "finalising")
FIELD_LABELS = {"email": N_("E-mail address"), "first_name": N_("First name"),
                "name": N_("Name"), "language": N_("Language"), "source": N_("Source"),
                "preferences": N_("Preferences"), "interests": N_("Interests")}
CONSENT_TEXT = N_("I confirm the data in this file was obtained rightfully: these contacts "
                  "agreed to receive our e-mails.")
# The review's words for an unknown value of each kind, whole sentences because French and
# Dutch agree them with the kind ("Source … créée", "Centre d'intérêt … créé").
KIND_TEXTS = {
    "source": {
        "name": N_("Source"), "what": N_("What to do with source %(value)s"),
        "use": N_("Use an existing source:"), "instead": N_("Existing source instead of %(value)s"),
        "create": N_("Create source ‘%(value)s’"), "mapped": N_("Source %(value)s: uses ‘%(to)s’"),
        "created": N_("Source %(value)s: created"),
        "ignored": N_("Source %(value)s: ignored, the rows are kept")},
    "interest": {
        "name": N_("Interest"), "what": N_("What to do with interest %(value)s"),
        "use": N_("Use an existing interest:"),
        "instead": N_("Existing interest instead of %(value)s"),
        "create": N_("Create interest ‘%(value)s’"),
        "mapped": N_("Interest %(value)s: uses ‘%(to)s’"),
        "created": N_("Interest %(value)s: created"),
        "ignored": N_("Interest %(value)s: ignored, the rows are kept")},
    "preference": {
        "name": N_("Preference"), "what": N_("What to do with preference %(value)s"),
        "use": N_("Use an existing preference:"),
        "instead": N_("Existing preference instead of %(value)s"),
        "create": N_("Create preference ‘%(value)s’"),
        "mapped": N_("Preference %(value)s: uses ‘%(to)s’"),
        "created": N_("Preference %(value)s: created"),
        "ignored": N_("Preference %(value)s: ignored, the rows are kept")},
}


# ---- pure helpers (unit-tested) -------------------------------------------------------------

def samples(records, columns: list[str], per_column: int = SAMPLE_ROWS) -> dict[str, list[str]]:
    """Up to ``per_column`` non-empty example values per column from (index, cells) records."""
    found: dict[str, list[str]] = {c: [] for c in columns}
    for _index, cells in records:
        for column, cell in zip(columns, cells, strict=False):
            if cell.strip() and len(found[column]) < per_column:
                found[column].append(cell.strip()[:80])
        if all(len(v) >= per_column for v in found.values()):
            break
    return found


def mapping_from_form(form, columns: list[str]) -> dict[str, str | None]:
    """{column: field or None} from the ``map-<n>`` selects (by position: any header works)."""
    return {column: (form.get(f"map-{i}") or None) for i, column in enumerate(columns)}


def fixes_from_form(form, count: int) -> list[dict]:
    """The fixes chosen on the review page: ``fix-<n>-{kind,value,action,to}`` per unknown
    value; the one-click button ``quick=<n>`` maps value n to its suggestion alone."""
    quick = form.get("quick")
    chosen = []
    for i in range(count):
        kind, value = form.get(f"fix-{i}-kind"), form.get(f"fix-{i}-value")
        if quick not in (None, ""):
            if str(i) == quick:
                chosen.append({"kind": kind, "value": value, "action": "map",
                               "to": form.get(f"fix-{i}-suggestion")})
            continue
        action = form.get(f"fix-{i}-action")
        if action in fixes.ACTIONS:
            fix = {"kind": kind, "value": value, "action": action}
            if action == "map":
                fix["to"] = form.get(f"fix-{i}-to") or ""
            chosen.append(fix)
    return chosen


# ---- pages ----------------------------------------------------------------------------------

def _list(account_id: int) -> dict:
    return {"active": "imports", "imports": service.list_imports(account_id, limit=50)}


@page()
async def imports_list(request: Request, viewer: Viewer) -> Response:
    """GET /admin/imports: the latest imports, with their step and a way to cancel."""
    return render(request, "imports/list.html", await in_db(_list, viewer.account_id))


def _guidelines() -> dict:
    return {"max_mb": reader.MAX_BYTES // (1024 * 1024), "max_rows": reader.MAX_ROWS,
            "consent_text": _(CONSENT_TEXT)}


@page()
async def new_import(request: Request, viewer: Viewer) -> Response:
    """GET shows the file guidelines and the upload form with the consent; POST stores the
    file (only with the consent, asked before anything is stored, as Flexmail does)."""
    ctx = {"active": "imports", "error": None, "consent_error": False,
           "chosen": {"notify": True, "welcome": False, "consent": False}, **_guidelines()}
    if request.method == "GET":
        return render(request, "imports/new.html", ctx)
    declared = whole_number(request.headers.get("content-length")) or 0
    if declared > reader.MAX_BYTES + UPLOAD_OVERHEAD:
        # Refused before the body is read: a huge file is never spooled to disk.
        return render(request, "imports/new.html",
                      {**ctx, "error": reader.FileTooLarge.message}, status=413)
    form = await csrf.checked_form(request, max_files=1)
    ctx["chosen"] = {name: bool(form.get(name)) for name in ("notify", "welcome", "consent")}
    upload = form.get("file")
    try:
        if upload is None or isinstance(upload, str) or not upload.filename:
            return render(request, "imports/new.html", {**ctx, "error": _("Choose a .csv file.")},
                          status=422)
        if not form.get("consent"):
            return render(request, "imports/new.html", {**ctx, "consent_error": True},
                          status=422)
        imp = await in_db(service.create_from_upload, viewer.account_id, upload.filename,
                          upload.file, actor=viewer.email, consent=True,
                          welcome=bool(form.get("welcome")),
                          notify_email=_notify_address(viewer) if form.get("notify") else False)
    except InletError as exc:
        return render(request, "imports/new.html", {**ctx, "error": exc.message},
                      status=exc.status)
    finally:
        if upload is not None and not isinstance(upload, str):
            await upload.close()
    return redirect(request, "import", import_id=imp.id)


def _notify_address(viewer: Viewer) -> str | bool:
    """The user's login as the report's address (False, no report, if it cannot get mail)."""
    address, error = normalise_email(viewer.email)
    return False if error else address


def _mapping_context(viewer: Viewer, import_id, errors=None, chosen=None) -> dict:
    imp = service.get_import(viewer.account_id, import_id)
    vocab = AccountVocabulary.load(viewer.account_id)
    records = islice(reader.iter_records(spool.file_path(imp), imp.encoding, imp.delimiter), 50)
    targets = [(f, _(FIELD_LABELS[f]) if f in FIELD_LABELS
                else _("%(field)s (custom field)") % {"field": f}) for f in mapping.fields(vocab)]
    current = chosen or imp.mapping or imp.suggested_mapping
    remembered = mapping.memory(viewer.account_id)
    keys = {mapping.normalise(c) for c in imp.columns}
    used = remembered is not None and bool(keys & set(remembered.mapping))
    return {"active": "imports", "imp": imp, "targets": targets,
            "rows": [(i, column, current.get(column), imp.suggested_mapping.get(column))
                     for i, column in enumerate(imp.columns)],
            "samples": samples(records, imp.columns), "errors": errors or [],
            "origin": remembered.origin if used else None, "consent_error": False,
            "consent_text": _(CONSENT_TEXT)}


def _review_context(viewer: Viewer, import_id, errors=None) -> dict:
    imp = service.get_import(viewer.account_id, import_id)
    vocab = AccountVocabulary.load(viewer.account_id)
    reasons = report.reason_counts(imp.id)
    for group in reasons:
        group["examples"] = list(ImportRowError.select().where(
            (ImportRowError.imp == imp.id) & (ImportRowError.code == group["code"]))
            .order_by(ImportRowError.record, ImportRowError.id).limit(EXAMPLES_PER_REASON))
        for example in group["examples"]:  # the stored English reason, in the page's language
            example.shown_reason = texts.reason(example.code, example.value, example.reason)
            # a translated reason is generic: the suggested fix (as errors.csv words it)
            # follows it; the English one names the suggestion itself
            example.shown_fix = texts.fix(example.code, example.suggestion) \
                if example.suggestion and example.shown_reason != example.reason else ""
    remembered = mapping.memory(viewer.account_id)
    return {"active": "imports", "imp": imp, "state": service.to_dict(imp),
            "groups": reasons, "unknown": fixes.unknown_values(imp, vocab),
            "labels": {kind: sorted(getattr(vocab, fixes.VOCAB_OF[kind]), key=str.casefold)
                       for kind in fixes.KINDS},
            "languages": [v.name for v in list_vocabulary(viewer.account_id, "language")],
            "sources": [v.name for v in list_vocabulary(viewer.account_id, "source")],
            "remembered": (remembered.fallbacks, remembered.origin) if remembered else ({}, {}),
            "kinds": KIND_TEXTS, "errors": errors or {}}


def _report_context(viewer: Viewer, import_id) -> dict:
    imp = service.get_import(viewer.account_id, import_id)
    return {"active": "imports", "imp": imp, "summary": report.summary(imp),
            "has_errors": ImportRowError.select().where(ImportRowError.imp == imp.id).exists()}


@page()
async def wizard(request: Request, viewer: Viewer) -> Response:
    """GET /admin/imports/{id}: the page of the import's current step."""
    import_id = request.path_params["import_id"]
    imp = await in_db(service.get_import, viewer.account_id, import_id)
    editing = request.query_params.get("edit") == "mapping" and \
        imp.step in service.EDITABLE_STEPS
    if imp.step in ("mapping", "consent") or editing:
        return render(request, "imports/mapping.html",
                      await in_db(_mapping_context, viewer, import_id))
    if imp.step in PROGRESS_STEPS:
        return render(request, "imports/progress.html", {"active": "imports", "imp": imp})
    if imp.step in ("fallbacks", "ready"):
        return render(request, "imports/review.html",
                      await in_db(_review_context, viewer, import_id))
    return render(request, "imports/report.html",
                  await in_db(_report_context, viewer, import_id))


@page()
async def save_mapping(request: Request, viewer: Viewer) -> Response:
    """POST /admin/imports/{id}/mapping: the mapping (and the consent for an import started
    without it, through the API), then validation."""
    import_id = request.path_params["import_id"]
    form = await csrf.checked_form(request)

    def work():
        imp = service.get_import(viewer.account_id, import_id)
        chosen = mapping_from_form(form, imp.columns)
        if not imp.consent and not form.get("obtained_rightfully"):
            ctx = _mapping_context(viewer, import_id, chosen=chosen)
            return {**ctx, "consent_error": True}
        try:
            service.set_mapping(viewer.account_id, imp.id, chosen)
        except ValidationFailed as exc:
            return _mapping_context(viewer, import_id, exc.details or [{"message": exc.message}],
                                    chosen)
        if not imp.consent:
            service.set_consent(viewer.account_id, imp.id, True, actor=viewer.email,
                                welcome=bool(form.get("welcome")))
        return None
    ctx = await in_db(work)
    if ctx is not None:
        return render(request, "imports/mapping.html", ctx, status=422)
    return redirect(request, "import", import_id=import_id)


@page()
async def save_fixes(request: Request, viewer: Viewer) -> Response:
    """POST /admin/imports/{id}/fixes: create, map or ignore unknown labels; the rows are
    checked again with the answers applied (no new upload)."""
    import_id = request.path_params["import_id"]
    form = await csrf.checked_form(request)

    def work():
        imp = service.get_import(viewer.account_id, import_id)
        chosen = fixes_from_form(form, len(fixes.unknown_values(imp)))
        if not chosen:
            return _review_context(viewer, import_id, {"fixes": _("Choose what to do with at "
                                                         "least one value.")})
        try:
            service.set_fixes(viewer.account_id, import_id, chosen)
        except ValidationFailed as exc:
            return _review_context(viewer, import_id, {"fixes": " ".join(
                d.get("message", "") for d in exc.details) or exc.message})
        return None
    ctx = await in_db(work)
    if ctx is not None:
        return render(request, "imports/review.html", ctx, status=422)
    return redirect(request, "import", import_id=import_id)


@page()
async def finalise(request: Request, viewer: Viewer) -> Response:
    """POST /admin/imports/{id}/finalise: the fallbacks (when asked for), then write."""
    import_id = request.path_params["import_id"]
    form = await csrf.checked_form(request)
    chosen = {name: form.get(name) for name in ("language", "source") if form.get(name)}

    def work():
        try:
            if chosen:
                service.set_fallbacks(viewer.account_id, import_id, chosen)
            service.finalise(viewer.account_id, import_id)
        except ValidationFailed as exc:
            return _review_context(viewer, import_id, {d.get("field"): d.get("message")
                                                       for d in exc.details})
        except InletError as exc:
            if exc.status != 409:
                raise
            return _review_context(viewer, import_id, {
                d.get("field") or "_": exc.message for d in exc.details or [{}]})
        return None
    ctx = await in_db(work)
    if ctx is not None:
        return render(request, "imports/review.html", ctx, status=422)
    # Through "finished": a job done before this redirect still shows the green bar.
    return redirect(request, "import_finished", import_id=import_id)


@page()
async def cancel(request: Request, viewer: Viewer) -> Response:
    """POST /admin/imports/{id}/cancel: delete an abandoned import and its file."""
    import_id = request.path_params["import_id"]
    await csrf.checked_form(request)

    def work():
        imp = service.get_import(viewer.account_id, import_id)
        service.cancel(viewer.account_id, import_id)
        return imp.filename
    filename = await in_db(work)
    flash(request, _("The import of %(file)s was cancelled and its file removed.")
          % {"file": filename})
    return redirect(request, "imports")


@page()
async def progress(request: Request, viewer: Viewer) -> Response:
    """GET /admin/imports/{id}/progress?waiting=<step>: the step and progress as JSON; for
    htmx (``HX-Request``) the progress box's inside, or an ``HX-Redirect`` to the page to show
    once the import has left the ``waiting`` step."""
    import_id = request.path_params["import_id"]
    state = await in_db(service.state, viewer.account_id, import_id)
    done = state["step"] == "done"
    next_url = str(request.url_for("admin:import_finished", import_id=import_id).path) \
        if done else None
    if request.headers.get("hx-request") != "true":
        return JSONResponse({"step": state["step"], "progress": state["progress"],
                             "next_url": next_url}, headers={"cache-control": "no-store"})
    if done or state["step"] != request.query_params.get("waiting", state["step"]):
        here = str(request.url_for("admin:import", import_id=import_id).path)
        return Response(status_code=200, headers={"hx-redirect": next_url or here,
                                                  "cache-control": "no-store"})
    counts = state["progress"] or {}
    return render(request, "imports/_progress.html",
                  {"done": counts.get("done") or 0, "total": counts.get("total") or 0})


@page()
async def finished(request: Request, viewer: Viewer) -> Response:
    """GET /admin/imports/{id}/finished: the green bar on the contacts overview (or the
    progress page while the job still runs: it comes back here when done)."""
    import_id = request.path_params["import_id"]
    imp = await in_db(service.get_import, viewer.account_id, import_id)
    if imp.step != "done":
        return redirect(request, "import", import_id=import_id)
    summary = await in_db(report.summary, imp)
    report_url = str(request.url_for("admin:import", import_id=import_id).path)
    flash(request, summary["headline"] + ".", link=(report_url, _("See the import report")))
    return redirect(request, "contacts")


@page()
async def errors_csv(request: Request, viewer: Viewer) -> Response:
    """GET /admin/imports/{id}/errors.csv: the failing rows, ready to correct and re-import
    (the report mail links here: the admin login, not an API token, opens it)."""
    import_id = request.path_params["import_id"]
    language = i18n.from_accept_language(request.headers.get("accept-language"))

    def work():
        imp = service.get_import(viewer.account_id, import_id)
        return imp.filename, service.errors_csv(viewer.account_id, import_id,
                                                browser_language=language)
    filename, body = await in_db(work)
    stem = (filename.rsplit(".", 1)[0] or "import").replace('"', "")[:100]
    return Response(body, media_type="text/csv; charset=utf-8", headers={
        "content-disposition": f'attachment; filename="{stem}-errors.csv"',
        "cache-control": "no-store"})

routes = [
    Route("/imports", imports_list, name="imports"),
    Route("/imports/new", new_import, methods=["GET", "POST"], name="import_new"),
    Route("/imports/{import_id:int}", wizard, name="import"),
    Route("/imports/{import_id:int}/mapping", save_mapping, methods=["POST"],
          name="import_mapping"),
    Route("/imports/{import_id:int}/fixes", save_fixes, methods=["POST"], name="import_fixes"),
    Route("/imports/{import_id:int}/finalise", finalise, methods=["POST"],
          name="import_finalise"),
    Route("/imports/{import_id:int}/cancel", cancel, methods=["POST"], name="import_cancel"),
    Route("/imports/{import_id:int}/progress", progress, name="import_progress"),
    Route("/imports/{import_id:int}/finished", finished, name="import_finished"),
    Route("/imports/{import_id:int}/errors.csv", errors_csv, name="import_errors"),
]
