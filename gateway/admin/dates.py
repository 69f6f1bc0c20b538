"""How the UI shows a contact's creation time."""

from __future__ import annotations

from datetime import datetime, timedelta

JUST_NOW = timedelta(minutes=60)


def created_label(created_at: datetime, now: datetime) -> str:
    """'Just now' for 60 minutes, then 'Today', then the ISO date (naive UTC in, as stored)."""
    age = now - created_at
    if age < JUST_NOW:
        # A clock a little ahead on another machine still reads as new, never as "future".
        return "Just now"
    if created_at.date() == now.date():
        return "Today"
    return created_at.date().isoformat()
