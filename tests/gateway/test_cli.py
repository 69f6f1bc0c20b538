"""The ``inlet`` console script, run as a newcomer runs it."""

import os
import socket
import subprocess
import sys
import time

import httpx2 as httpx
import pytest
from click.testing import CliRunner

from gateway import i18n

INLET = [sys.executable, "-m", "gateway.cli"]


def inlet(env, *args, stdin=None, check=True):
    result = subprocess.run([*INLET, *args], env=os.environ | env, input=stdin,
                            capture_output=True, text=True, timeout=60)
    if check:
        assert result.returncode == 0, result.stderr
    return result


def test_account_token_user_and_schema(env, store):
    assert inlet(env, "db", "upgrade").stdout.strip() == "schema up to date"
    account = inlet(env, "account", "create", "Acme").stdout.strip()
    assert account.isdigit()
    token = inlet(env, "token", "create", account, "--scopes", "contacts:read").stdout.strip()
    assert token.startswith("inl_")
    bad = inlet(env, "token", "create", account, "--scopes", "root", check=False)
    assert bad.returncode != 0 and "Unknown scopes" in bad.stderr
    missing = inlet(env, "token", "create", "99999", check=False)
    assert missing.returncode != 0 and "no account" in missing.stderr
    out = inlet(env, "user", "create", account, "Boss@Example.com", "--password-stdin",
                stdin="s3cret-password\n").stdout
    assert "boss@example.com" in out
    short = inlet(env, "user", "create", account, "x@example.com", "--password-stdin",
                  stdin="short\n", check=False)
    assert short.returncode != 0 and "8 characters" in short.stderr


# The shell's language only (a developer's LC_ALL or LANGUAGE would otherwise win).
UNSET = {"LC_ALL": None, "LC_MESSAGES": None, "LANGUAGE": None}


def helps(lang: str) -> tuple[str, str]:
    """``inlet --help`` and ``inlet import --help`` with ``LANG=lang``, in this process."""
    from gateway.cli import main
    pages = []
    for args in (["--help"], ["import", "--help"]):
        result = CliRunner().invoke(main, args, env={**UNSET, "LANG": lang}, prog_name="inlet")
        assert result.exit_code == 0, result.output
        pages.append(result.output)
    return pages[0], pages[1]


def test_help_in_the_shells_language():
    """Issue #21: click reads help texts at import, yet they follow the shell's language,
    and a language used once does not stick to the same command objects."""
    group, command = helps("nl_BE.UTF-8")
    assert "Inlet: een zelf gehoste gateway die contacten binnenhaalt." in group
    assert "Gebruik: inlet [OPTIONS] COMMAND [ARGS]..." in group
    assert "Commando's:" in group and "API-tokens." in group  # a group's command list
    assert "Importeer een CSV-bestand in een account en toon het rapport." in command
    assert "Bron voor nieuwe contacten zonder bron." in command
    assert "Het id van het account.  [verplicht]" in command
    assert "Toon deze hulp en stop." in command and "--fallback-source TEXT" in command

    group, command = helps("fr_BE.UTF-8")
    assert "Inlet : une passerelle auto-hébergée pour collecter des contacts." in group
    assert "Options :" in group and "Jetons d'API." in group
    assert "Importer un fichier CSV dans un compte et afficher le rapport." in command
    assert "Source des nouveaux contacts qui n'en ont pas." in command
    assert "L'identifiant du compte.  [obligatoire]" in command

    group, command = helps("C.UTF-8")  # after French, in the same process: English again
    assert "Inlet: a self-hosted contact-ingestion gateway." in group
    assert "Usage: inlet [OPTIONS] COMMAND [ARGS]..." in group
    assert "Commands:" in group and "API tokens." in group
    assert "Import a CSV file into an account, printing the report." in command
    assert "Source for new contacts without one." in command
    assert "The account id.  [required]" in command
    assert "Show this message and exit." in command
    assert i18n.current() == "en"  # the language ended with the command


