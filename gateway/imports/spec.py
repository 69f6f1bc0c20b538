"""OpenAPI description of /api/imports."""

from __future__ import annotations

from gateway.api.spec import IDEMPOTENCY_KEY, errors, json_body, ok, path_param, ref

IMPORT_ID = path_param("import_id", {"type": "integer"})
FIELD_OR_NULL = {"type": ["string", "null"]}

SCHEMAS = {
    "Import": {
        "type": "object",
        "required": ["id", "step", "progress", "delimiter", "columns", "suggested_mapping",
                     "mapping", "consent", "needs_fallbacks", "counts", "errors_url"],
        "properties": {
            "id": {"type": "integer"}, "kind": {"enum": ["csv", "json"]},
            "filename": {"type": "string"},
            "step": {"enum": ["mapping", "consent", "validating", "fallbacks", "ready",
                              "finalising", "done", "failed"],
                     "description": "failed: validation or finalise failed again and again "
                                    "and was given up; warnings say why"},
            "progress": {"type": "object", "properties": {"done": {"type": "integer"},
                                                          "total": {"type": "integer"}}},
            "delimiter": {"enum": [",", ";"]}, "encoding": {"type": "string"},
            "columns": {"type": "array", "items": {"type": "string"}},
            "suggested_mapping": {"type": "object", "additionalProperties": FIELD_OR_NULL},
            "mapping": {"type": "object", "additionalProperties": FIELD_OR_NULL},
            "consent": {"type": "boolean"},
            "fallbacks": {"type": "object"},
            "fixes": {"type": "array", "items": ref("ImportFix"),
                      "description": "The answers to unknown labels, applied to the cells "
                                     "before they are checked"},
            "unknown_values": {"type": "array", "items": ref("UnknownValue"),
                               "description": "While the import can still change: each "
                                              "unknown source/interest/preference value, to "
                                              "answer with PUT /api/imports/{id}/fixes"},
            "needs_fallbacks": {"type": "array", "items": {"enum": ["language", "source"]}},
            "welcome": {"type": "boolean"}, "notify": {"type": ["string", "null"]},
            "counts": {"type": "object", "description": "Rows, not cells: rows, valid, "
                       "failed, failed_by_reason (rows per reason; a row failing for two "
                       "reasons is in both), blacklisted, duplicates, new, existing, "
                       "existing_unchanged (existing rows that would change nothing), "
                       "missing_language, missing_source, created, updated, unchanged; "
                       "failed_attempts: runs of the current step that failed in a row"},
            "warnings": {"type": "array", "items": {"type": "string"}},
            "errors": {"type": "array", "description": "The first 50 row errors",
                       "items": ref("ImportRowError")},
            "errors_url": {"type": "string", "description": "The API's error file (needs a "
                           "token); the report mail links the admin's, behind its login"},
            "report": {"type": "object", "description": "Once done: counts, headline "
                       "(\"N new contacts added\"), reasons, warnings"},
        },
    },
    "ImportRowError": {"type": "object", "required": ["row", "column", "code", "reason"],
                       "properties": {"row": {"type": "integer"}, "column": {"type": "string"},
                                      "value": {"type": "string"}, "code": {"type": "string"},
                                      "reason": {"type": "string"},
                                      "suggestion": {"type": "string"}}},
    "ImportFix": {"type": "object", "required": ["kind", "value", "action"], "properties": {
        "kind": {"enum": ["source", "interest", "preference"]},
        "value": {"type": "string", "description": "The unknown value, as the errors name it"},
        "action": {"enum": ["create", "map", "ignore"],
                   "description": "create: add the label to the account; map: use the "
                                  "existing label 'to' instead; ignore: drop the value and "
                                  "keep the row"},
        "to": {"type": "string", "description": "For map: an existing label (or one "
                                                "created in the same request)"}}},
    "UnknownValue": {"type": "object", "properties": {
        "kind": {"enum": ["source", "interest", "preference"]}, "value": {"type": "string"},
        "rows": {"type": "integer", "description": "Rows holding the value"},
        "suggestion": {"type": ["string", "null"],
                       "description": "The existing label it matches but for case"}}},
    "ImportJson": {"type": "object", "required": ["contacts"], "properties": {
        "contacts": {"type": "array", "maxItems": 100000, "items": ref("ContactIn")},
        "obtained_rightfully": {"type": "boolean"},
        "fallbacks": {"type": "object"}, "welcome": {"type": "boolean"},
        "notify": {"type": ["string", "boolean"],
                   "description": "Who gets the report e-mail; left out: the account's "
                                  "notification address (else its first user); false: "
                                  "no report mail"}}},
}

