"""Ingest sources: every attack a labeler could make with POST /api/v1/ingest or the upload form, against the
real web app, a real input worker, Cassandra and Redis (docs/security.md, "Ingest sources")."""

from __future__ import annotations

import base64
import os
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from common.infra.settings import get_settings
from common.repositories import jobs
from common.storage import get_blob_store
from tests.integration.input_worker.helpers import wait_for_job
from tests.unit.input_worker.sample_images import astronaut, encode

pytestmark = pytest.mark.integration

PHOTO = encode(astronaut())
ACCOUNT_KEY = base64.b64encode(b"not-a-real-key").decode()
CONN = f"DefaultEndpointsProtocol=https;AccountName=acct;AccountKey={ACCOUNT_KEY};EndpointSuffix=core.windows.net"
SAS = "sv=2024-11-04&ss=f&srt=sco&sp=rl&se=2030-01-01&sig=TOPSECRETSIGNATURE"


@pytest.fixture
def configure(monkeypatch):
    """Set PP_* variables for the web app of this test (workers started afterwards inherit them)."""

    def _set(**values: str) -> None:
        for name, value in values.items():
            monkeypatch.setenv(name, value)
        get_settings.cache_clear()

    yield _set
    monkeypatch.undo()
    get_settings.cache_clear()


@pytest.fixture
def folders(tmp_path):
    allowed, private = tmp_path / "allowed", tmp_path / "private"
    (allowed / "photos").mkdir(parents=True)
    private.mkdir()
    (allowed / "photos" / "mine.jpg").write_bytes(PHOTO)
    (private / "secret-payroll.jpg").write_bytes(PHOTO)
    return allowed, private


def _no_jobs(db) -> bool:
    return jobs.recent(db, limit=5) == []


def test_the_scheme_trick_does_not_reach_a_folder_outside_the_roots(login, web_db, folders, configure):
    allowed, private = folders
    api = login("labeler")
    response = api.post_json("/api/v1/ingest", {"source": f"/x://..{allowed}"})
    assert response.status_code == 422  # no allowed roots: refused as well (not a folder path at all)
    configure(PP_ALLOWED_INGEST_ROOTS=str(allowed))
    for source in (str(private), f"/x://..{private}", f"/x://../..{private}", "/x://.."):
        response = api.post_json("/api/v1/ingest", {"source": source})
        assert response.status_code in (403, 422), (source, response.get_json())
        assert response.get_json()["error"]["message"]
    assert _no_jobs(web_db)


def test_json_cannot_create_an_upload_job_or_name_blob_keys(login, web_db, folders, configure):
    allowed, _ = folders
    configure(PP_ALLOWED_INGEST_ROOTS=str(allowed))
    get_blob_store().put("models/victim.joblib", b"model")
    api = login("labeler")
    locator = {"key": "a", "name": "a.jpg", "locator": "models/victim.joblib", "size": 5, "reason": None}
    for payload in ({"source": "upload://1 file from mallory", "options": {"uploads": [locator]}},
                    {"source": "upload:1 file from mallory"},
                    {"source": str(allowed), "options": {"uploads": [locator]}},
                    {"source": str(allowed), "options": {"operator": True}}):  # fmt: skip
        response = api.post_json("/api/v1/ingest", payload)
        assert response.status_code == 422, (payload, response.get_json())
    assert _no_jobs(web_db)


def test_a_folder_swapped_for_a_symlink_after_the_check_is_not_walked(login, web_db, folders, configure,
                                                                      start_worker):  # fmt: skip
    allowed, private = folders
    configure(PP_ALLOWED_INGEST_ROOTS=str(allowed))
    response = login("labeler").post_json("/api/v1/ingest", {"source": str(allowed / "photos")})
    assert response.status_code == 202
    (allowed / "photos" / "mine.jpg").unlink()
    (allowed / "photos").rmdir()
    os.symlink(private, allowed / "photos")  # swapped between the web's check and the worker's walk
    start_worker("input_worker.app", "ingest,extract")

    progress = wait_for_job(web_db, response.get_json()["job_id"])

    assert progress.job.status == "failed" and "PP_ALLOWED_INGEST_ROOTS" in progress.job.error
    assert "secret-payroll" not in str(progress.as_dict())
    assert jobs.items(web_db, progress.job.job_id) == []


def test_a_symlink_inside_an_allowed_root_is_listed_but_never_followed(login, web_db, folders, configure,
                                                                       start_worker):  # fmt: skip
    allowed, private = folders
    configure(PP_ALLOWED_INGEST_ROOTS=str(allowed))
    os.symlink(private, allowed / "photos" / "escape")
    os.symlink(private / "secret-payroll.jpg", allowed / "photos" / "payroll.jpg")
    start_worker("input_worker.app", "ingest,extract")
    response = login("labeler").post_json("/api/v1/ingest", {"source": str(allowed / "photos")})
    assert response.status_code == 202

    progress = wait_for_job(web_db, response.get_json()["job_id"])

    outcomes = {item.item_key: (item.outcome, item.reason) for item in jobs.items(web_db, progress.job.job_id)}
    assert outcomes["mine.jpg"][0] == jobs.STORED
    assert outcomes["escape"] == (jobs.REJECTED, "symbolic link (not followed)")
    assert outcomes["payroll.jpg"] == (jobs.REJECTED, "symbolic link (not followed)")
    assert not any("secret-payroll" in key for key in outcomes)


