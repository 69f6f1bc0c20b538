"""Numbers for people: thousands separators and singular/plural."""

from __future__ import annotations


def num(value: int | float | None) -> str:
    """'40,000' (``None``: '0')."""
    return f"{value or 0:,}"


def counted(value: int | None, singular: str, plural: str | None = None) -> str:
    """'1 new contact', '40,000 new contacts' (``plural`` for irregular words)."""
    word = singular if value == 1 else (plural or f"{singular}s")
    return f"{num(value)} {word}"


def about(value: int, estimated: bool = False, floor: int = 10_000) -> str:
    """A count as people read it: exact ('40,304'), or 'about 1.2 million' / 'about 56,000'
    for an estimate, 'more than 10,000' when only that much is known (SQLite)."""
    if not estimated:
        return num(value)
    if value <= floor:
        return f"more than {num(floor)}"
    if value >= 1_000_000:
        return f"about {value / 1_000_000:.1f} million".replace(".0 ", " ")
    return f"about {num(int(float(f'{value:.2g}')))}"
