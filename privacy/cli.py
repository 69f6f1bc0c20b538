"""``inlet export --account A [filters] > contacts.csv``, with a progress bar on stderr."""

from __future__ import annotations

import sys

import click

from gateway.clitools import TranslatedCommand, configure, require_account
from gateway.errors import InletError
from gateway.i18n import N_, _


@click.command("export", cls=TranslatedCommand,
               help=N_("Write the account's matching contacts to stdout (the API's "
                       "export)."))
@click.option("--account", "account", type=int, required=True, help=N_("The account id."))
@click.option("--format", "fmt", type=click.Choice(["csv", "jsonl"]), default="csv",
              show_default=True, help=N_("The file format."))
@click.option("--delimiter", type=click.Choice([",", ";"]), default=",", show_default=True,
              help=N_("The CSV separator."))
@click.option("--bom", is_flag=True, help=N_("Start with a UTF-8 BOM (Excel)."))
@click.option("--status", type=click.Choice(["confirmed", "unconfirmed", "blacklisted"]),
              help=N_("Only contacts with this status."))
@click.option("--q", help=N_("Part of the e-mail, first name or name."))
@click.option("--source", help=N_("Only contacts with this source."))
@click.option("--language", help=N_("Only contacts with this language."))
@click.option("--interest", help=N_("Only contacts with this interest."))
@click.option("--preference", help=N_("Only contacts with this preference."))
@click.option("--added-after", help=N_("Added at or after this ISO date or date-time."))
@click.option("--added-before", help=N_("Added before this ISO date or date-time."))
@click.option("--import", "import_", help=N_("Created or changed by this import id."))
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