def test_shares_outside_the_allowlist_and_other_accounts_are_refused(login, web_db, configure):
    configure(PP_AZURE_FILES_CONNECTION_STRING=CONN, PP_ALLOWED_INGEST_SHARES="photos/incoming")
    api = login("labeler")
    for source in ("azurefiles://persona-pipeline/blobs",  # the blob share
                   "azurefiles://finance/reports",  # any other share of the account
                   "azurefiles://photos/private",  # the allowed share, outside its allowed directory
                   "https://otheraccount.file.core.windows.net/photos/incoming",  # another account
                   "https://acct.file.core.windows.net.evil.example/photos/incoming"):  # fmt: skip
        response = api.post_json("/api/v1/ingest", {"source": source})
        assert response.status_code in (403, 422), (source, response.get_json())
    assert _no_jobs(web_db)


def test_a_sas_token_is_never_stored_shown_or_returned(login, web, web_db, configure):
    configure(PP_AZURE_FILES_CONNECTION_STRING=CONN, PP_ALLOWED_INGEST_SHARES="photos")
    api = login("viewer")
    labeler = login("labeler")
    source = f"https://acct.file.core.windows.net/photos/trip?{SAS}"

    response = labeler.post_json("/api/v1/ingest", {"source": source})
    form = labeler.form("/ingest/folder", {"source": "https://u:hunter2@acct.file.core.windows.net/photos/x"})

    assert response.status_code == 422 and "TOPSECRET" not in response.get_data(as_text=True)
    assert form.status_code == 422 and "hunter2" not in form.get_data(as_text=True).split("Not started")[1][:300]
    assert _no_jobs(web_db)
    jobs.create(web_db, "0" * 24, source, "before-the-fix")  # a row saved by an older version
    page, listing = api.get("/ingest").get_data(as_text=True), api.get("/api/v1/ingest").get_json()
    assert "TOPSECRET" not in page and listing["jobs"]


def test_url_ingest_is_off_by_default(login, web_db):
    response = login("labeler").post_json("/api/v1/ingest", {"source": "https://example.org/face.jpg"})
    assert response.status_code == 403 and "turned off" in response.get_json()["error"]["message"]
    assert _no_jobs(web_db)


@pytest.fixture
def internal_server():
    """An "internal" HTTP service on 127.0.0.1 that records every request it gets."""
    seen: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            seen.append(self.path)
            self.send_response(200)
            self.send_header("Content-Length", str(len(PHOTO)))
            self.end_headers()
            self.wfile.write(PHOTO)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server.server_address[1], seen
    server.shutdown()
    server.server_close()


def test_with_url_ingest_on_internal_addresses_are_never_fetched(login, web_db, configure, start_worker,
                                                                 internal_server):  # fmt: skip
    port, seen = internal_server
    configure(PP_ALLOW_URL_INGEST="true")
    labeler = login("labeler")
    for literal in (f"http://127.0.0.1:{port}/face.jpg", "http://169.254.169.254/latest/meta-data/",
                    f"http://[::1]:{port}/face.jpg", f"http://localhost:{port}/face.jpg"):  # fmt: skip
        assert labeler.post_json("/api/v1/ingest", {"source": literal}).status_code == 403, literal
    assert _no_jobs(web_db)

    start_worker("input_worker.app", "ingest,extract")
    # 127.0.0.1 spelled as a host name: it passes the web's check and resolves to loopback in the worker
    response = labeler.post_json("/api/v1/ingest", {"source": f"http://2130706433:{port}/face.jpg"})
    assert response.status_code == 202
    progress = wait_for_job(web_db, response.get_json()["job_id"])

    [item] = jobs.items(web_db, progress.job.job_id)
    assert (item.outcome, item.reason) == (jobs.REJECTED, "download failed")  # no address, port or error text
    assert seen == []


MULTIPART = (
    b'--XyZ\r\nContent-Disposition: form-data; name="files"; filename="good.jpg"\r\n'
    b"Content-Type: image/jpeg\r\n\r\n" + PHOTO + b"\r\n"
    b'--XyZ\r\nContent-Disposition: form-data; name="files"; filename="evil\r\nX-Injected: 1.jpg"\r\n'
    b"Content-Type: image/jpeg\r\n\r\n" + PHOTO + b"\r\n"
    b'--XyZ\r\nContent-Disposition: form-data; name="files"; filename="bell\x07.jpg"\r\n'
    b"Content-Type: image/jpeg\r\n\r\n" + PHOTO + b"\r\n"
    b"--XyZ--\r\n"
)


def test_upload_names_with_line_breaks_or_control_characters_are_rejected_items(login, web_db, start_worker):
    api = login("labeler")
    start_worker("input_worker.app", "ingest,extract")
    response = api.client.post("/api/v1/ingest", data=MULTIPART, content_type="multipart/form-data; boundary=XyZ",
                               headers={"X-CSRF-Token": api.csrf})  # fmt: skip
    assert response.status_code == 202, response.get_json()
    job_id = response.get_json()["job_id"]
    staged = [e["locator"] for e in jobs.get(web_db, job_id).options["uploads"] if e["locator"]]

    progress = wait_for_job(web_db, job_id)

    assert (progress.counts["stored"], progress.counts["rejected"]) == (1, 2)
    reasons = sorted(item.reason for item in jobs.items(web_db, job_id) if item.outcome == jobs.REJECTED)
    assert "control characters (U+0007)" in reasons[0] and "could not be read" in reasons[1]
    assert len(staged) == 1 and not get_blob_store().exists(staged[0])  # the job ended: staged copy gone
