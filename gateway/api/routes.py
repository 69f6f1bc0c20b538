"""Routes of the REST API, mounted at /api."""

from __future__ import annotations

from starlette.routing import Route

from gateway.api import contacts, openapi, vocabularies

routes = [
    Route("/openapi.json", openapi.openapi_json, name="openapi"),
    Route("/contacts", contacts.list_contacts, methods=["GET"], name="contacts"),
    Route("/contacts", contacts.create_contact, methods=["POST"], name="contacts_create"),
    Route("/contacts/{contact_id:int}", contacts.contact, methods=["GET", "PATCH", "DELETE"],
          name="contact"),
    Route("/contacts/{contact_id:int}/blacklist", contacts.blacklist_contact, methods=["POST"],
          name="contact_blacklist"),
    Route("/contacts/{email}", contacts.put_contact, methods=["PUT"], name="contact_put"),
    Route("/custom-fields", vocabularies.custom_fields, methods=["GET", "POST"],
          name="custom_fields"),
    Route("/custom-fields/{entry_id:int}", vocabularies.custom_field,
          methods=["PATCH", "DELETE"], name="custom_field"),
    Route("/{vocabulary:vocab}", vocabularies.vocabulary, methods=["GET", "POST"],
          name="vocabulary"),
    Route("/{vocabulary:vocab}/{entry_id:int}", vocabularies.vocabulary_entry,
          methods=["DELETE"], name="vocabulary_entry"),
]
