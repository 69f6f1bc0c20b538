"""What every ``inlet`` command shares: wiring the process, checking an account, clean errors,
and the language of what it prints.

The core commands (gateway.cli) and each area's ``cli`` module use these.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

import click
import peewee

from gateway import i18n, runtime
from gateway.errors import InletError
from gateway.i18n import _
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


def use_environment_language() -> str:
    """Speak the shell's language for the rest of this command (a group's callback calls it
    once at start-up); the language goes back when the command ends."""
    language = environment_language()
    ctx = click.get_current_context(silent=True)
    if ctx is None:
        i18n.activate(language)
    else:
        ctx.with_resource(i18n.use(language))
    return language


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
