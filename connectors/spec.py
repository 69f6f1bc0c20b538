"""OpenAPI description of the connector webhooks and the /api/hooks resource."""

from __future__ import annotations

from gateway.api.spec import (
    IDEMPOTENCY_KEY,
    errors,
    json_body,
    ok,
    path_param,
    query_param,
    ref,
)

HOOK_ID = path_param("hook_id", {"type": "integer"})
DELIVERY_ID = path_param("delivery_id")
NULLABLE_TEXT = {"type": ["string", "null"]}
RULE = {"oneOf": [{"type": "string", "description": "a dotted path, e.g. data.email"},
                  {"type": "object", "properties": {
                      "path": {"oneOf": [{"type": "string"},
                                         {"type": "array", "items": {"type": "string"}}]},
                      "value": {}, "map": {"type": "object"}}}]}
HOOK_IN = {"type": "object", "properties": {
    "kind": {"enum": ["generic", "efficy"]}, "name": {"type": "string", "maxLength": 200},
    "auth": {"enum": ["standard-webhooks", "bearer"]},
    "source": {"type": ["string", "null"],
               "description": "source of new contacts (null: each record's own source)"},
    "language": {"type": ["string", "null"],
                 "description": "language of new contacts lacking one"},
    "mapping": {"type": "object", "additionalProperties": RULE,
                "description": "contact field (email, first_name, name, language, source, "
                               "preferences, interests, status, custom_fields.<name>) → rule; "
                               "omitted or empty on a new generic hook: a flat body, each "
                               "field (and custom field) under its own name"},
    "language_map": {"type": "object", "additionalProperties": {"type": "string"}},
    "consent_text": NULLABLE_TEXT,
    "contact_status": {"enum": ["confirmed", "unconfirmed"]},
    "form_id": {"type": ["integer", "null"],
                "description": "whose opt-in mail unconfirmed contacts get"},
    "on_delete": {"enum": ["ignore", "blacklist"], "description": "Efficy Delete"},
    "id_path": {"type": ["string", "null"],
                "description": "body path deduplicating like webhook-id"},
    "enabled": {"type": "boolean"}}}
HOOK = {"type": "object", "required": ["id", "kind", "name", "auth", "url", "enabled"],
        "properties": {**HOOK_IN["properties"], "id": {"type": "integer"},
                       "url": {"type": "string"},
                       "previous_secret_valid_until": NULLABLE_TEXT,
                       "created_at": {"type": "string"}, "updated_at": {"type": "string"}}}
DELIVERY = {"type": "object", "required": ["id", "status", "attempts", "received_at"],
            "properties": {
                "id": {"type": "string"}, "hook_id": {"type": "integer"},
                "webhook_id": NULLABLE_TEXT,
                "status": {"enum": ["queued", "done", "retrying", "dead"]},
                "attempts": {"type": "integer"}, "replays": {"type": "integer"},
                "result": {"type": "object"}, "error": NULLABLE_TEXT,
                "received_at": {"type": "string"}, "processed_at": NULLABLE_TEXT,
                "updated_at": {"type": "string"}, "payload": {}}}
ACCEPTED = {"type": "object", "required": ["delivery_id", "duplicate"], "properties": {
    "delivery_id": {"type": "string"}, "duplicate": {"type": "boolean"},
    "records": {"type": "integer"}, "skipped": {"type": "integer"}}}
WEBHOOK_HEADERS = [
    {"name": name, "in": "header", "required": False, "schema": {"type": "string"},
     "description": text} for name, text in (
        ("webhook-id", "unique message id; a repeat within 24 h is accepted once"),
        ("webhook-timestamp", "Unix seconds, within 5 minutes of now"),
        ("webhook-signature", "space-separated v1,<base64 HMAC-SHA256 of "
                              "{id}.{timestamp}.{body}>"))]


def _receiver(summary: str) -> dict:
    return {"post": {
        "summary": summary, "security": [], "parameters": [HOOK_ID, *WEBHOOK_HEADERS],
        "description": "Standard Webhooks signature, or Authorization: Bearer <hook secret> "
                       "for bearer hooks. One object or an array, at most 1,000 records and "
                       "1 MiB. 202 only once durably queued.",
        "requestBody": json_body({"oneOf": [{"type": "object"}, {"type": "array"}]}),
        "responses": {"202": ok("Queued", ref("HookAccepted")),
                      **errors(400, 401, 404, 413, 415, 503)}}}