PATHS = {
    "/api/imports": {
        "get": {"summary": "The account's latest imports",
                "responses": {"200": ok("List", {"type": "object"}), **errors(401, 403)}},
        "post": {
            "summary": "Start an import: a CSV file (multipart field 'file', optional "
                       "'notify' and 'welcome') or JSON {\"contacts\": [...]}",
            "parameters": [IDEMPOTENCY_KEY],
            "requestBody": {"required": True, "content": {
                "multipart/form-data": {"schema": {"type": "object", "required": ["file"],
                                                   "properties": {
                                                       "file": {"type": "string",
                                                                "format": "binary"},
                                                       "notify": {
                                                           "type": "string",
                                                           "description": "an address, or "
                                                           "'false' for no report mail"},
                                                       "welcome": {"type": "boolean"}}}},
                "application/json": {"schema": ref("ImportJson")}}},
            "responses": {"202": ok("Accepted: the import", ref("Import")),
                          **errors(400, 401, 403, 409, 413, 415, 422, 503)}}},
    "/api/imports/{import_id}": {
        "get": {"summary": "Step, progress, counts, suggested and chosen mapping",
                "parameters": [IMPORT_ID],
                "responses": {"200": ok("The import", ref("Import")),
                              **errors(401, 403, 404)}},
        "delete": {"summary": "Cancel an abandoned import: its row, errors and stored file "
                              "are removed (409 while it writes contacts or once done)",
                   "parameters": [IMPORT_ID],
                   "responses": {"204": {"description": "Cancelled"},
                                 **errors(401, 403, 404, 409)}}},
    "/api/imports/{import_id}/fixes": {
        "put": {"summary": "Answer unknown sources, interests and preferences (create, map "
                           "or ignore); the rows are checked again without a new upload",
                "parameters": [IMPORT_ID],
                "requestBody": json_body({"type": "object", "required": ["fixes"],
                                          "properties": {"fixes": {
                                              "type": "array",
                                              "items": ref("ImportFix")}}}),
                "responses": {"200": ok("The import", ref("Import")),
                              **errors(400, 401, 403, 404, 409, 415, 422, 503)}}},
    "/api/imports/{import_id}/mapping": {
        "put": {"summary": "Choose the mapping (remembered for the account's next import)",
                "parameters": [IMPORT_ID],
                "requestBody": json_body({"type": "object", "required": ["mapping"],
                                          "properties": {"mapping": {
                                              "type": "object",
                                              "additionalProperties": FIELD_OR_NULL}}}),
                "responses": {"200": ok("The import", ref("Import")),
                              **errors(400, 401, 403, 404, 409, 415, 422)}}},
    "/api/imports/{import_id}/consent": {
        "put": {"summary": "State the data was obtained rightfully; queues the validation",
                "parameters": [IMPORT_ID],
                "requestBody": json_body({"type": "object",
                                          "required": ["obtained_rightfully"],
                                          "properties": {
                                              "obtained_rightfully": {"const": True},
                                              "welcome": {"type": "boolean"}}}),
                "responses": {"200": ok("The import", ref("Import")),
                              **errors(400, 401, 403, 404, 409, 415, 422, 503)}}},
    "/api/imports/{import_id}/fallbacks": {
        "put": {"summary": "Language and source for new contacts that lack one",
                "parameters": [IMPORT_ID],
                "requestBody": json_body({"type": "object", "properties": {
                    "language": {"type": "string"}, "source": {"type": "string"}}}),
                "responses": {"200": ok("The import", ref("Import")),
                              **errors(400, 401, 403, 404, 409, 415, 422)}}},
    "/api/imports/{import_id}/finalise": {
        "post": {"summary": "Write the valid rows under the merge rules (queued; resumes a "
                            "crashed run)",
                 "parameters": [IMPORT_ID],
                 "responses": {"202": ok("Queued", ref("Import")),
                               "200": ok("Already done", ref("Import")),
                               **errors(401, 403, 404, 409, 503)}}},
    "/api/imports/{import_id}/errors.csv": {
        "get": {"summary": "The failing rows in the file's separator, the fixes already "
                           "chosen applied, with row, reason and suggested-fix columns",
                "parameters": [IMPORT_ID, {"name": "lang", "in": "query", "required": False,
                                           "schema": {"enum": ["en", "nl", "fr"]},
                                           "description": "Language of the reasons "
                                                          "(default: Accept-Language, "
                                                          "else en)"}],
                "responses": {"200": {"description": "CSV",
                                      "content": {"text/csv": {"schema": {"type": "string"}}}},
                              **errors(401, 403, 404)}}},
}

OPENAPI = {"paths": PATHS, "schemas": SCHEMAS}
