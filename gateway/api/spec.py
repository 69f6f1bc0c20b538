"""OpenAPI description of the core API (contacts, vocabularies, health)."""

from __future__ import annotations


def ref(name: str) -> dict:
    """A ``$ref`` to a component schema."""
    return {"$ref": f"#/components/schemas/{name}"}


def json_body(schema: dict) -> dict:
    """A required JSON request body."""
    return {"required": True, "content": {"application/json": {"schema": schema}}}


def ok(description: str, schema: dict | None = None) -> dict:
    """A response, JSON when ``schema`` is given."""
    response = {"description": description}
    if schema is not None:
        response["content"] = {"application/json": {"schema": schema}}
    return response


def errors(*statuses: int) -> dict:
    """The error responses an operation may give, all in the one error shape."""
    return {str(s): {"$ref": "#/components/responses/Error"} for s in statuses}


def path_param(name: str, schema: dict | None = None) -> dict:
    return {"name": name, "in": "path", "required": True, "schema": schema or {"type": "string"}}


def query_param(name: str, schema: dict) -> dict:
    return {"name": name, "in": "query", "required": False, "schema": schema}


IDEMPOTENCY_KEY = {
    "name": "Idempotency-Key", "in": "header", "required": False,
    "schema": {"type": "string", "minLength": 1, "maxLength": 255, "pattern": "^[!-~]+$"},
    "description": "A key of your choice (e.g. a UUID), kept 24 h per account: a retry with "
                   "the same key and body gets the first answer (Idempotent-Replayed: true) "
                   "and does nothing again; another body under the key is 422 "
                   "idempotency_key_reused; while the first still runs, 409 "
                   "idempotency_in_progress. 5xx answers are not kept: retry with the key."}
NULLABLE_TEXT = {"type": ["string", "null"]}
CONTACT_IN = {
    "type": "object",
    "properties": {
        "email": {"type": "string", "maxLength": 254}, "first_name": NULLABLE_TEXT,
        "name": NULLABLE_TEXT, "language": {"type": "string"}, "source": {"type": "string"},
        "status": {"enum": ["confirmed", "unconfirmed", "blacklisted"]},
        "preferences": {"type": "array", "items": {"type": "string"}},
        "interests": {"type": "array", "items": {"type": "string"}},
        "custom_fields": {"type": "object"},
    },
}
FIELD_LABEL = {"type": ["string", "null"], "maxLength": 200,
               "description": "Display label (one line); empty or null: show the name. "
                              "409 when another field is shown so."}
CONTACT_ID = path_param("contact_id", {"type": "integer"})
ENTRY_ID = path_param("entry_id", {"type": "integer"})

SCHEMAS = {
    "Error": {"type": "object", "required": ["error"], "properties": {"error": {
        "type": "object", "required": ["code", "message", "details"],
        "properties": {"code": {"type": "string"}, "message": {"type": "string"},
                       "details": {"type": "array"}}}}},
    "Contact": {"type": "object",
                "required": ["id", "email", "first_name", "name", "language", "source",
                             "status", "preferences", "interests", "custom_fields",
                             "created_at", "updated_at"],
                "properties": {**CONTACT_IN["properties"], "id": {"type": "integer"},
                               "language": {"type": "string"}, "source": {"type": "string"},
                               "created_at": {"type": "string", "format": "date-time"},
                               "updated_at": {"type": "string", "format": "date-time"}}},
    "ContactIn": CONTACT_IN | {"required": ["email", "language", "source"]},
    "ContactPatch": CONTACT_IN,
    "ContactList": {"type": "object",
                    "required": ["items", "next_cursor", "total", "total_is_estimate"],
                    "properties": {"items": {"type": "array", "items": ref("Contact")},
                                   "next_cursor": NULLABLE_TEXT,
                                   "prev_cursor": NULLABLE_TEXT,
                                   "total": {"type": "integer", "description": (
                                       "Contacts matching the filters: exact up to 10,000; "
                                       "above that an estimate (see total_is_estimate).")},
                                   "total_is_estimate": {"type": "boolean", "description": (
                                       "true when total is estimated: PostgreSQL's planner "
                                       "estimate, or on SQLite 10,000 meaning 'more "
                                       "than 10,000'.")}}},
    "VocabularyEntry": {"type": "object", "required": ["id", "name"],
                        "properties": {"id": {"type": "integer"}, "name": {"type": "string"}}},
    "VocabularyList": {"type": "object", "required": ["items"],
                       "properties": {"items": {"type": "array",
                                                "items": ref("VocabularyEntry")}}},
    "CustomField": {"type": "object", "required": ["id", "name", "label", "type", "choices"],
                    "properties": {"id": {"type": "integer"}, "name": {"type": "string"},
                                   "label": {"type": "string", "description":
                                             "What people see; the name when none is set."},
                                   "type": {"enum": ["text", "number", "date", "boolean",
                                                     "choice", "multiple_choice"]},
                                   "choices": {"type": "array", "items": {"type": "string"}}}},
    "CustomFieldList": {"type": "object", "required": ["items"],
                        "properties": {"items": {"type": "array", "items": ref("CustomField")}}},
}