def _list(item: str) -> dict:
    return {"type": "object", "required": ["items"],
            "properties": {"items": {"type": "array", "items": ref(item)}}}


PATHS = {
    "/hooks/{hook_id}": _receiver("Generic connector webhook"),
    "/hooks/efficy/{hook_id}": _receiver("Efficy CRM connector webhook"),
    "/api/hooks": {
        "get": {"summary": "The account's hooks",
                "responses": {"200": ok("List", _list("Hook")), **errors(401, 403)}},
        "post": {"summary": "Create a hook (the secret is in this answer only)",
                 "requestBody": json_body(ref("HookIn")),
                 "responses": {"201": ok("Created", ref("HookWithSecret")),
                               **errors(400, 401, 403, 413, 415, 422)}}},
    "/api/hooks/{hook_id}": {
        "get": {"summary": "One hook", "parameters": [HOOK_ID],
                "responses": {"200": ok("The hook", ref("Hook")), **errors(401, 403, 404)}},
        "patch": {"summary": "Change a hook (pause with enabled=false)",
                  "parameters": [HOOK_ID], "requestBody": json_body(ref("HookIn")),
                  "responses": {"200": ok("Changed", ref("Hook")),
                                **errors(400, 401, 403, 404, 413, 415, 422)}},
        "delete": {"summary": "Delete a hook and its delivery log", "parameters": [HOOK_ID],
                   "responses": {"204": ok("Deleted"), **errors(401, 403, 404)}}},
    "/api/hooks/{hook_id}/test": {
        "post": {"summary": "Dry run: what a sample payload would become (writes nothing)",
                 "parameters": [HOOK_ID],
                 "requestBody": json_body({"oneOf": [{"type": "object"}, {"type": "array"}]}),
                 "responses": {"200": ok("Preview", {"type": "object", "properties": {
                     "records": {"type": "array"}, "counts": {"type": "object"}}}),
                     **errors(400, 401, 403, 404, 413, 415)}}},
    "/api/hooks/{hook_id}/rotate-secret": {
        "post": {"summary": "New secret; the previous one stays valid for 24 h",
                 "parameters": [HOOK_ID],
                 "responses": {"200": ok("Rotated", ref("HookWithSecret")),
                               **errors(401, 403, 404)}}},
    "/api/hooks/{hook_id}/deliveries": {
        "get": {"summary": "Recent deliveries, newest first",
                "parameters": [HOOK_ID,
                               query_param("status",
                                           {"enum": ["queued", "done", "retrying", "dead"]}),
                               query_param("limit", {"type": "integer", "minimum": 1,
                                                     "maximum": 500})],
                "responses": {"200": ok("List", _list("Delivery")),
                              **errors(400, 401, 403, 404)}}},
    "/api/hooks/{hook_id}/deliveries/{delivery_id}": {
        "get": {"summary": "One delivery with its payload",
                "parameters": [HOOK_ID, DELIVERY_ID],
                "responses": {"200": ok("The delivery", ref("Delivery")),
                              **errors(401, 403, 404)}}},
    "/api/hooks/{hook_id}/dead-letters": {
        "get": {"summary": "Deliveries that failed for good, with payloads",
                "parameters": [HOOK_ID],
                "responses": {"200": ok("List", _list("Delivery")),
                              **errors(401, 403, 404)}}},
    "/api/hooks/{hook_id}/dead-letters/replay": {
        "post": {"summary": "Replay every dead letter of the hook",
                 "parameters": [HOOK_ID, IDEMPOTENCY_KEY],
                 "responses": {"202": ok("Queued again", _list("Delivery")),
                               **errors(401, 403, 404, 409, 422, 503)}}},
    "/api/hooks/{hook_id}/dead-letters/{delivery_id}/replay": {
        "post": {"summary": "Replay one dead letter",
                 "parameters": [HOOK_ID, DELIVERY_ID, IDEMPOTENCY_KEY],
                 "responses": {"202": ok("Queued again", ref("Delivery")),
                               **errors(401, 403, 404, 409, 422, 503)}}},
}

OPENAPI = {
    "paths": PATHS,
    "schemas": {"HookIn": HOOK_IN, "Hook": HOOK,
                "HookWithSecret": {"allOf": [ref("Hook"), {
                    "type": "object", "required": ["secret"],
                    "properties": {"secret": {"type": "string",
                                              "description": "whsec_…, shown once"}}}]},
                "Delivery": DELIVERY, "HookAccepted": ACCEPTED},
}
