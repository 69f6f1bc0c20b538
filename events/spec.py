"""OpenAPI description of outbound events: /api/event-endpoints, /api/events, event shapes."""

from __future__ import annotations

from events.models import TYPES
from gateway.api.spec import errors, json_body, ok, path_param, query_param, ref

ENDPOINT_ID = path_param("endpoint_id", {"type": "integer"})
DELIVERY_ID = path_param("event_delivery_id", {"type": "integer"})
NULLABLE_TEXT = {"type": ["string", "null"]}
LIMIT = query_param("limit", {"type": "integer", "minimum": 1, "maximum": 500})
EVENT_TYPES = {"type": "array", "minItems": 1,
               "items": {"enum": [*TYPES, "*"]},
               "description": "the event types sent to the endpoint (\"*\": all of them)"}
ENDPOINT_IN = {"type": "object", "properties": {
    "url": {"type": "string", "maxLength": 2000,
            "description": "https:// (or http://) address events are POSTed to; loopback and "
                           "private addresses only if INLET_ALLOW_PRIVATE_TARGETS lists them"},
    "events": EVENT_TYPES,
    "description": {"type": ["string", "null"], "maxLength": 500},
    "enabled": {"type": "boolean"},
    "batch": {"type": "boolean", "description": "up to 100 events per POST, a JSON array"}}}
COUNTS = {"type": "object", "properties": {
    name: {"type": "integer"} for name in ("delivered", "pending", "dead", "failing")}}
ENDPOINT = {"type": "object",
            "required": ["id", "url", "events", "enabled", "batch", "deliveries"],
            "properties": {**ENDPOINT_IN["properties"], "id": {"type": "integer"},
                           "events": {"type": "array", "items": {"enum": list(TYPES)}},
                           "description": {"type": "string"},
                           "disabled_reason": NULLABLE_TEXT, "failing_since": NULLABLE_TEXT,
                           "previous_secret_valid_until": NULLABLE_TEXT,
                           "deliveries": COUNTS, "created_at": {"type": "string"},
                           "updated_at": {"type": "string"}}}
CONTACT_DATA = {"type": "object", "required": ["contact", "changed", "channel"], "properties": {
    "contact": ref("Contact"),
    "changed": {"type": "array", "items": {"type": "string"},
                "description": "names of the stored fields that changed (contact.updated, "
                               "contact.confirmed, contact.blacklisted, contact.unsubscribed)"},
    "channel": {"type": "string", "description": "api, import, form, connector, admin"}}}
IMPORT_DATA = {"type": "object", "required": ["import"], "properties": {"import": {
    "type": "object", "properties": {"id": {"type": "integer"}, "counts": {"type": "object"},
                                     "status": {"type": "string"}}}}}
EVENT = {"type": "object", "required": ["id", "type", "timestamp", "data"],
         "description": "POSTed with webhook-id (= id), webhook-timestamp and "
                        "webhook-signature (v1,<base64 HMAC-SHA256 of "
                        "{id}.{timestamp}.{body}> with the endpoint's secret; two during a "
                        "rotation). A batched endpoint gets a JSON array of these.",
         "properties": {"id": {"type": "string", "description": "evt_<n>"},
                        "type": {"enum": [*TYPES, "endpoint.test"]},
                        "timestamp": {"type": "string"},
                        "data": {"oneOf": [CONTACT_DATA, IMPORT_DATA, {"type": "object"}]}}}
DELIVERY = {"type": "object", "properties": {
    "id": {"type": "integer"}, "event_id": {"type": "string"}, "type": {"type": "string"},
    "status": {"enum": ["pending", "delivered", "dead"]}, "attempts": {"type": "integer"},
    "last_error": NULLABLE_TEXT, "next_at": NULLABLE_TEXT, "delivered_at": NULLABLE_TEXT}}
ATTEMPT = {"type": "object", "properties": {
    "id": {"type": "integer"}, "delivery_id": {"type": ["integer", "null"]},
    "events": {"type": "integer"}, "status_code": {"type": ["integer", "null"]},
    "latency_ms": {"type": "integer"}, "response": {"type": "string"},
    "error": NULLABLE_TEXT, "at": {"type": "string"}}}
TEST_OUTCOME = {"type": "object", "properties": {
    "event_id": {"type": "string"}, "ok": {"type": "boolean"},
    "status_code": {"type": ["integer", "null"]}, "latency_ms": {"type": ["integer", "null"]},
    "response": {"type": "string"}, "error": NULLABLE_TEXT}}
REPLAYED = {"type": "object", "required": ["replayed"],
            "properties": {"replayed": {"type": "integer"}, "delivery_id": {"type": "integer"}}}