PATHS: dict = {
    "/healthz": {"get": {"summary": "Liveness and the state of database and queue",
                         "security": [], "responses": {
                             "200": ok("All services up", {"type": "object"}),
                             "503": ok("A service is down", {"type": "object"})}}},
    "/api/openapi.json": {"get": {"summary": "This document", "security": [],
                                  "responses": {"200": ok("OpenAPI 3", {"type": "object"})}}},
    "/api/contacts": {
        "get": {"summary": "List contacts (keyset pagination)",
                "parameters": [
                    query_param("status", {"enum": ["confirmed", "unconfirmed", "blacklisted"]}),
                    query_param("email", {"type": "string"}),
                    query_param("q", {"type": "string", "description": "Part of the e-mail, "
                                      "first name or name, ignoring case"}),
                    query_param("source", {"type": "string"}),
                    query_param("language", {"type": "string"}),
                    query_param("interest", {"type": "string", "description": "Has this "
                                             "interest"}),
                    query_param("preference", {"type": "string", "description": "Has this "
                                               "preference"}),
                    query_param("added_after", {"type": "string", "description": "Added at or "
                                                "after this ISO date (UTC midnight) or "
                                                "date-time"}),
                    query_param("added_before", {"type": "string", "description": "Added "
                                                 "before this ISO date or date-time"}),
                    query_param("import", {"type": "integer", "description": "Created or "
                                           "changed by this import"}),
                    query_param("sort", {"enum": ["-created_at", "created_at"]}),
                    query_param("cursor", {"type": "string", "description": "next_cursor of "
                                           "a page: the page after it"}),
                    query_param("before", {"type": "string", "description": "prev_cursor of "
                                           "a page: the page before it"}),
                    query_param("limit", {"type": "integer", "minimum": 1, "maximum": 500})],
                "responses": {"200": ok("A page", ref("ContactList")), **errors(400, 401, 403)}},
        "post": {"summary": "Add one contact", "parameters": [IDEMPOTENCY_KEY],
                 "requestBody": json_body(ref("ContactIn")),
                 "responses": {"201": ok("Created", ref("Contact")),
                               **errors(400, 401, 403, 409, 413, 415, 422)}},
    },
    "/api/contacts/{email}": {
        "put": {"summary": "Upsert by e-mail under the merge rules",
                "parameters": [path_param("email")],
                "requestBody": json_body(ref("ContactPatch")),
                "responses": {"200": ok("Merged", ref("Contact")),
                              "201": ok("Created", ref("Contact")),
                              **errors(400, 401, 403, 404, 413, 415, 422)}}},
    "/api/contacts/{contact_id}": {
        "get": {"summary": "One contact", "parameters": [CONTACT_ID],
                "responses": {"200": ok("The contact", ref("Contact")),
                              **errors(401, 403, 404)}},
        "patch": {"summary": "Change one contact (merge rules)", "parameters": [CONTACT_ID],
                  "requestBody": json_body(ref("ContactPatch")),
                  "responses": {"200": ok("Changed", ref("Contact")),
                                **errors(400, 401, 403, 404, 413, 415, 422)}},
        "delete": {"summary": "Delete one contact", "parameters": [CONTACT_ID],
                   "responses": {"204": ok("Deleted"), **errors(401, 403, 404)}},
    },
    "/api/contacts/{contact_id}/blacklist": {
        "post": {"summary": "Blacklist a contact", "parameters": [CONTACT_ID],
                 "requestBody": {"required": False, "content": {"application/json": {
                     "schema": {"type": "object", "properties": {"reason": {
                         "type": "string", "description": "Why (kept in its history)"}}}}}},
                 "responses": {"200": ok("Blacklisted", ref("Contact")),
                               **errors(400, 401, 403, 404, 413, 415, 422)}}},
    "/api/custom-fields": {
        "get": {"summary": "Custom fields",
                "responses": {"200": ok("List", ref("CustomFieldList")), **errors(401, 403)}},
        "post": {"summary": "Define a custom field",
                 "requestBody": json_body({"type": "object", "required": ["name", "type"],
                                           "properties": {"name": {"type": "string"},
                                                          "label": FIELD_LABEL,
                                                          "type": {"type": "string"},
                                                          "choices": {"type": "array"}}}),
                 "responses": {"201": ok("Created", ref("CustomField")),
                               **errors(400, 401, 403, 409, 413, 415, 422)}}},
    "/api/custom-fields/{entry_id}": {
        "patch": {"summary": "Rename a custom field: its display label (its name, the key, "
                             "stays; 422 immutable when the body changes it)",
                  "parameters": [ENTRY_ID],
                  "requestBody": json_body({"type": "object",
                                            "properties": {"label": FIELD_LABEL}}),
                  "responses": {"200": ok("Renamed", ref("CustomField")),
                                **errors(400, 401, 403, 404, 409, 413, 415, 422)}},
        "delete": {"summary": "Remove a custom field (409 naming the forms that show it and "
                              "the enabled hooks that map to it)",
                   "parameters": [ENTRY_ID],
                   "responses": {"204": ok("Deleted"), **errors(401, 403, 404, 409)}}},
}

for _segment in ("sources", "languages", "preferences", "interests"):
    PATHS[f"/api/{_segment}"] = {
        "get": {"summary": f"The account's {_segment}",
                "responses": {"200": ok("List", ref("VocabularyList")), **errors(401, 403)}},
        "post": {"summary": f"Add to {_segment}",
                 "requestBody": json_body({"type": "object", "required": ["name"],
                                           "properties": {"name": {"type": "string"}}}),
                 "responses": {"201": ok("Added", ref("VocabularyEntry")),
                               **errors(400, 401, 403, 409, 413, 415, 422)}}}
    PATHS[f"/api/{_segment}/{{entry_id}}"] = {
        "delete": {"summary": f"Remove from {_segment} (409 naming the forms and enabled "
                              "hooks that use it)", "parameters": [ENTRY_ID],
                   "responses": {"204": ok("Deleted"), **errors(401, 403, 404, 409)}}}

OPENAPI = {
    "paths": PATHS,
    "schemas": SCHEMAS,
    "responses": {"Error": ok("An error in the one error shape", ref("Error"))},
}
