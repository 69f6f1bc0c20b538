"""Sample bodies for a hook and ready-to-paste requests that send them.

``sample(hook)`` follows the hook: an Efficy Create for Efficy hooks; for a generic hook a
body shaped by its mapping (a flat one for the default mapping). ``requests(...)`` writes
the same request three ways (curl with openssl, Python, JavaScript) for the hook's auth mode.
"""

from __future__ import annotations

import json
import shlex

from connectors.models import Delivery, Hook

EFFICY_LANGUAGES = {"nl": "N", "fr": "F", "en": "E", "de": "D"}
SECRET_PLACEHOLDER = "whsec_PASTE_THE_HOOK_SECRET_HERE"  # noqa: S105 (a placeholder)


def test_address(hook: Hook) -> str:
    """The address test deliveries write to: one contact per hook, updated on each test."""
    return f"test-delivery+hook{hook.id or 'new'}@example.com"


def sample(hook: Hook) -> dict:
    """A body this hook accepts and maps to a valid contact."""
    if hook.kind == "efficy":
        fields = {"FIRSTNAME": "Zoë", "NAME": "Test", "EMAIL1": test_address(hook)}
        if hook.language in EFFICY_LANGUAGES:
            fields["LANGUAGE"] = EFFICY_LANGUAGES[hook.language]
        return {"database": "DEMO", "version": "11.3", "records": [
            {"table": 11000, "key": f"inlet-test-{hook.id}", "operation": "Create",
             "user": "INLET", "subject": "Zoë Test", "date": "2026-01-01T09:00:00+01:00",
             "fields": fields}]}
    values = {"email": test_address(hook), "first_name": "Zoë", "name": "Test",
              "language": hook.language, "source": hook.source}
    body: dict = {}
    for target, rule in (hook.mapping or {}).items():
        path = _first_path(rule)
        if path and values.get(target):
            _put(body, path.split("."), values[target])
    return body


def last_payload(hook: Hook):
    """The body of the hook's newest delivery, or None."""
    found = (Delivery.select(Delivery.payload).where(Delivery.hook == hook.id)
             .order_by(Delivery.received_at.desc()).first())
    return found.payload if found else None


def pretty(payload) -> str:
    """JSON for people: indented, non-ASCII as text ("Zoë", not "Zo\\u00eb")."""
    return json.dumps(payload, indent=2, ensure_ascii=False)


def _first_path(rule) -> str | None:
    if isinstance(rule, str):
        return rule
    if isinstance(rule, dict) and "path" in rule:
        paths = rule["path"] if isinstance(rule["path"], list) else [rule["path"]]
        return paths[0] if paths and isinstance(paths[0], str) else None
    return None


def _put(body: dict, steps: list[str], value) -> None:
    """Set ``value`` at a dotted path, making objects on the way (list paths are skipped)."""
    if any(step.lstrip("-").isdigit() for step in steps):
        return
    node = body
    for step in steps[:-1]:
        node = node.setdefault(step, {})
        if not isinstance(node, dict):
            return
    node.setdefault(steps[-1], value)


# ---- ready-to-paste requests -----------------------------------------------------------------

def requests(url: str, auth: str, payload, secret: str | None = None) -> dict[str, str]:
    """The request sending ``payload`` to ``url``: {"curl", "python", "javascript"}."""
    body = json.dumps(payload, ensure_ascii=False)
    secret = secret or SECRET_PLACEHOLDER
    makers = ((_curl_bearer, _python_bearer, _js_bearer) if auth == "bearer"
              else (_curl_signed, _python_signed, _js_signed))
    return {name: make(url, body, secret)
            for name, make in zip(("curl", "python", "javascript"), makers, strict=True)}


def _curl_signed(url: str, body: str, secret: str) -> str:
    return f"""SECRET={shlex.quote(secret)}
URL={shlex.quote(url)}
BODY={shlex.quote(body)}
# Standard Webhooks: HMAC-SHA256 over "id.timestamp.body" with the key after whsec_
MSG_ID="msg_$(date +%s)_$RANDOM"; TS=$(date +%s)
KEY=$(printf '%s' "${{SECRET#whsec_}}" | base64 -d | od -An -tx1 | tr -d ' \\n')
SIG=$(printf '%s' "$MSG_ID.$TS.$BODY" \\
  | openssl dgst -sha256 -mac HMAC -macopt "hexkey:$KEY" -binary | base64)
curl -sS "$URL" -H 'content-type: application/json' \\
  -H "webhook-id: $MSG_ID" -H "webhook-timestamp: $TS" -H "webhook-signature: v1,$SIG" \\
  --data-binary "$BODY"
"""


def _curl_bearer(url: str, body: str, secret: str) -> str:
    return f"""SECRET={shlex.quote(secret)}
curl -sS {shlex.quote(url)} -H 'content-type: application/json' \\
  -H "Authorization: Bearer $SECRET" \\
  --data-binary {shlex.quote(body)}
"""


def _python_signed(url: str, body: str, secret: str) -> str:
    return f"""import base64, hashlib, hmac, time, urllib.request, uuid

secret = {secret!r}
body = {body!r}.encode()
msg_id, ts = f"msg_{{uuid.uuid4().hex}}", str(int(time.time()))
key = base64.b64decode(secret.removeprefix("whsec_"))
mac = hmac.new(key, f"{{msg_id}}.{{ts}}.".encode() + body, hashlib.sha256).digest()
request = urllib.request.Request({url!r}, data=body, method="POST", headers={{
    "content-type": "application/json", "webhook-id": msg_id, "webhook-timestamp": ts,
    "webhook-signature": "v1," + base64.b64encode(mac).decode()}})
print(urllib.request.urlopen(request).read().decode())
"""


def _python_bearer(url: str, body: str, secret: str) -> str:
    return f"""import urllib.request

request = urllib.request.Request({url!r}, data={body!r}.encode(), method="POST", headers={{
    "content-type": "application/json", "authorization": "Bearer " + {secret!r}}})
print(urllib.request.urlopen(request).read().decode())
"""


def _js_signed(url: str, body: str, secret: str) -> str:
    return f"""// Node 18+
const crypto = require("crypto");
const secret = {json.dumps(secret)};
const body = JSON.stringify({body});
const msgId = "msg_" + crypto.randomUUID(), ts = String(Math.floor(Date.now() / 1000));
const key = Buffer.from(secret.replace(/^whsec_/, ""), "base64");
const sig = crypto.createHmac("sha256", key)
  .update(`${{msgId}}.${{ts}}.${{body}}`).digest("base64");
fetch({json.dumps(url)}, {{method: "POST", body, headers: {{"content-type": "application/json",
  "webhook-id": msgId, "webhook-timestamp": ts, "webhook-signature": "v1," + sig}}}})
  .then((r) => r.text()).then(console.log);
"""


def _js_bearer(url: str, body: str, secret: str) -> str:
    return f"""// Node 18+
fetch({json.dumps(url)}, {{method: "POST", body: JSON.stringify({body}),
  headers: {{"content-type": "application/json",
            "authorization": "Bearer " + {json.dumps(secret)}}}}})
  .then((r) => r.text()).then(console.log);
"""