def _list(item: str) -> dict:
    return {"type": "object", "required": ["items"],
            "properties": {"items": {"type": "array", "items": ref(item)}}}


PATHS = {
    "/api/event-endpoints": {
        "get": {"summary": "The account's event endpoints",
                "responses": {"200": ok("List", _list("EventEndpoint")), **errors(401, 403)}},
        "post": {"summary": "Subscribe an endpoint (Zapier REST Hooks subscribe); the secret "
                            "is in this answer only",
                 "requestBody": json_body({**ENDPOINT_IN, "required": ["url", "events"]}),
                 "responses": {"201": ok("Created", ref("EventEndpointWithSecret")),
                               **errors(400, 401, 403, 413, 415, 422)}}},
    "/api/event-endpoints/{endpoint_id}": {
        "get": {"summary": "One endpoint with its delivery counts", "parameters": [ENDPOINT_ID],
                "responses": {"200": ok("The endpoint", ref("EventEndpoint")),
                              **errors(401, 403, 404)}},
        "patch": {"summary": "Change an endpoint (enabled=true after it was disabled)",
                  "parameters": [ENDPOINT_ID], "requestBody": json_body(ENDPOINT_IN),
                  "responses": {"200": ok("Changed", ref("EventEndpoint")),
                                **errors(400, 401, 403, 404, 413, 415, 422)}},
        "delete": {"summary": "Unsubscribe: delete the endpoint and its log (Zapier REST "
                              "Hooks unsubscribe)", "parameters": [ENDPOINT_ID],
                   "responses": {"204": ok("Deleted"), **errors(401, 403, 404)}}},
    "/api/event-endpoints/{endpoint_id}/rotate-secret": {
        "post": {"summary": "New secret; events are signed with the old one too for 24 h",
                 "parameters": [ENDPOINT_ID],
                 "responses": {"200": ok("Rotated", ref("EventEndpointWithSecret")),
                               **errors(401, 403, 404)}}},
    "/api/event-endpoints/{endpoint_id}/test": {
        "post": {"summary": "POST a signed endpoint.test event now; the attempt's outcome",
                 "parameters": [ENDPOINT_ID],
                 "responses": {"200": ok("Sent", TEST_OUTCOME), **errors(401, 403, 404)}}},
    "/api/event-endpoints/{endpoint_id}/deliveries": {
        "get": {"summary": "Recent deliveries, newest first",
                "parameters": [ENDPOINT_ID, LIMIT, query_param(
                    "status", {"enum": ["pending", "delivered", "dead"]})],
                "responses": {"200": ok("List", _list("EventDelivery")),
                              **errors(400, 401, 403, 404)}}},
    "/api/event-endpoints/{endpoint_id}/attempts": {
        "get": {"summary": "Recent attempts: status, latency, the first 1 KB of the answer",
                "parameters": [ENDPOINT_ID, LIMIT],
                "responses": {"200": ok("List", _list("EventAttempt")),
                              **errors(400, 401, 403, 404)}}},
    "/api/event-endpoints/{endpoint_id}/replay": {
        "post": {"summary": "Send every dead delivery again", "parameters": [ENDPOINT_ID],
                 "responses": {"202": ok("Queued again", REPLAYED), **errors(401, 403, 404)}}},
    "/api/event-endpoints/{endpoint_id}/deliveries/{event_delivery_id}/replay": {
        "post": {"summary": "Send one dead delivery again",
                 "parameters": [ENDPOINT_ID, DELIVERY_ID],
                 "responses": {"202": ok("Queued again", REPLAYED),
                               **errors(401, 403, 404, 409)}}},
    "/api/events": {
        "get": {"summary": "Recent events in id order: after= a cursor (an event id), else "
                           "the latest; for polling and samples",
                "parameters": [query_param("type", {"enum": [*TYPES, "endpoint.test"]}),
                               query_param("after", {"type": "string"}), LIMIT],
                "responses": {"200": ok("Page", {
                    "type": "object", "required": ["items", "next_cursor"], "properties": {
                        "items": {"type": "array", "items": ref("Event")},
                        "next_cursor": NULLABLE_TEXT}}), **errors(400, 401, 403)}}},
}

OPENAPI = {
    "paths": PATHS,
    "schemas": {"EventEndpoint": ENDPOINT, "Event": EVENT, "EventDelivery": DELIVERY,
                "EventAttempt": ATTEMPT,
                "EventEndpointWithSecret": {"allOf": [ref("EventEndpoint"), {
                    "type": "object", "required": ["secret"],
                    "properties": {"secret": {"type": "string",
                                              "description": "whsec_…, shown once"}}}]}},
}
