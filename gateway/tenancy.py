"""The one tenancy rule for lookups by id: an account only ever gets its own rows."""

from __future__ import annotations

from gateway.errors import NotFound
from gateway.i18n import N_, _

# "No such …." for each label callers name, one text each (a translation names it its way).
_MISSING = {"contact": N_("No such contact."), "import": N_("No such import."),
            "form": N_("No such form."), "hook": N_("No such hook."),
            "event endpoint": N_("No such event endpoint.")}


def owned(model, account_id: int, object_id, label: str):
    """The ``model`` row ``object_id`` of ``account_id``, or 404 naming ``label``.

    Another account's row and a row that does not exist get the very same answer.
    """
    try:
        object_id = int(object_id)
    except (TypeError, ValueError):
        raise NotFound(_missing(label)) from None
    row = model.get_or_none((model.id == object_id) & (model.account == account_id))
    if row is None:
        raise NotFound(_missing(label))
    return row


def _missing(label: str) -> str:
    """"No such contact." in the task's language (a label we have no text for: "Not found.")."""
    return _(_MISSING[label]) if label in _MISSING else _("Not found.")
