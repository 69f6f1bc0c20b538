"""``inlet endpoint …``: create, list, rotate and delete outbound event endpoints."""

from __future__ import annotations

import click

from events import endpoints as service
from events.models import TYPES
from gateway.clitools import (
    TranslatedGroup,
    configure,
    require_account,
    run,
)
from gateway.db import db
from gateway.i18n import N_, _


@click.group(cls=TranslatedGroup,
              help=N_("Outbound event endpoints (signed webhooks Inlet sends)."))
def endpoint() -> None:
    """Outbound event endpoints (signed webhooks Inlet sends)."""


@endpoint.command("create", help=N_("Create an endpoint; prints its id and secret (shown "
                                    "once)."))
@click.argument("account_id", type=int)
@click.option("--url", required=True, help=N_("Where events are POSTed (https://…)."))
@click.option("--event", "events", multiple=True, required=True,
              type=click.Choice([*TYPES, "*"]), help=N_("An event type (repeat it; * for all)."))
@click.option("--description", default="", help=N_("A label, e.g. the receiving tool."))
@click.option("--batch", is_flag=True, help=N_("Up to 100 events per POST, a JSON array."))
def endpoint_create(account_id: int, url: str, events: tuple[str, ...], description: str,
                    batch: bool) -> None:
    """Create an endpoint; prints its id and secret (shown once)."""
    configure()
    with db.connection_context():
        require_account(account_id)
        created, secret = run(service.create_endpoint, account_id,
                              {"url": url, "events": list(events),
                               "description": description, "batch": batch})
    click.echo(f"id: {created.id}\nurl: {created.url}\nsecret: {secret}")
    click.echo(_("Keep the secret now: it is not shown again."), err=True)


@endpoint.command("list", help=N_("List an account's endpoints: id, state, "
                                  "delivered/pending/dead, events, URL."))
@click.argument("account_id", type=int)
def endpoint_list(account_id: int) -> None:
    """List an account's endpoints: id, state, delivered/pending/dead, events, URL."""
    configure()
    with db.connection_context():
        rows = service.list_endpoints(account_id)
        stats = service.counts([row.id for row in rows])
    for row in rows:
        s = stats[row.id]
        click.echo(f"{row.id}\t{'enabled' if row.enabled else 'disabled'}\t"
                   f"{s['delivered']}/{s['pending']}/{s['dead']}\t{','.join(row.events)}\t"
                   f"{row.url}")


@endpoint.command("rotate", help=N_("Give an endpoint a new secret (events carry the old "
                                    "one's signature for 24 hours)."))
@click.argument("account_id", type=int)
@click.argument("endpoint_id", type=int)
def endpoint_rotate(account_id: int, endpoint_id: int) -> None:
    """Give an endpoint a new secret (events carry the old one's signature for 24 hours)."""
    configure()
    with db.connection_context():
        _endpoint, secret = run(service.rotate_secret, account_id, endpoint_id)
    click.echo(f"secret: {secret}")


@endpoint.command("delete", help=N_("Delete an endpoint and its delivery log."))
@click.argument("account_id", type=int)
@click.argument("endpoint_id", type=int)
def endpoint_delete(account_id: int, endpoint_id: int) -> None:
    """Delete an endpoint and its delivery log."""
    configure()
    with db.connection_context():
        run(service.delete_endpoint, account_id, endpoint_id)
    click.echo(_("deleted endpoint %(id)s") % {"id": endpoint_id})


commands = [endpoint]
