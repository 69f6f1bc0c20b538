"""``inlet hook …`` as a newcomer uses it: create, sign a body, post it, see the contact."""

from __future__ import annotations

import os
import subprocess
import sys

INLET = [sys.executable, "-m", "gateway.cli"]


def inlet(env, *args, check=True):
    result = subprocess.run([*INLET, *args], env=os.environ | env, capture_output=True,
                            text=True, timeout=60)
    if check:
        assert result.returncode == 0, result.stderr
    return result


def test_create_sign_post_and_see_the_contact(env, client, tenant, work, tmp_path):
    out = inlet(env, "hook", "create", str(tenant.id), "--name", "Zapier", "--source",
                "Website", "--language", "en", "--mapping",
                '{"email": "email", "first_name": "first_name"}')
    lines = dict(line.split(": ", 1) for line in out.stdout.splitlines())
    assert lines["secret"].startswith("whsec_") and "not shown again" in out.stderr
    assert lines["url"].endswith(f"/hooks/{lines['id']}")
    listed = inlet(env, "hook", "list", str(tenant.id)).stdout
    assert "Zapier" in listed and "standard-webhooks" in listed
    body = tmp_path / "contact.json"
    body.write_bytes(b'{"email": "ann@example.com", "first_name": "Ann"}')
    signed = inlet(env, "hook", "sign", "--secret", lines["secret"], str(body)).stdout
    headers = dict(line.split(": ", 1) for line in signed.splitlines())
    assert set(headers) == {"webhook-id", "webhook-timestamp", "webhook-signature"}
    r = client.post(f"/hooks/{lines['id']}", content=body.read_bytes(),
                    headers=headers | {"content-type": "application/json"})
    assert r.status_code == 202, r.text
    work()
    items = client.get("/api/contacts", headers=tenant.headers).json()["items"]
    assert [(c["email"], c["first_name"], c["language"]) for c in items] == [
        ("ann@example.com", "Ann", "en")]
    rotated = inlet(env, "hook", "rotate", str(tenant.id), lines["id"]).stdout
    assert rotated.startswith("secret: whsec_") and lines["secret"] not in rotated


def test_create_reports_problems(env, tenant):
    bad = inlet(env, "hook", "create", str(tenant.id), "--name", "x", "--source", "Nope",
                "--mapping", '{"email": "email"}', check=False)
    assert bad.returncode != 0 and "source" in bad.stderr
    bad = inlet(env, "hook", "create", str(tenant.id), "--name", "x", "--mapping", "{",
                check=False)
    assert bad.returncode != 0 and "not valid JSON" in bad.stderr
    missing = inlet(env, "hook", "create", "99999", "--name", "x", check=False)
    assert missing.returncode != 0 and "no account" in missing.stderr
