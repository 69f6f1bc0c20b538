"""OpenAPI description of the forms area: definitions, snippets and the public endpoints."""

from __future__ import annotations

from gateway.api.spec import errors, json_body, ok, path_param, ref

FORM_ID = path_param("form_id", {"type": "integer"})
SLUG = path_param("slug")
TOKEN = path_param("token")
_TEXTS = {"type": "object", "description": "{language: {key: text}}: overrides of the default "
                                           "texts (title, intro, submit, consent, thanks, "
                                           "label_<custom field>, ...)",
          "additionalProperties": {"type": "object",
                                   "additionalProperties": {"type": "string"}}}
_MAILS = {"type": "object", "description": "{confirm|welcome: {language: {subject, body}}}; "
                                           "Jinja2 (sandboxed) with first_name, name, email, "
                                           "form_name, confirm_url, unsubscribe_url",
          "additionalProperties": {"type": "object"}}
_STRINGS = {"type": "array", "items": {"type": "string"}}
_URL = {"type": ["string", "null"], "format": "uri"}

FORM_PROPS = {
    "name": {"type": "string", "maxLength": 200},
    "slug": {"type": "string", "pattern": "^[a-z0-9][a-z0-9-]{2,63}$",
             "description": "Used in the public paths; generated from the name when absent."},
    "source": {"type": "string", "description": "Given to new contacts (case-sensitive)."},
    "fields": {**_STRINGS, "description": "Shown besides email: first_name, name, language, "
                                          "preferences, interests or custom field names."},
    "preferences": {**_STRINGS, "description": "Offered labels, in order (empty: none); a new "
                                               "form lists all of the account's by default."},
    "interests": {**_STRINGS, "description": "Offered labels, in order (empty: none); a new "
                                             "form lists all of the account's by default."},
    "label_texts": {"type": "object", "description": "{label: {language: text}}: what a "
                                                     "visitor reads for a preference or "
                                                     "interest; the contact keeps the label.",
                    "additionalProperties": {"type": "object",
                                             "additionalProperties": {"type": "string"}}},
    "languages": {**_STRINGS, "description": "Languages of the form; the first is the default."},
    "texts": _TEXTS, "mails": _MAILS,
    "double_opt_in": {"type": "boolean", "default": True},
    "welcome": {"type": "boolean", "default": False},
    "redirect_urls": {**_STRINGS, "description": "Exact-match allow-list for _redirect."},
    "after_submit_url": _URL, "after_confirm_url": _URL,
    "allowed_origins": {**_STRINGS, "description": "Origins that may frame the form, "
                                                   "submit to it and read its answers."},
    "min_fill_seconds": {"type": "integer", "minimum": 0, "maximum": 60, "default": 2},
}
SCHEMAS = {
    "FormIn": {"type": "object", "required": ["name", "source"], "properties": FORM_PROPS,
               "additionalProperties": False},
    "FormPatch": {"type": "object", "properties": FORM_PROPS, "additionalProperties": False},
    "Form": {"type": "object", "required": ["id", "slug", "name", "source", "double_opt_in"],
             "properties": {**FORM_PROPS, "id": {"type": "integer"},
                            "urls": {"type": "object"},
                            "created_at": {"type": "string", "format": "date-time"},
                            "updated_at": {"type": "string", "format": "date-time"}}},
    "FormList": {"type": "object", "required": ["items"],
                 "properties": {"items": {"type": "array", "items": ref("Form")}}},
    "FormEmbed": {"type": "object", "required": ["hosted", "iframe", "script", "html"],
                  "properties": {"id": {"type": "integer"}, "slug": {"type": "string"},
                                 "hosted": {"type": "string", "format": "uri"},
                                 "iframe": {"type": "string"}, "script": {"type": "string"},
                                 "html": {"type": "string"}}},
    "FormAccepted": {"type": "object", "required": ["status", "message"],
                     "properties": {"status": {"const": "accepted"},
                                    "message": {"type": "string"}, "redirect": _URL}},
}
_HTML = {"text/html": {"schema": {"type": "string"}}}
PATHS = {
    "/api/forms": {
        "get": {"summary": "The account's forms",
                "responses": {"200": ok("List", ref("FormList")), **errors(401, 403)}},
        "post": {"summary": "Define a form (admin scope)", "requestBody": json_body(ref("FormIn")),
                 "responses": {"201": ok("Created", ref("Form")),
                               **errors(400, 401, 403, 409, 413, 415, 422)}}},
    "/api/forms/{form_id}": {
        "get": {"summary": "One form", "parameters": [FORM_ID],
                "responses": {"200": ok("The form", ref("Form")), **errors(401, 403, 404)}},
        "patch": {"summary": "Change a form (admin scope)", "parameters": [FORM_ID],
                  "requestBody": json_body(ref("FormPatch")),
                  "responses": {"200": ok("Changed", ref("Form")),
                                **errors(400, 401, 403, 404, 409, 413, 415, 422)}}},
    "/api/forms/{form_id}/embed": {
        "get": {"summary": "The four ready-to-paste embed snippets", "parameters": [FORM_ID],
                "responses": {"200": ok("Snippets", ref("FormEmbed")), **errors(401, 403, 404)}}},
    "/f/{slug}": {
        "get": {"summary": "Hosted form page (HTML; ?lang=, ?embed=iframe, ?redirect=)",
                "security": [], "parameters": [SLUG],
                "responses": {"200": {"description": "The page", "content": _HTML},
                              **errors(404)}},
        "post": {"summary": "Submit (urlencoded or multipart; Accept: application/json for "
                           "JSON). The same answer for every address.",
                 "security": [], "parameters": [SLUG],
                 "requestBody": {"required": True, "content": {
                     "application/x-www-form-urlencoded": {"schema": {"type": "object"}}}},
                 "responses": {"202": ok("Accepted (JSON)", ref("FormAccepted")),
                               "200": {"description": "Thank-you page", "content": _HTML},
                               "303": {"description": "Redirect to the allowed URL"},
                               **errors(403, 404, 413, 415, 422, 429, 503)}}},
    "/f/{slug}/embed.js": {
        "get": {"summary": "Script embed", "security": [], "parameters": [SLUG],
                "responses": {"200": {"description": "JavaScript", "content": {
                    "text/javascript": {"schema": {"type": "string"}}}}, **errors(404)}}},
    "/confirm/{token}": {
        "get": {"summary": "Double opt-in confirmation (HTML)", "security": [],
                "parameters": [TOKEN],
                "responses": {"200": {"description": "Confirmed or already confirmed",
                                      "content": _HTML},
                              "303": {"description": "Redirect after confirming"},
                              "404": {"description": "Invalid link", "content": _HTML},
                              "410": {"description": "Expired link, offers a new mail",
                                      "content": _HTML}}},
        "post": {"summary": "Ask a new confirmation mail for an expired link", "security": [],
                 "parameters": [TOKEN],
                 "responses": {"200": {"description": "Same answer always", "content": _HTML},
                               **errors(429)}}},
    "/unsubscribe/{token}": {
        "get": {"summary": "Unsubscribe page", "security": [], "parameters": [TOKEN],
                "responses": {"200": {"description": "Asks to confirm", "content": _HTML},
                              "404": {"description": "Invalid link", "content": _HTML}}},
        "post": {"summary": "Unsubscribe (RFC 8058 one-click); blacklists the contact",
                 "security": [], "parameters": [TOKEN],
                 "responses": {"200": {"description": "Unsubscribed", "content": _HTML},
                               "404": {"description": "Invalid link", "content": _HTML}}}},
}

OPENAPI = {"paths": PATHS, "schemas": SCHEMAS}
