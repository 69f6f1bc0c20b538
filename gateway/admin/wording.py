"""Counts for people, in the task's language: exact, or an estimate ("about 1.2 million")."""

from __future__ import annotations

from gateway import i18n
from gateway.i18n import _, ngettext


def about(value: int, estimated: bool = False, floor: int = 10_000) -> str:
    """A count as people read it: exact ('40,304'), or 'about 1.2 million' / 'about 56,000'
    for an estimate, 'more than 10,000' when only that much is known (SQLite)."""
    if not estimated:
        return i18n.number(value)
    if value <= floor:
        return _("more than %(num)s") % {"num": i18n.number(floor)}
    if value >= 1_000_000:
        millions = round(value / 1_000_000, 1)
        return ngettext("about %(num)s million", "about %(num)s million",
                        int(millions)) % {"num": i18n.number(millions)}
    return _("about %(num)s") % {"num": i18n.number(int(float(f"{value:.2g}")))}
