"""A hook made without a mapping takes the flat body the README shows; refused requests are
kept (bounded, without bodies); samples follow the hook; failure reasons read as words."""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path

from connectors import records, refusals, samples, service, signatures
from connectors.models import Hook, Refusal
from gateway.accounts import add_custom_field
from gateway.models import Contact

README = Path(__file__).resolve().parents[2] / "README.md"


def readme_signed_request() -> str:
    """The README's shell lines that sign and post the flat body (BODY= … the curl)."""
    text = README.read_text()
    section = text[text.index("## Connector webhooks"):]
    start = section.index("    BODY='")
    end = section.index("    # 202", start)
    return "\n".join(line.removeprefix("    ") for line in section[start:end].splitlines())


def test_the_readmes_flat_signed_request_reaches_a_hook_with_its_default_mapping(
        client, tenant, live_server, run_jobs):
    r = client.post("/api/hooks", json={"name": "Zapier", "source": "Website", "language": "nl"},
                    headers=tenant.headers)
    assert r.status_code == 201, r.text
    hook = r.json()
    assert hook["mapping"]["email"] == "email" and hook["mapping"]["first_name"] == "first_name"
    script = readme_signed_request().replace("http://127.0.0.1:8000", live_server)
    assert "bob@example.com" in script and "openssl" in script
    done = subprocess.run(["bash", "-euo", "pipefail", "-c", script], capture_output=True,
                          text=True, timeout=30, env={**os.environ, "SECRET": hook["secret"],
                                                      "ID": str(hook["id"])})
    assert done.returncode == 0, done.stderr
    assert '"records":1' in done.stdout.replace(" ", ""), done.stdout
    run_jobs()
    bob = Contact.get(Contact.email == "bob@example.com")
    assert (bob.first_name, bob.source, bob.language) == ("Bob", "Website", "nl")


def test_the_default_mapping_reads_every_field_and_custom_fields_by_name(client, tenant, hooks,
                                                                          work):
    add_custom_field(tenant.id, {"name": "company", "type": "text"})
    r = client.post("/api/hooks", json={"name": "Make", "source": "Website"},
                    headers=tenant.headers)
    hook, secret = r.json(), r.json().pop("secret")
    assert hook["mapping"]["custom_fields.company"] == "company"
    sent = hooks.post(hook, secret, {"email": "zoe@example.com", "first_name": "Zoë",
                                     "name": "Peeters", "source": "Fair",
                                     "interests": ["Music"], "company": "Acme"})
    assert sent.status_code == 202
    work()
    zoe = Contact.get(Contact.email == "zoe@example.com")
    assert (zoe.first_name, zoe.name, zoe.source) == ("Zoë", "Peeters", "Fair")
    assert zoe.custom_fields == {"company": "Acme"} and "Music" in zoe.interests


def test_a_stored_mapping_is_kept(client, tenant, hooks):
    hook, _ = hooks.create(mapping={"email": "data.email"})
    assert hook["mapping"] == {"email": "data.email"}
    changed = client.patch(f"/api/hooks/{hook['id']}", json={"name": "Renamed"},
                           headers=tenant.headers).json()
    assert changed["mapping"] == {"email": "data.email"}


def test_refused_requests_are_kept_with_reason_and_address_but_no_body(client, tenant, hooks):
    hook, secret = hooks.create()
    assert hooks.post(hook, "whsec_" + "A" * 32, {"email": "x@example.com"}).status_code == 401
    path = hook["url"].removeprefix("http://testserver")
    assert client.post(path, content=b"email=x", headers={
        "content-type": "application/x-www-form-urlencoded"}).status_code == 415
    assert hooks.post(hook, secret, None, body=b"{not json").status_code == 400
    kept = [refusals.to_dict(r) for r in refusals.recent(hook["id"])]
    assert [r["status"] for r in kept] == [400, 415, 401]
    assert "signature" in kept[2]["reason"] and kept[2]["ip"] == "testclient"
    assert all("x@example.com" not in r["reason"] for r in kept)
    assert hooks.post(hook, secret, {"email": "ok@example.com"}).status_code == 202
    assert len(refusals.recent(hook["id"])) == 3  # accepted requests are not refusals


