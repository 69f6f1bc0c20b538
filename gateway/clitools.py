"""What every ``inlet`` command shares: wiring the process, checking an account, clean errors.

The core commands (gateway.cli) and each area's ``cli`` module use these.
"""

from __future__ import annotations

import click
import peewee

from gateway import runtime
from gateway.errors import InletError
from gateway.models import Account
from gateway.settings import Settings, SettingsError


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
        raise click.ClickException(f"no account {account_id}")


def run(fn, *args):
    """Call ``fn``, turning our errors into a clean CLI message."""
    try:
        return fn(*args)
    except InletError as exc:
        raise click.ClickException(exc.message) from None
    except peewee.IntegrityError:
        raise click.ClickException("that exists already") from None
