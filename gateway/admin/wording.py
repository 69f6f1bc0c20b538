"""Numbers for people: thousands separators and singular/plural."""

from __future__ import annotations


def num(value: int | float | None) -> str:
    """'40,000' (``None``: '0')."""
    return f"{value or 0:,}"


def counted(value: int | None, singular: str, plural: str | None = None) -> str:
    """'1 new contact', '40,000 new contacts' (``plural`` for irregular words)."""
    word = singular if value == 1 else (plural or f"{singular}s")
    return f"{num(value)} {word}"
