"""``inlet import FILE --account A ...`` from the shell."""

import pytest
from click.testing import CliRunner

from gateway.cli import main
from tests.gateway.imports.conftest import csv_bytes


@pytest.fixture
def invoke(env, store):
    def run(*args):
        return CliRunner().invoke(main, ["import", *map(str, args)], env=env)
    return run


def test_cli_import_with_mapping_fallbacks_and_report(invoke, tenant, tmp_path, importer):
    path = tmp_path / "leads.csv"
    path.write_bytes(csv_bytes([["Mail", "Wie", "Taal", "Notes"],
                                ["ann@example.com", "Ann", "", "x"],
                                ["bob@example.com", "Bob", "fr", ""],
                                ["nope", "X", "nl", ""]], delimiter=";"))
    errors = tmp_path / "errors.csv"
    result = invoke(path, "--account", tenant.id, "--mapping", "Mail=email,Wie=first_name",
                    "--mapping", "Taal=language", "--mapping", "Notes=",
                    "--fallback-language", "nl", "--fallback-source", "Website", "--consent",
                    "--errors-out", errors)
    assert result.exit_code == 0, result.output
    assert "2 new contacts added" in result.output
    assert "created     2" in result.output and "failed      1" in result.output
    assert "invalid e-mail address: 1" in result.output
    assert "fallback 'Website'" in result.output
    assert errors.read_text("utf-8-sig").splitlines()[1].startswith("nope;X;nl;;")
    ann = importer.contact("ann@example.com")
    assert (ann["first_name"], ann["language"], ann["source"]) == ("Ann", "nl", "Website")
    assert importer.contact("bob@example.com")["language"] == "fr"


def test_cli_refuses_without_consent_or_fallbacks(invoke, tenant, tmp_path, importer):
    path = tmp_path / "leads.csv"
    path.write_bytes(csv_bytes([["email"], ["ann@example.com"]]))
    result = invoke(path, "--account", tenant.id)
    assert result.exit_code != 0 and "--consent" in result.output
    result = invoke(path, "--account", tenant.id, "--consent")
    assert result.exit_code == 1
    assert "--fallback-language" in result.output and "--fallback-source" in result.output
    assert importer.contact("ann@example.com") is None


def test_cli_reports_file_rules(invoke, tenant, tmp_path):
    path = tmp_path / "leads.txt"
    path.write_bytes(b"email\nann@example.com\n")
    result = invoke(path, "--account", tenant.id, "--consent")
    assert result.exit_code == 1 and ".csv" in result.output
    path = tmp_path / "noheader.csv"
    path.write_bytes(b"ann@example.com\n")
    result = invoke(path, "--account", tenant.id, "--consent")
    assert result.exit_code == 1 and "header" in result.output
