"""Hostile values through every write path: nothing answers 5xx, and nothing stored breaks a
later read.

A value can be NaN, 1e999, a 5,000-digit integer, 10,000 characters, NUL and other control
characters, a lone surrogate or JSON nested 100,000 deep. Hypothesis drives such values into
each field of each inbound path (API create/upsert/patch, JSON and CSV imports, form submits,
generic and Efficy hooks, the hook test, dead-letter replays, vocabularies, forms, hooks and
the admin pages), runs the queued work, and after every request the account's contact list,
its hooks' delivery logs and every admin page must still answer 200.
"""

from __future__ import annotations

import itertools
import json
import re

import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from tests.gateway.admin.conftest import (
    admin,  # noqa: F401  (a fixture)
    csrf_of,
    login_client,
)
from tests.gateway.imports.conftest import csv_bytes

CUSTOM = {"score": "number", "born": "date", "note": "text", "colour": "choice",
          "tags": "multiple_choice"}
FIELDS = ["email", "first_name", "name", "language", "source", "preferences", "interests",
          *(f"custom_fields.{name}" for name in CUSTOM)]

# Characters no name should keep (and some no store can), mixed with ordinary ones.
SPECIALS = ["\x00", "\r", "\n", "\t", "\x1b", "\x7f", "\x85", "\u2028", "\u202e", "\ufeff",
            "é", "😀", "a", " ", ",", ".", "-", "=", "@", "²"]
LITERALS = ["NaN", "nan", "inf", "-Infinity", "1e999", "-1e308", "1e400", "9" * 5000, "²",
            "x" * 10_000, "Eve\r\nBcc: victim@example.com", ".", "-", "", "0", "2018-02-30",
            "a\x00b", "\x00"]
# Raw JSON fragments: what a client may put where a value goes.
JSON_LITERALS = ["NaN", "Infinity", "-Infinity", "1e999", "-1e308", "1e308", "9" * 5000,
                 "-" + "9" * 400, "[" * 100_000 + "]" * 100_000, "[" * 40 + "1" + "]" * 40,
                 '"\\u0000"', '"\\ud800"', '"a\\udfffb"', "true", "null", "{}", "[]",
                 json.dumps("x" * 10_000), json.dumps(["Sports", "x" * 300])]

texts = st.one_of(st.sampled_from(LITERALS), st.text(st.sampled_from(SPECIALS), max_size=30))
json_values = st.one_of(
    st.sampled_from(JSON_LITERALS),
    texts.map(json.dumps),  # ensure_ascii: NUL and the rest as \u escapes
    st.text(st.sampled_from(SPECIALS + ["\ud800", "\udc00"]), max_size=12).map(json.dumps),
    st.floats(allow_nan=True, allow_infinity=True).map(json.dumps),
    st.integers(min_value=-(10**40), max_value=10**40).map(str),
    st.lists(texts, max_size=3).map(json.dumps),
)

_serial = itertools.count()


def fresh_email() -> str:
    return f"h{next(_serial)}@example.com"


def record_json(field: str, raw: str, email: str | None = None) -> str:
    """A contact's JSON text with ``raw`` (a JSON fragment) spliced in at ``field``."""
    base = {"email": email or fresh_email(), "language": "nl", "source": "Website"}
    if field.startswith("custom_fields."):
        name = field.partition(".")[2]
        return json.dumps(base)[:-1] + f', "custom_fields": {{"{name}": {raw}}}}}'
    base.pop(field, None)
    return json.dumps(base)[:-1] + f', "{field}": {raw}}}'


