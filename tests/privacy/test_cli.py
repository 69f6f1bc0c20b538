"""``inlet export``: the contacts on stdout, a progress bar on stderr, the list's filters."""

from __future__ import annotations

import csv
import io

import pytest
from click.testing import CliRunner

from gateway.cli import main


@pytest.fixture
def invoke(env, store):
    def run(*args):
        return CliRunner().invoke(main, ["export", *map(str, args)], env=env)
    return run


def test_cli_export_writes_csv_to_stdout_and_progress_to_stderr(invoke, client, tenant):
    for email, source in (("ann@example.com", "Website"), ("bob@example.com", "Fair")):
        client.post("/api/contacts", headers=tenant.headers,
                    json={"email": email, "language": "nl", "source": source})
    result = invoke("--account", tenant.id, "--source", "Fair", "--delimiter", ";")
    assert result.exit_code == 0, result.stderr
    rows = list(csv.reader(io.StringIO(result.stdout), delimiter=";"))
    assert [r[0] for r in rows] == ["email", "bob@example.com"]
    assert "exporting" in result.stderr and "bob@" not in result.stderr  # not a tty: the label
    result = invoke("--account", 424242)
    assert result.exit_code != 0 and "no account" in result.stderr
