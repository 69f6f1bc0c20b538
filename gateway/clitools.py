"""What every ``inlet`` command shares: wiring the process, checking an account, clean errors,
and the language of what it prints.

The core commands (gateway.cli) and each area's ``cli`` module use these.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator, Mapping
from contextlib import contextmanager

import click
import peewee

from gateway import i18n, runtime
from gateway.errors import InletError
from gateway.i18n import N_, _
from gateway.models import Account
from gateway.settings import Settings, SettingsError


def environment_language(environ: Mapping[str, str] = os.environ) -> str:
    """The language of the shell, as gettext reads it: the locale of ``LC_ALL``, else
    ``LC_MESSAGES``, else ``LANG`` (``nl_BE.UTF-8`` → nl), refined by ``LANGUAGE`` (a list,
    ``fr:nl``); English for the C locale and languages we have no texts for."""
    locale = next((environ[name] for name in ("LC_ALL", "LC_MESSAGES", "LANG")
                   if environ.get(name)), "")
    code = locale.split(".")[0].split("@")[0]
    if code in ("C", "POSIX"):
        return i18n.SOURCE_LANGUAGE  # as gettext: the C locale ignores LANGUAGE
    wanted = (environ.get("LANGUAGE") or "").split(":") if code else []
    return i18n.pick(*(tag.split(".")[0].split("@")[0] for tag in wanted), code)


# Click's own words in a help page, translated where the page is written.
_FRAME = (N_("Options"), N_("Commands"), N_("Positional arguments"),
          N_("Show this message and exit."))
_EXTRAS = re.compile(r"(?P<help>.*?)(?P<space>\s*)\[(?P<extras>[^\[\]]*)\]", re.DOTALL)


def _extra(item: str) -> str:
    """One of click's ``[default: 8000; required]`` notes in the task's language."""
    if item == "required":
        return _("required")
    for prefix, text in (("default: ", N_("default: %(value)s")),
                         ("env var: ", N_("env var: %(value)s"))):
        if item.startswith(prefix):
            return _(text) % {"value": item[len(prefix):]}
    return item


class _HelpFormatter(click.HelpFormatter):
    """Click's help page with its headings and notes in the task's language."""

    def write_usage(self, prog: str, args: str = "", prefix: str | None = None) -> None:
        super().write_usage(prog, args, _("Usage:") + " " if prefix is None else prefix)

    def write_heading(self, heading: str) -> None:
        title = _("%(heading)s:") % {"heading": _(heading)}
        self.write(f"{'':>{self.current_indent}}{title}\n")

    def write_dl(self, rows, col_max: int = 30, col_spacing: int = 2) -> None:
        notes = []
        for term, text in rows:
            found = _EXTRAS.fullmatch(text or "")
            if found:
                extras = "; ".join(map(_extra, found["extras"].split("; ")))
                text = f"{found['help']}{found['space']}[{extras}]"
            notes.append((term, text))
        super().write_dl(notes, col_max, col_spacing)


class _Context(click.Context):
    formatter_class = _HelpFormatter


@contextmanager
def _translated(command: click.Command, ctx: click.Context | None = None) -> Iterator[None]:
    """Within the block, ``command``'s help (and, given ``ctx``, its parameters' help) reads
    in the task's language; the English texts go back after, for the next language."""
    owners = [command, *(command.get_params(ctx) if ctx is not None else ())]
    saved = [(owner, name, getattr(owner, name, None)) for owner in owners
             for name in ("help", "short_help") if getattr(owner, name, None)]
    try:
        for owner, name, text in saved:
            setattr(owner, name, i18n.gettext(text))
        yield
    finally:
        for owner, name, text in saved:
            setattr(owner, name, text)


class _TranslatedHelp:
    """What both classes share: the shell's language from the start (``--help`` is answered
    while parsing, before any callback runs), and help texts translated when shown (click
    reads them at import, before the language is known)."""

    context_class = _Context

    def main(self, *args, **kwargs):
        with i18n.use(environment_language()):
            return super().main(*args, **kwargs)

    def format_help(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        with _translated(self, ctx):
            super().format_help(ctx, formatter)

    def get_short_help_str(self, limit: int = 45) -> str:
        with _translated(self):
            return super().get_short_help_str(limit)


class TranslatedCommand(_TranslatedHelp, click.Command):
    """A command whose ``--help`` reads in the shell's language."""


class TranslatedGroup(_TranslatedHelp, click.Group):
    """A group whose ``--help``, and its commands' and subgroups', reads in the shell's language."""

    command_class = TranslatedCommand
    group_class = type  # subgroups are TranslatedGroups too


def configure(migrate: bool = True) -> Settings:
    """Wire this process from the environment (upgrading the schema unless told not to)."""
    try:
        settings = Settings.from_env()
    except SettingsError as exc:
        raise click.ClickException(str(exc)) from None
    runtime.configure(settings, migrate=migrate)
    return settings


def require_account(account_id: int) -> None:
    """Stop with a clean message when the account does not exist."""
    if not Account.get_or_none(Account.id == account_id):
        raise click.ClickException(_("no account %(id)s") % {"id": account_id})


def run(fn, *args):
    """Call ``fn``, turning our errors into a clean CLI message."""
    try:
        return fn(*args)
    except InletError as exc:
        raise click.ClickException(i18n.gettext(exc.message)) from None
    except peewee.IntegrityError:
        raise click.ClickException(_("that exists already")) from None
