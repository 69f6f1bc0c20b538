"""``inlet hook …``: create, list, rotate and sign for connector hooks."""

from __future__ import annotations

import json
import uuid

import click

from connectors import service, signatures
from gateway.clitools import (
    TranslatedGroup,
    configure,
    require_account,
    run,
)
from gateway.db import db
from gateway.i18n import N_, _


@click.group(cls=TranslatedGroup, help=N_("Connector webhooks (generic and Efficy)."))
def hook() -> None:
    """Connector webhooks (generic and Efficy)."""


def _json_option(value: str | None, name: str):
    if value is None:
        return None
    try:
        return json.loads(value)
    except json.JSONDecodeError as exc:
        raise click.BadParameter(_("not valid JSON: %(why)s") % {"why": exc},
                                 param_hint=name) from None


@hook.command("create", help=N_("Create a hook; prints its id, URL and secret (shown once)."))
@click.argument("account_id", type=int)
@click.option("--kind", type=click.Choice(["generic", "efficy"]), default="generic",
              show_default=True, help=N_("The kind of sender: any tool, or Efficy."))
@click.option("--name", required=True, help=N_("A label, e.g. the sending tool."))
@click.option("--auth", type=click.Choice(["standard-webhooks", "bearer"]),
              default="standard-webhooks", show_default=True,
              help=N_("How the sender proves who it is."))
@click.option("--source", help=N_("Source given to new contacts (one of the account's)."))
@click.option("--language", help=N_("Language of new contacts lacking one (ISO code)."))
@click.option("--mapping", help=N_('Fields of the payload, as JSON, e.g. '
                                   '\'{"email": "data.email"}\'.'))
@click.option("--language-map", help=N_('Languages as the sender writes them, as JSON, e.g. '
                                        '\'{"Dutch": "nl"}\'.'))
@click.option("--consent-text", help=N_("The consent wording kept with new contacts."))
@click.option("--contact-status", type=click.Choice(["confirmed", "unconfirmed"]),
              default="confirmed", show_default=True,
              help=N_("The status of new contacts."))
@click.option("--form", "form_id", type=int, help=N_("Form whose opt-in mail unconfirmed "
                                                     "contacts get."))
@click.option("--on-delete", type=click.Choice(["ignore", "blacklist"]), default="ignore",
              show_default=True, help=N_("What an Efficy Delete does."))
def hook_create(account_id: int, kind: str, name: str, auth: str, source: str | None,
                language: str | None, mapping: str | None, language_map: str | None,
                consent_text: str | None, contact_status: str, form_id: int | None,
                on_delete: str) -> None:
    """Create a hook; prints its id, URL and secret (shown once)."""
    data = {"kind": kind, "name": name, "auth": auth, "source": source, "language": language,
            "mapping": _json_option(mapping, "--mapping") or {},
            "language_map": _json_option(language_map, "--language-map") or {},
            "consent_text": consent_text, "contact_status": contact_status,
            "form_id": form_id, "on_delete": on_delete}
    configure()
    with db.connection_context():
        require_account(account_id)
        created, secret = run(_create, account_id, data)
        url = service.to_dict(created)["url"]
    click.echo(f"id: {created.id}\nurl: {url}\nsecret: {secret}")
    click.echo(_("Keep the secret now: it is not shown again."), err=True)


def _create(account_id: int, data: dict):
    from gateway.errors import ValidationFailed
    try:
        return service.create_hook(account_id, data)
    except ValidationFailed as exc:
        problems = "; ".join(f"{d.get('field')}: {d.get('message', d.get('code'))}"
                             for d in exc.details)
        raise ValidationFailed(f"{_(exc.message)} {problems}") from None


@hook.command("list", help=N_("List an account's hooks."))
@click.argument("account_id", type=int)
def hook_list(account_id: int) -> None:
    """List an account's hooks."""
    configure()
    with db.connection_context():
        for row in service.list_hooks(account_id):
            info = service.to_dict(row)
            state = "enabled" if info["enabled"] else "paused"
            click.echo(f"{info['id']}\t{info['kind']}\t{info['auth']}\t{state}\t"
                       f"{info['name']}\t{info['url']}")


@hook.command("rotate", help=N_("Give a hook a new secret (the old one keeps working for "
                                 "24 hours)."))
@click.argument("account_id", type=int)
@click.argument("hook_id", type=int)
def hook_rotate(account_id: int, hook_id: int) -> None:
    """Give a hook a new secret (the old one keeps working for 24 hours)."""
    configure()
    with db.connection_context():
        _hook, secret = run(service.rotate_secret, account_id, hook_id)
    click.echo(f"secret: {secret}")


@hook.command("sign", help=N_("Print the Standard Webhooks headers for BODY (a file, or - for "
                               "stdin).\n\nOne \"name: value\" line each, as "
                               "`curl -H @headers.txt` reads them."))
@click.option("--secret", envvar="INLET_HOOK_SECRET", required=True,
              help=N_("The whsec_ secret (or set INLET_HOOK_SECRET)."))
@click.option("--id", "msg_id", help=N_("webhook-id (default: a new UUID)."))
@click.option("--timestamp", type=int, help=N_("Unix seconds (default: now)."))
@click.argument("body", type=click.File("rb"), default="-")
def hook_sign(secret: str, msg_id: str | None, timestamp: int | None, body) -> None:
    """Print the Standard Webhooks headers for BODY (a file, or - for stdin).

    One "name: value" line each, as ``curl -H @headers.txt`` reads them.
    """
    raw = body.read()
    try:
        headers = signatures.headers(secret, msg_id or f"msg_{uuid.uuid4().hex}", raw,
                                     timestamp)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None
    for name, value in headers.items():
        click.echo(f"{name}: {value}")


commands = [hook]
