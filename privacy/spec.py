"""The privacy area's part of the OpenAPI document."""

from __future__ import annotations

from gateway.api.spec import CONTACT_ID, PATHS, errors, ok, query_param, ref

# The list's filters, as GET /api/contacts documents them (the export takes the same).
FILTERS = [p for p in PATHS["/api/contacts"]["get"]["parameters"]
           if p["name"] not in ("cursor", "before", "limit")]

OPENAPI = {
    "paths": {
        "/api/contacts/export": {"get": {
            "summary": "Export every matching contact (streamed)",
            "description": "The list's filters; CSV (every field, custom fields by name, "
                           "multi-values comma-separated in quoted cells, formula-safe cells "
                           "as the import reads them back) or JSON Lines (the contact shape).",
            "parameters": [
                query_param("format", {"enum": ["csv", "jsonl"], "default": "csv"}),
                query_param("delimiter", {"enum": [",", ";"], "default": ","}),
                query_param("bom", {"type": "boolean", "description": "UTF-8 BOM (Excel)"}),
                *FILTERS],
            "responses": {"200": {"description": "The contacts", "content": {
                "text/csv": {"schema": {"type": "string"}},
                "application/x-ndjson": {"schema": {"type": "string"}}}},
                **errors(400, 401, 403)}}},
        "/api/contacts/{contact_id}/data": {"get": {
            "summary": "Everything held about one person (access request)",
            "parameters": [CONTACT_ID],
            "responses": {"200": ok("The access document", ref("AccessDocument")),
                          **errors(401, 403, 404)}}},
        "/api/contacts/{contact_id}/erase": {"post": {
            "summary": "Erase a person everywhere (admin scope; queued, idempotent)",
            "description": "Removes the contact and every record, payload, mail and file row "
                           "naming the address. A blacklisted or unsubscribed address leaves "
                           "a keyed hash: it is refused later as `suppressed`.",
            "parameters": [CONTACT_ID],
            "responses": {"202": ok("Queued", ref("Erasure")), "200": ok("Done", ref("Erasure")),
                          **errors(401, 403, 404)}}},
    },
    "schemas": {
        "Erasure": {"type": "object", "required": ["id", "contact_id", "status"],
                    "properties": {"id": {"type": "integer"}, "contact_id": {"type": "integer"},
                                   "status": {"enum": ["queued", "done"]},
                                   "requested_at": {"type": "string", "format": "date-time"},
                                   "done_at": {"type": ["string", "null"]},
                                   "suppressed": {"type": "boolean"}}},
        "AccessDocument": {"type": "object", "required": ["contact"], "properties": {
            "contact": ref("Contact"),
            **{name: {"type": "array", "items": {"type": "object"}} for name in (
                "consents", "history", "confirmation_links", "unsubscribe_links",
                "form_submissions", "mails", "hook_deliveries", "import_rows", "events")}}},
    },
}