def test_refusals_are_bounded_per_hook_and_throttled(client, tenant, hooks):
    hook, _ = hooks.create()
    other, _ = hooks.create(name="Other")
    for n in range(refusals.KEEP + 5):
        refusals.record(hook["id"], 401, f"refusal {n}", "192.0.2.1")
    refusals.record(other["id"], 401, "theirs", "192.0.2.2")
    kept = refusals.recent(hook["id"])
    assert len(kept) == refusals.KEEP and kept[0].reason == f"refusal {refusals.KEEP + 4}"
    assert Refusal.select().where(Refusal.hook == other["id"]).count() == 1
    verdicts = [refusals.allowed(-7, now=600.0) for _ in range(refusals.PER_MINUTE + 3)]
    assert verdicts.count(True) == refusals.PER_MINUTE and not verdicts[-1]
    assert refusals.allowed(-7, now=660.0)  # a new minute


def test_samples_follow_the_hook_and_map_to_a_valid_contact(client, tenant, hooks):
    flat, _ = hooks.create(mapping={})
    nested, _ = hooks.create(mapping={"email": "data.email", "first_name": {"path": "data.fn"},
                                      "source": {"value": "Website"}})
    efficy, _ = hooks.create(kind="efficy", mapping={}, name="Efficy")
    body = samples.sample(Hook.get_by_id(nested["id"]))
    assert body == {"data": {"email": f"test-delivery+hook{nested['id']}@example.com",
                             "fn": "Zoë"}}
    assert samples.sample(Hook.get_by_id(efficy["id"]))["records"][0]["table"] == 11000
    for made in (flat, nested, efficy):
        hook = Hook.get_by_id(made["id"])
        preview = service.test_hook(tenant.id, hook.id, samples.sample(hook))
        assert preview["counts"]["created"] == 1, (made, preview)
    assert "Zoë" in samples.pretty({"first_name": "Zoë"})


def test_failure_reasons_name_the_record_and_the_field():
    result = {"records": [{"index": 0, "outcome": "created"},
                          {"index": 1, "outcome": "failed", "errors": [
                              {"field": "email", "message": "An e-mail address is required."},
                              {"field": "source", "message": "Unknown source 'Web'."}]}]}
    assert records.reasons(result) == ["record 2: email: an e-mail address is required",
                                       "record 2: source: unknown source 'Web'"]
    assert re.fullmatch(r"record \d+: .+", records.reasons(result)[0])


def test_failure_reasons_read_in_the_readers_language_values_and_all():
    """A job stores English with the value inside; a French page shows it in French by the
    error's code (what the job stored is only matched back when the code has no text)."""
    from gateway import i18n
    result = {"records": [{"index": 0, "outcome": "failed", "errors": [
        {"field": "source", "code": "unknown_source", "value": "Fair",
         "message": "Unknown source 'Fair'. Did you mean 'Fairs'?"},
        {"field": "email", "code": "required", "message": "An e-mail address is required."}]}]}
    with i18n.use("fr"):
        assert records.reasons(result) == [
            "enregistrement 1 : source : source inconnue « Fair »",
            "enregistrement 1 : email : valeur obligatoire manquante"]
    assert records.reasons(result)[0] == \
        "record 1: source: unknown source 'Fair'. Did you mean 'Fairs'?"


def test_a_body_over_the_size_limit_is_refused_413_and_kept_as_a_refusal(client, tenant, hooks):
    """Too large, whether the sender declares the length or streams it (chunked): 413, and the
    hook's refused requests show why and from where, without any of the body."""
    from connectors.routes import MAX_BODY_BYTES
    hook, secret = hooks.create()
    marker = "oversize-marker@example.com"
    big = json.dumps({"email": marker, "note": "x" * MAX_BODY_BYTES}).encode()
    declared = hooks.post(hook, secret, None, body=big)
    assert declared.status_code == 413, declared.text
    assert declared.json()["error"]["code"] == "payload_too_large"
    path = hook["url"].removeprefix("http://testserver")

    def chunks():
        for start in range(0, len(big), 64 * 1024):
            yield big[start:start + 64 * 1024]
    streamed = client.post(path, content=chunks(), headers={
        "content-type": "application/json", **signatures.headers(secret, "msg_big", big)})
    assert "content-length" not in streamed.request.headers  # counted while it streams
    assert streamed.status_code == 413, streamed.text
    kept = [refusals.to_dict(r) for r in refusals.recent(hook["id"])]
    assert [r["status"] for r in kept] == [413, 413]
    assert all(r["reason"] == f"The body is larger than {MAX_BODY_BYTES} bytes."
               and r["ip"] == "testclient" for r in kept), kept
    assert all(marker not in str(r) for r in kept)
    assert not Refusal.select().where(Refusal.reason.contains("oversize")).exists()
