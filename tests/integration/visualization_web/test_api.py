"""Every /api/v1 endpoint: success shapes, JSON errors with the right status, never a stack trace."""

import io
import uuid

import pytest

from tests.support import seed

MISSING = "00000000-0000-0000-0000-0000000000aa"


@pytest.fixture
def data(web, web_db):
    center = seed.centers(1)[0]
    face_ids = seed.seed_faces(web_db, 4, center, per_image=2)
    image_id = seed.faces.get(web_db, face_ids[0]).image_id
    return web_db, face_ids, image_id


def test_personas_lifecycle_and_errors(login):
    api = login("labeler")
    created = api.post_json("/api/v1/personas", {"name": "Ada"})
    assert created.status_code == 201
    pid = created.get_json()["persona_id"]
    assert api.post_json("/api/v1/personas", {"name": "ada"}).status_code == 409
    assert api.post_json("/api/v1/personas", {"name": ""}).status_code == 422
    assert api.post_json("/api/v1/personas", {"name": 5}).status_code == 422
    headers = {"X-CSRF-Token": api.csrf, "Content-Type": "application/json"}
    assert api.client.post("/api/v1/personas", data="not json", headers=headers).status_code == 400
    assert api.get(f"/api/v1/personas/{pid}").get_json()["name"] == "Ada"
    assert api.get("/api/v1/personas/not-a-uuid").status_code == 404
    assert api.get(f"/api/v1/personas/{MISSING}").status_code == 404
    assert api.post_json(f"/api/v1/personas/{pid}", {"name": "Ada L"}, method="PATCH").get_json()["name"] == "Ada L"
    other = api.post_json("/api/v1/personas", {"name": "Bob"}).get_json()["persona_id"]
    assert api.post_json(f"/api/v1/personas/{pid}/merge", {"into": pid}).status_code == 409
    assert api.post_json(f"/api/v1/personas/{pid}/merge", {"into": "x"}).status_code == 422
    merged = api.post_json(f"/api/v1/personas/{other}/merge", {"into": pid})
    assert merged.status_code == 200 and merged.get_json()["kind"] == "persona.merge"
    assert [p["name"] for p in api.get("/api/v1/personas").get_json()["personas"]] == ["Ada L"]
    assert api.post_json("/api/v1/undo", {"event_id": merged.get_json()["event_id"]}).status_code == 200
    assert len(api.get("/api/v1/personas").get_json()["personas"]) == 2


def test_admin_deletes_a_persona(login):
    admin = login("admin")
    pid = admin.post_json("/api/v1/personas", {"name": "Temp"}).get_json()["persona_id"]
    assert admin.post_json(f"/api/v1/personas/{pid}?erase_faces=maybe", method="DELETE").status_code == 400
    assert admin.post_json(f"/api/v1/personas/{pid}?erase_faces=false", method="DELETE").status_code == 200
    assert admin.post_json(f"/api/v1/personas/{pid}", method="DELETE").status_code == 404


def test_confirm_reject_bulk_undo_and_face_reads(login, data):
    db, face_ids, image_id = data
    api = login("labeler")
    pid = api.post_json("/api/v1/personas", {"name": "Ada"}).get_json()["persona_id"]
    seed.set_active_model(db, 1)
    seed.predict(db, face_ids[3], image_id, uuid.UUID(pid), 0.7)
    face = api.get(f"/api/v1/faces/{face_ids[3]}").get_json()
    assert face["prediction"] == {"persona_id": pid, "persona": "Ada", "score": pytest.approx(0.7),
                                  "distance": pytest.approx(0.3), "model_version": 1}  # fmt: skip
    queue = api.get(f"/api/v1/personas/{pid}/faces").get_json()
    assert [c["face_id"] for c in queue["predicted"]] == [face_ids[3]]

    one = api.post_json("/api/v1/labels", {"face_id": face_ids[3], "persona_id": pid, "verdict": "confirm"})
    assert one.status_code == 201 and one.get_json()["actor"] == "labeler"
    assert api.get(f"/api/v1/faces/{face_ids[3]}").get_json()["prediction"] is None
    many = api.post_json("/api/v1/labels", {"face_ids": face_ids[:2], "persona_id": pid, "verdict": "reject"})
    assert len(many.get_json()["events"]) == 2
    listing = api.get(f"/api/v1/personas/{pid}/faces").get_json()
    assert (listing["confirmed_total"], listing["rejected_total"]) == (1, 2)

    undone = api.post_json("/api/v1/undo", {})  # the caller's last action
    assert undone.get_json()["kind"] == "label.undo"
    assert api.get(f"/api/v1/personas/{pid}/faces").get_json()["rejected_total"] == 1
    assert api.post_json("/api/v1/undo", {"event_id": one.get_json()["event_id"]}).status_code == 200
    assert api.post_json("/api/v1/undo", {"event_id": one.get_json()["event_id"]}).status_code == 409
    assert api.get(f"/api/v1/faces/{face_ids[3]}").get_json()["prediction"]["persona"] == "Ada"

    def status(payload: dict) -> int:
        return api.post_json("/api/v1/labels", payload).status_code

    assert status({"face_id": "nope", "persona_id": pid, "verdict": "confirm"}) == 404
    assert status({"face_id": face_ids[0], "persona_id": pid, "verdict": "maybe"}) == 422
    assert status({"face_id": face_ids[0], "persona_id": "x", "verdict": "confirm"}) == 422
    assert status({"face_ids": [], "persona_id": pid, "verdict": "confirm"}) == 422
    assert api.post_json("/api/v1/undo", {"event_id": str(uuid.uuid1())}).status_code == 404
    assert api.get("/api/v1/faces/nope").status_code == 404


