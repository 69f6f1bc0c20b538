"""How the UI shows times: in the account's time zone, "Just now" for the first hour."""

from __future__ import annotations

import functools
import zoneinfo
from datetime import UTC, datetime, timedelta, tzinfo

from markupsafe import Markup, escape

from gateway import i18n
from gateway.i18n import _

JUST_NOW = timedelta(minutes=60)
DEFAULT_ZONE = "Europe/Brussels"


@functools.cache
def zone_names() -> tuple[str, ...]:
    """Every IANA time zone this host knows, sorted (for the Settings picker)."""
    return tuple(sorted(zoneinfo.available_timezones()))


def is_zone(name: str) -> bool:
    """True when ``name`` is a time zone this host knows."""
    return name in zone_names()


def zone(name: str | None) -> tzinfo:
    """The account's zone (unset: Europe/Brussels; a host without tz data: UTC)."""
    try:
        return zoneinfo.ZoneInfo(name or DEFAULT_ZONE)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return UTC


def as_utc(value: datetime | str) -> datetime:
    """An aware UTC datetime from a stored naive-UTC datetime or a ``…Z`` ISO string."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value.removesuffix("Z"))
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def created_label(created_at: datetime | str, now: datetime | str, tz: tzinfo = UTC) -> str:
    """'Just now' for 60 minutes, then 'Today', then the date ('Nov 24, 2026', '24 nov 2026',
    '24 nov. 2026'), all in ``tz`` and the task's language."""
    created, current = as_utc(created_at), as_utc(now)
    if current - created < JUST_NOW:
        # A clock a little ahead on another machine still reads as new, never as "future".
        return _("Just now")
    local = created.astimezone(tz).date()
    if local == current.astimezone(tz).date():
        return _("Today")
    return i18n.format_date(local, "medium")


def moment_text(value: datetime | str, tz: tzinfo) -> str:
    """The local date and time as the task's language writes the date: 'Nov 25, 2026 16:00',
    '25 nov 2026 16:00', '25 nov. 2026 16:00' (24-hour clock in every language)."""
    local = as_utc(value).astimezone(tz)
    return f"{i18n.format_date(local.date(), 'medium')} {local:%H:%M}"


def local_text(value: datetime | str, tz: tzinfo) -> str:
    """'2026-11-25 16:00 CET': the exact local time with its zone."""
    return as_utc(value).astimezone(tz).strftime("%Y-%m-%d %H:%M %Z")


def time_tag(value: datetime | str | None, text: str, tz: tzinfo) -> Markup:
    """``<time>`` carrying the UTC instant, and the exact local time as its tooltip."""
    if value is None:
        return Markup("—")
    stamp = as_utc(value).strftime("%Y-%m-%dT%H:%M:%SZ")
    return Markup('<time datetime="{}" title="{}">{}</time>').format(
        stamp, local_text(value, tz), escape(text))


class Clock:
    """Date helpers bound to one account's zone and one "now", for a template."""

    def __init__(self, tz: tzinfo, now: datetime):
        self.tz, self.now = tz, now

    def ago(self, value: datetime | str | None) -> Markup:
        """'Just now' / 'Today' / the date, with the exact time in a tooltip."""
        if value is None:
            return Markup("—")
        return time_tag(value, created_label(value, self.now, self.tz), self.tz)

    def at(self, value: datetime | str | None) -> Markup:
        """The exact local date and time, 'Nov 25, 2026 16:00' (``moment_text``)."""
        if value is None:
            return Markup("—")
        return time_tag(value, moment_text(value, self.tz), self.tz)

    def today(self):
        """The account's current local date (the "Today" of every page)."""
        return as_utc(self.now).astimezone(self.tz).date()