class Account:
    """One account with every kind of resource, driven as its clients would drive it."""

    def __init__(self, client, tenant, run_jobs, login):
        self.client, self.tenant, self.run_jobs = client, tenant, run_jobs
        self.headers = tenant.headers
        self.csrf = None
        for name, ftype in CUSTOM.items():
            body = {"name": name, "type": ftype}
            if "choice" in ftype:
                body["choices"] = ["Red", "Blue"]
            assert self.post("/api/custom-fields", body).status_code == 201
        form = self.post("/api/forms", {
            "name": "Newsletter", "source": "Website", "double_opt_in": True,
            "fields": ["first_name", "name", "preferences", "interests", *CUSTOM]}).json()
        self.form = form
        self.hook = self.make_hook("generic", {"email": "email", "first_name": "first_name",
                                                "name": "name",
                                                "custom_fields.score": "score"})
        self.efficy = self.make_hook("efficy", None)
        self.contact = self.post("/api/contacts", {"email": "kept@example.com",
                                                   "language": "nl",
                                                   "source": "Website"}).json()
        assert login_client(client, login.email, login.password).status_code == 303

    def post(self, path: str, body):
        return self.client.post(path, json=body, headers=self.headers)

    def make_hook(self, kind: str, mapping) -> tuple[dict, str]:
        body = {"kind": kind, "name": kind, "auth": "bearer", "source": "Website",
                "language": "nl"}
        if mapping:
            body["mapping"] = mapping
        r = self.post("/api/hooks", body)
        assert r.status_code == 201, r.text
        hook = r.json()
        return hook, hook.pop("secret")

    def send(self, method: str, path: str, raw: str | bytes, headers=None):
        """A raw JSON body, as a client that builds its own text would send it."""
        data = raw.encode("utf-8", "surrogatepass") if isinstance(raw, str) else raw
        return self.client.request(method, path, content=data, headers={
            **self.headers, "content-type": "application/json", **(headers or {})})

    def hook_post(self, which: tuple[dict, str], raw: str):
        hook, secret = which
        path = hook["url"].removeprefix("http://testserver")
        data = raw.encode("utf-8", "surrogatepass")
        return self.client.post(path, content=data, headers={
            "content-type": "application/json", "authorization": f"Bearer {secret}"})

    def admin_post(self, path: str, data: dict):
        if self.csrf is None:  # one token per login session
            self.csrf = csrf_of(self.client.get("/admin/settings").text)
        return self.client.post(path, data={**data, "csrf_token": self.csrf},
                                follow_redirects=False)

    def import_pages(self) -> list[str]:
        """The admin pages of the newest imports."""
        r = self.client.get("/api/imports", headers=self.headers)
        assert r.status_code == 200, r.text
        return [f"/admin/imports/{imp['id']}" for imp in r.json()["items"][:3]]

    def still_readable(self) -> None:
        """Every read of the account answers 200 whatever was stored."""
        self.run_jobs()
        assert_strict_json_stored()
        r = self.client.get("/api/contacts", params={"limit": 500}, headers=self.headers)
        assert r.status_code == 200, r.text
        ids = [c["id"] for c in r.json()["items"]][:5]
        for status in ("confirmed", "unconfirmed", "blacklisted"):
            r = self.client.get("/api/contacts", params={"status": status},
                                headers=self.headers)
            assert r.status_code == 200, r.text
        for hook, _ in (self.hook, self.efficy):
            for what in ("deliveries", "dead-letters"):
                r = self.client.get(f"/api/hooks/{hook['id']}/{what}", headers=self.headers)
                assert r.status_code == 200, (what, r.text)
        pages = ["/admin/contacts", "/admin/contacts?status=unconfirmed",
                 "/admin/contacts?status=blacklisted", "/admin/imports", "/admin/forms",
                 f"/admin/forms/{self.form['id']}", "/admin/connectors",
                 f"/admin/connectors/{self.hook[0]['id']}", "/admin/settings", "/admin/api",
                 "/admin/contacts/new", "/admin/imports/new", "/admin/contacts/add",
                 f"/admin/forms/{self.form['id']}/edit", "/admin/forms/new",
                 f"/admin/connectors/{self.efficy[0]['id']}",
                 f"/admin/connectors/{self.hook[0]['id']}/edit", "/admin/connectors/new",
                 *(f"/admin/contacts/{i}" for i in ids), *self.import_pages()]
        for path in pages:
            r = self.client.get(path)
            assert r.status_code == 200, (path, r.status_code)


def _strict(name: str):
    raise AssertionError(f"{name} was stored: not JSON, and a strict reader fails on it")


def assert_strict_json_stored() -> None:
    """Reads are defended against NaN and Infinity in stored JSON; this checks that no write
    path relies on that defence (the store only ever gets strict JSON and storable text)."""
    from gateway.db import db
    strict = json.JSONDecoder(parse_constant=_strict)
    with db.connection_context():
        for table, column in (("contact", "custom_fields"), ("delivery", "payload"),
                              ("delivery", "result")):
            for (raw,) in db.execute_sql(f'SELECT "{column}" FROM "{table}"'):
                strict.decode(raw)
        for (first_name, name) in db.execute_sql('SELECT first_name, name FROM "contact"'):
            for text in (first_name or "", name or ""):
                assert not CONTROL.search(text), repr(text)  # single-line fields


CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")


@pytest.fixture
def account(client, tenant, run_jobs, request) -> Account:
    return Account(client, tenant, run_jobs, request.getfixturevalue("admin"))


def no_server_error(response) -> None:
    assert response.status_code < 500, (response.status_code, response.text[:500])


HOSTILE = hypothesis_settings(max_examples=8, deadline=None, derandomize=True,
                              suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                     HealthCheck.too_slow])
API_PATHS = ["post", "put", "patch", "json_import", "hook_test"]
HOOK_PATHS = ["generic", "efficy", "replay"]
HOOK_FIELDS = ["email", "first_name", "name", "score"]
TEXT_PATHS = ["form", "csv", "admin_add", "vocabulary", "custom_field", "form_def", "hook_def"]


def through_api(a: Account, path: str, field: str, raw: str):
    """Send ``raw`` (a JSON fragment) at ``field`` through one API write path."""
    if path == "post":
        return a.send("POST", "/api/contacts", record_json(field, raw))
    if path == "put":
        email = fresh_email()
        return a.send("PUT", f"/api/contacts/{email}", record_json(field, raw, email))
    if path == "patch":
        body = record_json(field, raw, "kept@example.com")
        return a.send("PATCH", f"/api/contacts/{a.contact['id']}", body)
    if path == "json_import":
        body = (f'{{"obtained_rightfully": true, "contacts": [{record_json(field, raw)}, '
                f'{record_json("first_name", json.dumps("Clean"))}]}}')
        return finish_json_import(a, a.send("POST", "/api/imports", body))
    return a.send("POST", f"/api/hooks/{a.hook[0]['id']}/test",
                  record_json(field.removeprefix("custom_fields."), raw))


def finish_json_import(a: Account, started):
    """Validate and finalise a JSON import the API accepted (or return its refusal)."""
    if started.status_code != 202:
        return started
    a.run_jobs()
    return a.client.post(f"/api/imports/{started.json()['id']}/finalise", headers=a.headers)


def through_hooks(a: Account, path: str, field: str, raw: str):
    """Send ``raw`` at ``field`` to a generic or Efficy hook, or replay its dead letters."""
    if path == "efficy":
        efficy_field = {"email": "EMAIL1", "first_name": "FIRSTNAME", "name": "NAME",
                        "score": "LANGUAGE"}[field]
        body = ('{"database": "crm", "records": [{"table": 11000, "key": '
                f'{next(_serial)}, "operation": "Create", "fields": {{"EMAIL1": '
                f'"{fresh_email()}", "{efficy_field}": {raw}}}}}]}}')
        return a.hook_post(a.efficy, body)
    r = a.hook_post(a.hook, record_json(field, raw))
    if path == "replay":
        no_server_error(r)
        a.run_jobs()
        r = a.client.post(f"/api/hooks/{a.hook[0]['id']}/dead-letters/replay",
                          headers=a.headers)
    return r


def through_pages(a: Account, settings, path: str, field: str, value: str):
    """Send ``value`` (text) at ``field`` through a form, a CSV file or a settings page."""
    name = field.removeprefix("custom_fields.")
    custom = field.startswith("custom_fields.")
    if path == "form":
        from tests.forms.conftest import aged_ts
        data = {"_ts": aged_ts(settings, a.form["id"]), "_lang": "en", "_embed": "hosted",
                "email": fresh_email(), f"cf_{name}" if custom else name: value}
        return a.client.post(f"/f/{a.form['slug']}", data=data, follow_redirects=False)
    if path == "csv":
        return csv_import(a, [{"email": fresh_email(), "language": "nl", "source": "Website",
                               name: value}])
    if path == "admin_add":
        return a.admin_post("/admin/contacts/new", {
            "email": fresh_email(), "language": "nl", "source": "Website", "consent": "on",
            f"cf_{name}" if custom else name: value})
    if path == "vocabulary":
        no_server_error(a.post("/api/interests", {"name": value}))
        return a.admin_post("/admin/settings/sources", {"name": value})
    if path == "custom_field":
        return a.post("/api/custom-fields", {"name": f"f{next(_serial)}", "type": "choice",
                                             "choices": [value, "ok"]})
    if path == "form_def":
        return a.post("/api/forms", {"name": value, "source": "Website",
                                     "consent_text": value})
    return a.post("/api/hooks", {"kind": "generic", "name": value, "auth": "bearer",
                                 "source": "Website", "language": "nl",
                                 "mapping": {"email": value or "email"}})


