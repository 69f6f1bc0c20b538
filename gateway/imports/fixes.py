"""The uploader's answers to unknown sources, interests and preferences: create the label,
map the value to an existing one, or ignore the value and keep the row.

The answers are kept on the import (``Import.fixes``) and applied to the cells before they are
checked (``rows.RowBuilder``), so a re-validation in place (no new upload) turns the rows
that failed only for those values into rows that import."""

from __future__ import annotations

from peewee import fn

from gateway.accounts import add_vocabulary
from gateway.errors import Conflict, ValidationFailed
from gateway.i18n import N_, _
from gateway.imports.models import Import, ImportRowError
from gateway.imports.rows import KIND_OF
from gateway.validation import AccountVocabulary, suggest

ACTIONS = ("create", "map", "ignore")
KINDS = tuple(KIND_OF.values())  # source, interest, preference
VOCAB_OF = {"source": "sources", "interest": "interests", "preference": "preferences"}
NOT_EXISTING = {"source": N_("to must be an existing source; '%(to)s' is not one."),
                "interest": N_("to must be an existing interest; '%(to)s' is not one."),
                "preference": N_("to must be an existing preference; '%(to)s' is not one.")}


def unknown_values(imp: Import, vocab: AccountVocabulary | None = None) -> list[dict]:
    """Each unknown source/interest/preference value of the last validation: its kind, the
    value, the rows holding it, and the existing label matching it but for case."""
    vocab = vocab or AccountVocabulary.load(imp.account_id)
    found = (ImportRowError.select(ImportRowError.code, ImportRowError.value,
                                   fn.COUNT(ImportRowError.record.distinct()))
             .where((ImportRowError.imp == imp.id) & ImportRowError.code.in_(list(KIND_OF)))
             .group_by(ImportRowError.code, ImportRowError.value).tuples())
    items = []
    for code, value, rows in found:
        kind = KIND_OF[code]
        items.append({"kind": kind, "value": value, "rows": rows,
                      "suggestion": suggest(value, getattr(vocab, VOCAB_OF[kind]))})
    return sorted(items, key=lambda item: (-item["rows"], item["kind"], item["value"]))


def check(account_id: int, given, vocab: AccountVocabulary) -> list[dict]:
    """The fixes as a clean list, or 422 naming each bad one (a ``map`` needs an existing
    label, or one created by the same request)."""
    if not isinstance(given, list):
        raise ValidationFailed(_('Send {"fixes": [{"kind", "value", "action", "to"}]}.'))
    created = {(f.get("kind"), f.get("value")) for f in given
               if isinstance(f, dict) and f.get("action") == "create"}
    clean, details = [], []
    for i, fix in enumerate(given):
        problem = _problem(fix, vocab, created)
        if problem:
            details.append({"field": f"fixes[{i}]", "code": "invalid_fix", "message": problem})
            continue
        item = {"kind": fix["kind"], "value": fix["value"], "action": fix["action"]}
        if fix["action"] == "map":
            item["to"] = fix["to"]
        clean.append(item)
    if details:
        raise ValidationFailed(_("Some fixes cannot be applied."), details=details)
    return clean


def _problem(fix, vocab: AccountVocabulary, created: set) -> str | None:
    """Why one fix cannot be applied, or None."""
    if not isinstance(fix, dict) or fix.get("kind") not in KINDS:
        return _("kind must be one of %(kinds)s.") % {"kinds": ", ".join(KINDS)}
    if not isinstance(fix.get("value"), str) or not fix["value"].strip():
        return _("value must be the unknown value, as the errors name it.")
    if fix.get("action") not in ACTIONS:
        return _("action must be one of %(actions)s.") % {"actions": ", ".join(ACTIONS)}
    if fix["action"] == "map":
        labels = getattr(vocab, VOCAB_OF[fix["kind"]])
        if fix.get("to") not in labels and (fix["kind"], fix.get("to")) not in created:
            return _(NOT_EXISTING[fix["kind"]]) % {"to": fix.get("to")}
    return None


def apply(account_id: int, imp: Import, given) -> list[dict]:
    """Create the labels asked for and return the import's fixes with ``given`` merged in
    (a later answer for the same value replaces the earlier one)."""
    if imp.step == "validating":
        raise Conflict(_("Wait for the validation to finish."))
    vocab = AccountVocabulary.load(account_id)
    chosen = check(account_id, given, vocab)
    for fix in chosen:
        if fix["action"] == "create" and fix["value"] not in getattr(vocab,
                                                                     VOCAB_OF[fix["kind"]]):
            try:
                add_vocabulary(account_id, fix["kind"], fix["value"])
            except Conflict:
                pass  # created meanwhile (another tab): what we wanted
    merged = {(f["kind"], f["value"]): f for f in imp.fixes or []}
    merged.update({(f["kind"], f["value"]): f for f in chosen})
    return list(merged.values())