def test_production_without_secret_refuses_to_start(env, store):
    r = inlet(env | {"INLET_ENV": "production", "INLET_SECRET_KEY": ""}, "serve", check=False)
    assert r.returncode != 0 and "INLET_SECRET_KEY is required" in r.stderr


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def embedded_server(tmp_path, request):
    """`inlet serve` on embedded defaults: nothing but a data dir (SQLite, no Redis)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("INLET_")}
    env["INLET_DATA_DIR"] = str(tmp_path / "var")
    port = free_port()
    log = open(tmp_path / "serve.log", "wb")  # noqa: SIM115 (closed below)
    options = getattr(request, "param", [])  # serve's options, and INLET_X=… settings
    env.update(option.split("=", 1) for option in options if option.startswith("INLET_"))
    options = [option for option in options if not option.startswith("INLET_")]
    proc = subprocess.Popen([*INLET, "serve", "--port", str(port), *options], env=env,
                            stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    for _ in range(100):
        try:
            httpx.get(base + "/healthz", timeout=1)
            break
        except httpx.TransportError:
            time.sleep(0.1)
    yield base, env
    proc.terminate()
    proc.wait(timeout=10)
    log.close()


@pytest.mark.parametrize("embedded_server", [[], ["--no-access-log"]], indirect=True,
                         ids=["access-log", "no-access-log"])
def test_serve_logs_each_request_unless_told_not_to(embedded_server, tmp_path, request):
    base, _ = embedded_server
    assert httpx.get(base + "/healthz?probe=1").status_code == 200
    time.sleep(0.2)  # the log line is written after the answer
    logged = '"GET /healthz?probe=1 HTTP/1.1" 200' in (tmp_path / "serve.log").read_text()
    assert logged == ("no-access-log" not in request.node.callspec.id)


def test_newcomer_quick_start_on_embedded_defaults(embedded_server):
    base, env = embedded_server
    assert httpx.get(base + "/healthz").json()["checks"] == {"database": "ok",
                                                             "queue": "embedded"}
    account = subprocess.run([*INLET, "account", "create", "Acme"], env=env, text=True,
                             capture_output=True, check=True).stdout.strip()
    token = subprocess.run([*INLET, "token", "create", account], env=env, text=True,
                           capture_output=True, check=True).stdout.strip()
    auth = (account, token)
    assert httpx.post(base + "/api/sources", json={"name": "Website"}, auth=auth
                      ).status_code == 201
    ann = {"email": "ann@example.com", "language": "nl", "source": "Website"}
    r = httpx.post(base + "/api/contacts", json=ann, auth=auth)
    assert r.status_code == 201
    listed = httpx.get(base + "/api/contacts", auth=auth).json()
    assert [c["email"] for c in listed["items"]] == ["ann@example.com"]
    r = httpx.post(base + "/api/contacts", json=ann, auth=auth)
    assert r.status_code == 409 and r.json()["error"]["code"] == "conflict"


def _auth_failures(base: str, forwarded_for: list[str]) -> list[int]:
    return [httpx.get(base + "/api/contacts", headers={"Authorization": "Bearer inl_wrong",
                                                       "X-Forwarded-For": ip}).status_code
            for ip in forwarded_for]


def test_serve_trusts_no_x_forwarded_for_by_default(embedded_server):
    # From 127.0.0.1 too: rotating the header must not get around the per-IP limit (20/min).
    base, _ = embedded_server
    statuses = _auth_failures(base, [f"198.51.100.{i}" for i in range(21)])
    assert statuses[:20] == [401] * 20 and statuses[20] == 429


@pytest.mark.parametrize("embedded_server", [["INLET_TRUSTED_PROXIES=127.0.0.1"]],
                         indirect=True, ids=["trusted-proxy"])
def test_serve_believes_a_trusted_proxy(embedded_server):
    base, _ = embedded_server
    assert set(_auth_failures(base, [f"198.51.100.{i}" for i in range(25)])) == {401}
    assert _auth_failures(base, ["203.0.113.7"] * 21)[-1] == 429
    assert _auth_failures(base, ["203.0.113.8"]) == [401]