def test_images_list_and_detail(login, data):
    _, face_ids, image_id = data
    api = login("viewer")
    listed = api.get("/api/v1/images").get_json()["images"]
    assert {i["image_id"] for i in listed} >= {image_id} and all(i["source_name"] for i in listed)
    detail = api.get(f"/api/v1/images/{image_id}").get_json()
    assert {f["face_id"] for f in detail["faces"]} == set(face_ids[:2])
    assert api.get(detail["url"]).headers["Cache-Control"].endswith("immutable")
    assert api.get("/api/v1/images/nope").status_code == 404
    assert api.get("/api/v1/images?limit=0").status_code == 400
    assert api.get("/api/v1/images?before=yesterday").status_code == 400
    assert api.get("/blobs/../etc/passwd").status_code == 404


def test_ingest_upload_path_and_progress(login, tmp_path):
    api = login("labeler")
    refused = api.post_json("/api/v1/ingest", {"source": str(tmp_path)})
    assert refused.status_code == 403
    assert api.post_json("/api/v1/ingest", {}).status_code == 422
    upload = api.client.post(
        "/api/v1/ingest",
        headers={"X-CSRF-Token": api.csrf},
        data={"files": [(io.BytesIO(seed.jpeg()), "a.jpg"), (io.BytesIO(b""), "empty.jpg")]},
    )
    assert upload.status_code == 202, upload.get_json()
    progress = api.get(upload.get_json()["progress_url"]).get_json()
    assert progress["job_id"] == upload.get_json()["job_id"]
    assert api.get("/api/v1/ingest").get_json()["jobs"][0]["job_id"] == progress["job_id"]
    assert api.get("/api/v1/ingest/nope").status_code == 404


def test_upload_larger_than_the_limit_is_413(web, login):
    web.config["MAX_CONTENT_LENGTH"] = 1000
    api = login("labeler")
    response = api.client.post(
        "/api/v1/ingest", headers={"X-CSRF-Token": api.csrf}, data={"files": [(io.BytesIO(b"x" * 5000), "big.jpg")]}
    )
    assert response.status_code == 413 and response.get_json()["error"]["status"] == 413


def test_models_endpoints(login):
    api = login("admin")
    models = api.get("/api/v1/models").get_json()
    assert models["versions"] == [] and models["active_version"] is None
    assert api.get("/api/v1/models/999").status_code == 404
    assert api.post_json("/api/v1/models/999/promote", {}).status_code == 404
    assert api.post_json("/api/v1/models/rollback").status_code == 409
    retrain = api.post_json("/api/v1/models/retrain")
    assert retrain.status_code == 202 and retrain.get_json()["kind"] == "model.retrain_requested"


def test_predict_refuses_what_is_not_an_image(login):
    api = login("viewer")
    response = api.client.post(
        "/api/v1/predict", headers={"X-CSRF-Token": api.csrf}, data={"image": (io.BytesIO(b"not an image"), "x.jpg")}
    )
    assert response.status_code == 422
    assert api.client.post("/api/v1/predict", headers={"X-CSRF-Token": api.csrf}).status_code == 422


