"""Requests are checked by the same models the OpenAPI document is made from: a bad body is 422 and a bad
query parameter 400, each with the shared error body naming the field at fault."""

from __future__ import annotations


def error_of(response) -> str:
    body = response.get_json()
    assert body["error"]["status"] == response.status_code
    return body["error"]["message"]


def test_a_body_field_of_the_wrong_kind_is_422_naming_it(login):
    api = login("labeler")
    assert "'name'" in error_of(api.post_json("/api/v1/personas", {"name": 5}))
    assert "'name'" in error_of(api.post_json("/api/v1/personas", {}))
    too_long = api.post_json("/api/v1/personas", {"name": "n" * 81})  # the document's maxLength: 80
    assert too_long.status_code == 422 and "at most 80" in error_of(too_long)
    wrong = api.post_json("/api/v1/labels", {"face_id": "f", "persona_id": "x", "verdict": "maybe"})
    assert wrong.status_code == 422
    assert "'persona_id'" in error_of(wrong) and "'verdict'" in error_of(wrong)  # every field at fault
    neither = api.post_json("/api/v1/labels", {"persona_id": "00000000-0000-0000-0000-000000000000",
                                               "verdict": "confirm"})  # fmt: skip
    assert neither.status_code == 422 and "face_id or face_ids" in error_of(neither)


def test_a_body_that_is_no_json_object_is_400(login):
    api = login("labeler")
    headers = {"X-CSRF-Token": api.csrf, "Content-Type": "application/json"}
    for data in ("not json", "[1, 2]", ""):
        response = api.client.post("/api/v1/undo", data=data, headers=headers)
        assert response.status_code == 400 and "JSON object" in error_of(response), data


def test_a_bad_query_parameter_is_400_naming_it(login):
    api = login("viewer")
    cases = [("/api/v1/images?limit=0", "limit"), ("/api/v1/events?limit=abc", "limit"),
             ("/api/v1/ingest?limit=201", "limit"), ("/api/v1/images?before=yesterday", "before")]  # fmt: skip
    for path, name in cases:
        response = api.get(path)
        assert response.status_code == 400 and f"'{name}'" in error_of(response), path


def test_unknown_body_fields_are_ignored_as_before(login):
    api = login("labeler")
    assert api.post_json("/api/v1/personas", {"name": "Ada", "colour": "blue"}).status_code == 201


def test_the_document_declares_what_the_validator_checks(login):
    document = login("viewer").get("/api/v1/openapi.json").get_json()
    name = document["components"]["schemas"]["PersonaName"]
    assert name["required"] == ["name"] and name["properties"]["name"]["maxLength"] == 80
    limit = next(p for p in document["paths"]["/api/v1/images"]["get"]["parameters"] if p["name"] == "limit")
    assert (limit["schema"]["minimum"], limit["schema"]["maximum"]) == (1, 500)
    create = document["paths"]["/api/v1/personas"]["post"]["responses"]
    assert create["422"]["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/Error"}
