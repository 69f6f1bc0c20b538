"""``inlet form ...``: create, list and show the embed snippets of opt-in forms."""

from __future__ import annotations

import click

from gateway.clitools import (
    TranslatedGroup,
    configure,
    require_account,
    run,
)
from gateway.db import db
from gateway.errors import InletError
from gateway.i18n import N_, _


def _print_form(form, settings) -> None:
    from forms import embed
    click.echo(f"id: {form.id}")
    click.echo(f"slug: {form.slug}")
    snippets = embed.snippets_for(form, settings.base_url)
    click.echo("\n" + _("hosted page:") + "\n" + snippets["hosted"])
    for name, label in (("script", _("script embed:")), ("iframe", _("iframe embed:")),
                        ("html", _("plain HTML form (works without JavaScript):"))):
        click.echo(f"\n{label}\n{snippets[name]}")


def _split(value: str | None) -> list[str]:
    return [v.strip() for v in (value or "").split(",") if v.strip()]


@click.group("form", cls=TranslatedGroup, help=N_("Opt-in forms."))
def form_group() -> None:
    """Opt-in forms."""


@form_group.command("create", help=N_("Create a form; prints its id, slug and the four "
                                            "embed snippets."))
@click.argument("account_id", type=int)
@click.option("--name", required=True, help=N_("The form's name (also its slug's stem)."))
@click.option("--source", required=True,
              help=N_("Source given to new contacts (case-sensitive)."))
@click.option("--fields", default="", help=N_("Comma-separated: first_name, name, language, "
                                              "preferences, interests, custom fields."))
@click.option("--languages", default="", help=N_("Comma-separated; default: nl, fr, en."))
@click.option("--origin", "origins", multiple=True,
              help=N_("An origin allowed to embed the form (repeatable)."))
@click.option("--redirect", "redirects", multiple=True,
              help=N_("An allowed redirect URL (repeatable)."))
@click.option("--after-submit", default=None, help=N_("Redirect after submitting."))
@click.option("--after-confirm", default=None, help=N_("Redirect after confirming."))
@click.option("--double-opt-in/--no-double-opt-in", default=True, show_default=True,
              help=N_("Ask new contacts to confirm by mail."))
@click.option("--welcome/--no-welcome", default=False, show_default=True,
              help=N_("Send a welcome mail to each new contact."))
@click.option("--min-fill-seconds", default=2, show_default=True, type=int,
              help=N_("Submissions faster than this after the form was shown are asked again."))
def form_create(account_id: int, name: str, source: str, fields: str, languages: str,
                origins, redirects, after_submit, after_confirm, double_opt_in: bool,
                welcome: bool, min_fill_seconds: int) -> None:
    """Create a form; prints its id, slug and the four embed snippets."""
    from forms import definitions
    settings = configure()
    data = {"name": name, "source": source, "fields": _split(fields),
            "allowed_origins": list(origins), "redirect_urls": list(redirects),
            "after_submit_url": after_submit, "after_confirm_url": after_confirm,
            "double_opt_in": double_opt_in, "welcome": welcome,
            "min_fill_seconds": min_fill_seconds}
    if languages:
        data["languages"] = _split(languages)
    with db.connection_context():
        require_account(account_id)
        try:
            form = definitions.create_form(account_id, data)
        except InletError as exc:
            problems = "".join(f"\n  {d.get('field')}: {d.get('message')}" for d in exc.details)
            raise click.ClickException(_(exc.message) + problems) from None
        _print_form(form, settings)


@form_group.command("list", help=N_("List an account's forms: id, slug, name."))
@click.argument("account_id", type=int)
def form_list(account_id: int) -> None:
    """List an account's forms: id, slug, name."""
    from forms import definitions
    configure()
    with db.connection_context():
        for form in definitions.list_forms(account_id):
            click.echo(f"{form.id}\t{form.slug}\t{form.name}")


@form_group.command("embed", help=N_("Print a form's id, slug and its four embed "
                                           "snippets."))
@click.argument("account_id", type=int)
@click.argument("form_id", type=int)
def form_embed(account_id: int, form_id: int) -> None:
    """Print a form's id, slug and its four embed snippets."""
    from forms import definitions
    settings = configure()
    with db.connection_context():
        _print_form(run(definitions.get_form, account_id, form_id), settings)


commands = [form_group]