def test_predict_finds_a_face_without_a_model(login):
    from matplotlib import cbook

    api = login("viewer")
    with cbook.get_sample_data("grace_hopper.jpg") as handle:
        image = handle.read()
    response = api.client.post(
        "/api/v1/predict", headers={"X-CSRF-Token": api.csrf}, data={"image": (io.BytesIO(image), "grace.jpg")}
    )
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert body["model_version"] is None and len(body["faces"]) == 1
    assert body["faces"][0]["box"]["width"] > 50 and body["faces"][0]["persona_id"] is None


def test_events_filter(login):
    api = login("labeler")
    api.post_json("/api/v1/personas", {"name": "Ada"})
    kinds = [e["kind"] for e in api.get("/api/v1/events?kind=persona.").get_json()["events"]]
    assert kinds == ["persona.create"]
    assert api.get("/api/v1/events?actor=nobody").get_json()["events"] == []
    assert api.get("/api/v1/events?before=x").status_code == 400
    assert api.get("/api/v1/events?limit=abc").status_code == 400


def test_openapi_document_lists_every_route_with_typed_success_bodies(web, login):
    """Every /api/v1 route is in the document, and each success answer names a schema whose objects list
    their fields (no free-form object a client could not be generated from)."""
    document = login("viewer").get("/api/v1/openapi.json").get_json()
    assert document["openapi"].startswith("3.1")
    rules = [r.rule for r in web.url_map.iter_rules() if r.rule.startswith("/api/v1/") and "openapi" not in r.rule]
    routes = {r.replace("<int:", "{").replace("<", "{").replace(">", "}") for r in rules}
    assert routes == set(document["paths"])
    schemas = document["components"]["schemas"]

    free_form = {("Event", "payload")}  # an audit event's payload: its shape is the event kind's

    def typed(schema: dict, owner: str = "", seen: frozenset = frozenset()) -> bool:
        if "$ref" in schema:
            name = schema["$ref"].rsplit("/", 1)[-1]
            return name in seen or typed(schemas[name], name, seen | {name})
        if "anyOf" in schema:
            return all(typed(s, owner, seen) for s in schema["anyOf"])
        if schema.get("type") == "array":
            return typed(schema["items"], owner, seen)
        if schema.get("type") == "object" and "properties" not in schema:  # a map: its values must be typed
            values = schema.get("additionalProperties")
            return isinstance(values, dict) and bool(values) and typed(values, owner, seen)
        return all((owner, name) in free_form or typed(s, owner, seen)
                   for name, s in schema.get("properties", {}).items())  # fmt: skip

    for path, item in document["paths"].items():
        for method, op in item.items():
            ok = [code for code in op["responses"] if code.startswith("2")]
            assert len(ok) == 1, (path, method)
            errors = [op["responses"][c] for c in op["responses"] if not c.startswith("2")]
            assert all(e["content"]["application/json"]["schema"]["$ref"].endswith("/Error") for e in errors)
            assert typed(op["responses"][ok[0]]["content"]["application/json"]["schema"]), (path, method)


def test_each_route_takes_the_body_its_requests_need(login):
    """Uploads and bulk labels keep larger limits than a JSON route's 64 KB (visualization_web/request_limits)."""
    api = login("labeler")
    upload = api.client.post("/api/v1/ingest", headers={"X-CSRF-Token": api.csrf},
                             data={"files": [(io.BytesIO(b"x" * 100_000), "big.jpg")]})  # fmt: skip
    assert upload.status_code == 202
    bulk = api.post_json("/api/v1/labels", {"face_ids": ["f" * 64] * 1000, "verdict": "confirm",
                                            "persona_id": "00000000-0000-0000-0000-000000000000"})  # fmt: skip
    assert bulk.status_code != 413
    big = api.post_json("/api/v1/personas", {"name": "n" * 70_000})
    assert big.status_code == 413 and "65536" in big.get_json()["error"]["message"]


def test_a_persona_s_faces_page_only_within_its_first_10000_faces(login):
    api = login("labeler")
    pid = api.post_json("/api/v1/personas", {"name": "Paged"}).get_json()["persona_id"]
    assert api.get(f"/api/v1/personas/{pid}/faces?page=19&limit=500").status_code == 200
    deep = api.get(f"/api/v1/personas/{pid}/faces?page=20&limit=500")
    assert deep.status_code == 422 and "last page is 19" in deep.get_json()["error"]["message"]
