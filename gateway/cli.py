"""The ``inlet`` console script."""

from __future__ import annotations

import gc
import sys

import click

from gateway import i18n, runtime
from gateway.clitools import (
    TranslatedGroup,
    configure,
    require_account,
    run,
)
from gateway.db import db
from gateway.i18n import N_, _
from gateway.registry import AREAS
from gateway.schema import upgrade
from gateway.settings import Settings, SettingsError, served_url


@click.group(cls=TranslatedGroup,
             help=N_("Inlet: a self-hosted contact-ingestion gateway."))
def main() -> None:
    """Inlet: a self-hosted contact-ingestion gateway."""


def server_language() -> None:
    """A server's texts follow each request, user or recipient, never the shell it was started
    from: its jobs and requests start from English (``gateway.i18n``), as without the CLI."""
    i18n.activate(i18n.SOURCE_LANGUAGE)


@main.command(help=N_("Run the gateway (and, with no INLET_REDIS_URL, its jobs in-process)."))
@click.option("--host", default="127.0.0.1", show_default=True,
              help=N_("The address to listen on."))
@click.option("--port", default=8000, show_default=True, type=int,
              help=N_("The port to listen on."))
@click.option("--access-log/--no-access-log", default=True, show_default=True,
              help=N_("Log every request (off behind a proxy that logs them: ~60 us a "
                      "request)."))
def serve(host: str, port: int, access_log: bool) -> None:
    """Run the gateway (and, with no INLET_REDIS_URL, its jobs in-process)."""
    import logging

    import uvicorn

    from gateway.app import create_app
    server_language()
    logging.basicConfig(level=logging.INFO)
    try:
        # Unset INLET_BASE_URL: links in mails point at the address served here.
        settings = Settings.from_env(served_url=served_url(host, port))
        app = create_app(settings)
    except SettingsError as exc:
        raise click.ClickException(str(exc)) from None
    # X-Forwarded-For/-Proto are believed only from INLET_TRUSTED_PROXIES (default: nobody).
    proxies = ",".join(str(network) for network in settings.trusted_proxies)
    uvicorn.run(app, host=host, port=port, proxy_headers=bool(proxies),
                forwarded_allow_ips=proxies or None, access_log=access_log)


@main.command(help=N_("Run an RQ worker for Inlet's queue (needs INLET_REDIS_URL)."))
@click.option("--burst", is_flag=True, help=N_("Stop when the queue is empty."))
def worker(burst: bool) -> None:
    """Run an RQ worker for Inlet's queue (needs INLET_REDIS_URL)."""
    settings = configure()
    server_language()
    if settings.embedded_queue:
        raise click.ClickException(_("INLET_REDIS_URL is not set: `inlet serve` runs the "
                                     "jobs in-process on embedded defaults."))
    from rq import Worker

    from gateway.worker import load_job_modules, start_sweeper
    queue = runtime.queue()
    db.close()  # the work horse opens its own connection after the fork
    load_job_modules()
    # Each job runs in a forked work horse. Frozen, what this process loaded is skipped by the
    # horse's collections: they neither walk it nor copy its pages by writing GC headers.
    gc.freeze()
    sweeper = None if burst else start_sweeper(settings.sweep_seconds)
    try:
        Worker([queue.rq], connection=queue.redis).work(burst=burst, with_scheduler=True)
    finally:
        if sweeper:
            sweeper.terminate()


@main.group("db", help=N_("Schema commands."))
def db_group() -> None:
    """Schema commands."""


@db_group.command("upgrade", help=N_("Create or upgrade the schema (safe to run again)."))
def db_upgrade() -> None:
    """Create or upgrade the schema (safe to run again)."""
    configure(migrate=False)
    applied = upgrade()
    click.echo(_("applied: %(migrations)s") % {"migrations": ", ".join(map(str, applied))}
               if applied else _("schema up to date"))


@main.group(help=N_("Accounts (tenants)."))
def account() -> None:
    """Accounts (tenants)."""


@account.command("create", help=N_("Create an account and print its id."))
@click.argument("name")
def account_create(name: str) -> None:
    """Create an account and print its id."""
    from gateway.accounts import create_account
    settings = configure()
    with db.connection_context():
        click.echo(create_account(name, settings.default_languages).id)


@main.group(help=N_("API tokens."))
def token() -> None:
    """API tokens."""


@token.command("create", help=N_("Create a token and print it once (it is stored only as a "
                                          "hash)."))
@click.argument("account_id", type=int)
@click.option("--scopes", default="contacts:read,contacts:write,imports:write",
              show_default=True, help=N_("Comma-separated: contacts:read, contacts:write, "
                                         "imports:write, admin."))
@click.option("--name", default="", help=N_("A label to recognise the token by."))
def token_create(account_id: int, scopes: str, name: str) -> None:
    """Create a token and print it once (it is stored only as a hash)."""
    from gateway.auth import create_token
    configure()
    with db.connection_context():
        require_account(account_id)
        _token, plain = run(create_token, account_id,
                       [s.strip() for s in scopes.split(",") if s.strip()], name)
    click.echo(plain)


@token.command("revoke", help=N_("Revoke a token by its id."))
@click.argument("account_id", type=int)
@click.argument("token_id", type=int)
def token_revoke(account_id: int, token_id: int) -> None:
    """Revoke a token by its id."""
    from gateway.auth import revoke_token
    configure()
    with db.connection_context():
        if not revoke_token(account_id, token_id):
            raise click.ClickException(_("no such live token"))
    click.echo(_("revoked"))


@main.group(help=N_("Admin UI logins."))
def user() -> None:
    """Admin UI logins."""


@user.command("create", help=N_("Create an admin UI login for an account."))
@click.argument("account_id", type=int)
@click.argument("email")
@click.option("--password-stdin", is_flag=True,
              help=N_("Read the password from standard input."))
def user_create(account_id: int, email: str, password_stdin: bool) -> None:
    """Create an admin UI login for an account."""
    from gateway.auth import create_user
    configure()
    if password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = click.prompt(_("Password"), hide_input=True,
                                confirmation_prompt=_("Repeat for confirmation"))
    with db.connection_context():
        require_account(account_id)
        created = run(create_user, account_id, email, password)
    click.echo(_("user %(email)s created") % {"email": created.email})


def _add_area_commands() -> None:
    """Each area adds its own commands (``Area.commands``)."""
    for area in AREAS:
        for command in area.load("commands"):
            main.add_command(command)


_add_area_commands()

if __name__ == "__main__":
    main()
