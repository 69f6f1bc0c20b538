"""``inlet import FILE --account A ...``: a CSV import from the shell, with a progress bar."""

from __future__ import annotations

from pathlib import Path

import click

from gateway import i18n
from gateway.clitools import TranslatedCommand, configure, require_account
from gateway.errors import InletError
from gateway.i18n import N_, _, ngettext
from gateway.imports.texts import count

# The report's count lines, in the shell's language.
_COUNTS = {"rows": N_("rows"), "created": N_("created"), "updated": N_("updated"),
           "unchanged": N_("unchanged"), "blacklisted": N_("blacklisted"),
           "failed": N_("failed")}


def _parse_mapping(pairs: tuple[str, ...]) -> dict[str, str | None] | None:
    """``--mapping "Column=field"`` (repeatable, or comma-separated); ``Column=`` skips it."""
    if not pairs:
        return None
    chosen: dict[str, str | None] = {}
    for pair in (p for item in pairs for p in item.split(",") if p.strip()):
        column, sep, field = pair.partition("=")
        if not sep:
            raise click.BadParameter(_("'%(pair)s': use COLUMN=FIELD (FIELD empty to skip).")
                                     % {"pair": pair},
                                     param_hint="--mapping")
        chosen[column.strip()] = field.strip() or None
    return chosen


def _bar(label: str, total: int):
    return click.progressbar(length=max(total, 1), label=label, show_pos=True,
                             show_percent=True)


def _run_step(service, account: int, import_id: int, label: str, total: int) -> dict:
    with _bar(label, total) as bar:
        seen = [0]

        def progress(done: int, _total: int) -> None:
            bar.update(done - seen[0])
            seen[0] = done
        return service.run_now(account, import_id, progress)


def _print_report(data: dict) -> None:
    counts = data["counts"]
    click.echo("\n" + data["report"]["headline"])
    for name, label in _COUNTS.items():
        click.echo("  " + _(label).ljust(11) + " " + str(counts.get(name, 0)))
    for item in data["report"]["reason_counts"]:
        rows = count(item["rows"], ngettext("%(num)s row", "%(num)s rows", item["rows"]))
        if item["cells"] != item["rows"]:
            rows += " (" + count(item["cells"], ngettext("%(num)s value", "%(num)s values",
                                                         item["cells"])) + ")"
        click.echo("    " + _("%(reason)s: %(rows)s") % {"reason": item["reason"], "rows": rows})
    for warning in data["warnings"]:
        click.echo("  " + _("note: %(warning)s") % {"warning": warning})


@click.command("import", cls=TranslatedCommand,
               help=N_("Import a CSV file into an account, printing the report."))
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--account", "account", type=int, required=True, help=N_("The account id."))
@click.option("--mapping", "mapping", multiple=True,
              help=N_('COLUMN=FIELD pairs, e.g. "E-mail=email,Taal=language,Notes=" '
                      "(default: the suggested mapping)."))
@click.option("--fallback-language", help=N_("Language for new contacts without one."))
@click.option("--fallback-source", help=N_("Source for new contacts without one."))
@click.option("--consent", is_flag=True,
              help=N_("State the data was obtained rightfully (required)."))
@click.option("--welcome", is_flag=True, help=N_("Send a welcome mail to each new contact."))
@click.option("--notify", help=N_("E-mail address that gets the report."))
@click.option("--errors-out", type=click.Path(dir_okay=False, path_type=Path),
              help=N_("Write the failing rows (errors.csv) to this file."))
def import_command(file: Path, account: int, mapping: tuple[str, ...], fallback_language,
                   fallback_source, consent: bool, welcome: bool, notify, errors_out) -> None:
    """Import a CSV file into an account, printing the report."""
    from gateway import runtime
    from gateway.db import db
    from gateway.imports import service
    if not consent:
        raise click.UsageError(_("--consent is required: state that the data was obtained "
                                 "rightfully."))
    configure()
    chosen = _parse_mapping(mapping)
    try:
        with db.connection_context():
            require_account(account)
            with open(file, "rb") as fh:
                imp = service.create_from_upload(account, file.name, fh, actor="cli",
                                                 notify_email=notify, welcome=welcome)
            click.echo(_("import %(id)s: %(rows)s rows, separator '%(separator)s', "
                         "%(encoding)s") % {"id": imp.id, "rows": imp.total_rows,
                                            "separator": imp.delimiter,
                                            "encoding": imp.encoding})
            if chosen is not None:
                service.set_mapping(account, imp.id, chosen)
            fallbacks = {k: v for k, v in (("language", fallback_language),
                                           ("source", fallback_source)) if v}
            if fallbacks:
                service.set_fallbacks(account, imp.id, fallbacks)
            service.set_consent(account, imp.id, True, actor="cli")
            data = _run_step(service, account, imp.id, _("validating"), imp.total_rows)
            if data["step"] == "fallbacks":
                needs = data["needs_fallbacks"]
                raise click.ClickException(
                    _("Some new contacts have no language or source: give "
                      "--fallback-language and --fallback-source") if len(needs) > 1 else
                    _("Some new contacts have no language: give --fallback-language")
                    if needs == ["language"] else
                    _("Some new contacts have no source: give --fallback-source"))
            service.finalise(account, imp.id)
            writing, validating = _("writing"), _("validating")
            data = _run_step(service, account, imp.id,
                             writing.ljust(max(len(writing), len(validating))), imp.total_rows)
            if errors_out and (data["counts"].get("failed") or data["counts"].get("blacklisted")):
                errors_out.write_bytes(service.errors_csv(account, imp.id,
                                                        browser_language=i18n.current()))
                click.echo(_("failing rows written to %(path)s") % {"path": errors_out})
    except InletError as exc:
        details = "".join(f"\n  {d.get('field', '')}: {d.get('message', d.get('code', ''))}"
                          for d in exc.details if isinstance(d, dict))
        raise click.ClickException(_(exc.message) + details) from None
    _print_report(data)
    if runtime.settings().embedded_queue:
        runtime.queue().run_pending()  # deliver the report (and welcome) mails now


commands = [import_command]