def csv_import(a: Account, rows: list[dict]):
    """Upload rows as a CSV file, map, consent, validate and finalise it."""
    columns = list(dict.fromkeys(col for row in rows for col in row))
    upload = csv_bytes([columns, *([row.get(col, "") for col in columns] for row in rows)])
    r = a.client.post("/api/imports", headers=a.headers,
                      files={"file": ("hostile.csv", upload, "text/csv")})
    if r.status_code != 202:
        return r
    imp = r.json()["id"]
    mapping = {col: col for col in columns}  # custom fields are mapped by their own name
    for what, body in (("mapping", {"mapping": mapping}),
                       ("consent", {"obtained_rightfully": True})):
        no_server_error(a.client.put(f"/api/imports/{imp}/{what}", json=body,
                                     headers=a.headers))
    a.run_jobs()
    no_server_error(a.client.put(f"/api/imports/{imp}/fallbacks", headers=a.headers,
                                 json={"language": "nl", "source": "Website"}))
    return a.client.post(f"/api/imports/{imp}/finalise", headers=a.headers)


def test_every_hostile_literal_in_every_field_of_every_path(account, settings):
    """The whole matrix of the named hostile values, with the reads checked per path (the
    imports take every value in one file, the hooks are replayed once at the end)."""
    a = account
    pairs = [(field, raw) for field in FIELDS for raw in JSON_LITERALS]
    for path in ("post", "patch", "hook_test"):  # PUT: the same validation, in Hypothesis
        for field, raw in pairs:
            no_server_error(through_api(a, path, field, raw))
        a.still_readable()
    records = ", ".join(record_json(field, raw) for field, raw in pairs)
    finalised = finish_json_import(a, a.send("POST", "/api/imports", (
        f'{{"obtained_rightfully": true, "contacts": [{records}]}}')))
    no_server_error(finalised)
    a.still_readable()
    for path in ("generic", "efficy"):
        for field in HOOK_FIELDS:
            for raw in JSON_LITERALS:
                no_server_error(through_hooks(a, path, field, raw))
    a.run_jobs()
    no_server_error(a.client.post(f"/api/hooks/{a.hook[0]['id']}/dead-letters/replay",
                                  headers=a.headers))
    a.still_readable()
    # A clean first kilobyte: a NUL there marks a binary file, refused before validation.
    padding = {"email": fresh_email(), "language": "nl", "source": "Website",
               "note": "padding " * 150}
    rows = [padding, *({"email": fresh_email(), "language": "nl", "source": "Website",
                        field.removeprefix("custom_fields."): value}
                       for field in FIELDS for value in LITERALS)]
    finalised = csv_import(a, rows)
    assert finalised.status_code == 202, finalised.text
    a.still_readable()
    done = a.client.get(f"/api/imports/{finalised.json()['id']}", headers=a.headers).json()
    # every row validation let through is written; none wedges the import
    assert done["step"] == "done" and done["counts"]["created"] > len(FIELDS), done
    for path in ("form", "admin_add"):
        for field in FIELDS:
            for value in LITERALS:
                no_server_error(through_pages(a, settings, path, field, value))
        a.still_readable()
    for path in ("vocabulary", "custom_field", "form_def", "hook_def"):  # the value alone
        for value in LITERALS:
            no_server_error(through_pages(a, settings, path, "name", value))
    a.still_readable()


@HOSTILE
@given(field=st.sampled_from(FIELDS), raw=json_values, path=st.sampled_from(API_PATHS))
def test_hostile_json_values_through_the_api(account, field, raw, path):
    no_server_error(through_api(account, path, field, raw))
    account.still_readable()


@HOSTILE
@given(field=st.sampled_from(HOOK_FIELDS), raw=json_values, path=st.sampled_from(HOOK_PATHS))
def test_hostile_json_values_through_the_hooks(account, field, raw, path):
    no_server_error(through_hooks(account, path, field, raw))
    account.still_readable()


@HOSTILE
@given(field=st.sampled_from(FIELDS), value=texts, path=st.sampled_from(TEXT_PATHS))
def test_hostile_text_through_forms_files_and_settings(account, settings, field, value, path):
    no_server_error(through_pages(account, settings, path, field, value))
    account.still_readable()
