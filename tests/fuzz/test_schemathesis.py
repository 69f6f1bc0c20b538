"""Schemathesis against GET /api/openapi.json, on the in-process app with a real token.

Every documented operation gets generated requests (valid and invalid); every answer must be
no 5xx, a documented status, the documented content type and match the documented schema.
Bounded: a few examples per operation and backend, so it stays well inside the suite budget.
"""

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

EXAMPLES = 6
# What the issue asks: no 5xx, and every answer as documented (status, type, headers, body).
# Not included: "schema-valid data must be accepted" — the document gives shapes, while the
# account's vocabularies decide validity (an unknown source is schema-valid and still a 422).
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance,
          response_headers_conformance, response_schema_conformance]


@pytest.fixture
def api_schema(app, tenant):
    """The served document, loaded through the ASGI app (what a client would download)."""
    return schemathesis.openapi.from_asgi("/api/openapi.json", app)


schema = schemathesis.pytest.from_fixture("api_schema")
schema = schema.exclude(path="/api/openapi.json")  # the document itself: loaded above
CALLS: list = []  # (operation, status) of every generated request, for the figures


# PostgreSQL only: the production store and the stricter one (NUL, integer ranges).
@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
@schema.parametrize()
@settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
          suppress_health_check=list(HealthCheck))
def test_every_operation_conforms_to_its_description(case, tenant):
    response = case.call(headers=tenant.headers)
    CALLS.append((case.operation.label, response.status_code))
    if response.status_code == 405:
        # Unlisted methods, and /api/contacts/abc (or an id past 2**31-1, which can't be an
        # id): that is the path of PUT /api/contacts/{email}. A 405 must name what is allowed.
        allowed = response.headers.get("allow", [""])[0].replace(" ", "").split(",")
        assert allowed != [""] and case.method.upper() not in allowed, response.headers
        return
    case.validate_response(response, checks=CHECKS)


def test_the_document_lists_the_operations(client):
    doc = client.get("/api/openapi.json").json()
    operations = sum(len(ops) for ops in doc["paths"].values())
    assert operations >= 20
    if CALLS:  # after the generated run: its figures (INLET_FIGURES collects them)
        import json
        import os
        fives = sum(1 for _, status in CALLS if status >= 500)
        print(f"\nschemathesis: {len(CALLS)} requests over {len({o for o, _ in CALLS})} "
              f"operations, 5xx: {fives}")
        if os.environ.get("INLET_FIGURES"):
            with open(os.environ["INLET_FIGURES"], "a") as fh:
                fh.write(json.dumps({"test": "schemathesis", "requests": len(CALLS),
                                     "operations": len({o for o, _ in CALLS}),
                                     "server_errors": fives}) + "\n")

