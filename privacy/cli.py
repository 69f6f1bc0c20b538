"""``inlet export --account A [filters] > contacts.csv``, with a progress bar on stderr."""

from __future__ import annotations

import sys

import click

from gateway.clitools import configure, require_account
from gateway.errors import InletError
from gateway.i18n import _


@click.command("export")
@click.option("--account", "account", type=int, required=True, help="The account id.")
@click.option("--format", "fmt", type=click.Choice(["csv", "jsonl"]), default="csv")
@click.option("--delimiter", type=click.Choice([",", ";"]), default=",")
@click.option("--bom", is_flag=True, help="Start with a UTF-8 BOM (Excel).")
@click.option("--status", type=click.Choice(["confirmed", "unconfirmed", "blacklisted"]))
@click.option("--q", help="Part of the e-mail, first name or name.")
@click.option("--source")
@click.option("--language")
@click.option("--interest")
@click.option("--preference")
@click.option("--added-after", help="ISO date or date-time.")
@click.option("--added-before", help="ISO date or date-time.")
@click.option("--import", "import_", help="Created or changed by this import id.")
def export_command(account: int, fmt: str, delimiter: str, bom: bool, **filters) -> None:
    """Write the account's matching contacts to stdout (the API's export)."""
    from gateway import contacts
    from gateway.db import db
    from privacy.export import Options, chunks
    from privacy.routes import export_options
    configure()
    params = {k.replace("import_", "import"): v for k, v in filters.items() if v}
    params.update(format=fmt, delimiter=delimiter, bom="1" if bom else "")
    out = sys.stdout.buffer
    try:
        with db.connection_context():
            require_account(account)
            options: Options = export_options(params)
            where = options.filters.where(account)
            total = contacts.count_contacts(where, limit=10**9)[0]
            with click.progressbar(length=max(total, 1), label=_("exporting"), file=sys.stderr,
                                   show_pos=True, show_percent=True) as bar:
                for chunk in chunks(account, options, on_rows=bar.update):
                    out.write(chunk)
            out.flush()
    except InletError as exc:
        raise click.ClickException(_(exc.message)) from None


commands = [export_command]
