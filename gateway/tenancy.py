"""The one tenancy rule for lookups by id: an account only ever gets its own rows."""

from __future__ import annotations

from gateway.errors import NotFound


def owned(model, account_id: int, object_id, label: str):
    """The ``model`` row ``object_id`` of ``account_id``, or 404 naming ``label``.

    Another account's row and a row that does not exist get the very same answer.
    """
    try:
        object_id = int(object_id)
    except (TypeError, ValueError):
        raise NotFound(f"No such {label}.") from None
    row = model.get_or_none((model.id == object_id) & (model.account == account_id))
    if row is None:
        raise NotFound(f"No such {label}.")
    return row
