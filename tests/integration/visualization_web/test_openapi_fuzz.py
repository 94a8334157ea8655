"""The OpenAPI document is valid, and a schema-driven fuzzer (schemathesis) finds no 5xx and no response that
breaks the document (status, content type, headers and body, checked against each operation's typed
schema), calling every operation as a logged-in admin with a Bearer token.

Schemathesis' pytest plugin (``from_fixture``) does not run on pytest 9 yet, so the test drives its Python API:
one bounded, derandomized Hypothesis run per operation, failures collected and reported together.
"""

from __future__ import annotations

import schemathesis
from hypothesis import HealthCheck, given, settings
from openapi_spec_validator import validate

from tests.integration.visualization_web.conftest import PASSWORD

EXAMPLES_PER_OPERATION = 25
# A request the document calls valid may still break a business rule the document cannot express (a name
# already taken, a face that does not exist, bytes that are no image): 404 / 409 / 422, never 400 or 5xx.
CONFIG = {"checks": {
    "positive_data_acceptance": {"expected-statuses": ["2XX", "401", "403", "404", "409", "422"]},
    **{name: {"enabled": True} for name in ("not_a_server_error", "status_code_conformance", "content_type_conformance",
                                            "response_headers_conformance", "response_schema_conformance",
                                            "negative_data_rejection")},
}}  # fmt: skip


def test_openapi_document_is_valid(login):
    document = login("viewer").get("/api/v1/openapi.json").get_json()
    validate(document)  # raises OpenAPIValidationError naming the first problem
    assert document["paths"]["/api/v1/personas"]["post"]["responses"]["201"]


def _fuzz(operation, headers: dict) -> str | None:
    @given(case=operation.as_strategy())
    @settings(max_examples=EXAMPLES_PER_OPERATION, derandomize=True, deadline=None, database=None,
              suppress_health_check=list(HealthCheck), print_blob=False)  # fmt: skip
    def run(case) -> None:
        case.call_and_validate(headers=headers)

    try:
        run()
    except (Exception, BaseExceptionGroup) as exc:  # the report names the request, the status and the broken rule
        return f"{operation.label}: {str(exc)[:3000]}"
    return None


def test_api_fuzz_finds_no_server_error_and_no_undocumented_response(web, web_db):
    from visualization_web import users

    users.put(web_db, "fuzzer", PASSWORD, "admin")
    _, secret = users.create_token(web_db, "fuzzer", "schemathesis")
    headers = {"Authorization": f"Bearer {secret}"}
    config = schemathesis.config.SchemathesisConfig.from_dict(CONFIG)
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", web, config=config, headers=headers)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 20
    failures = [f for op in operations if (f := _fuzz(op, headers)) is not None]
    assert not failures, "\n\n".join(failures)
