"""Folder and URL sources: every file is discovered once; special files and failures get a reason; nothing
outside the folder is listed or read, and URL ingest is off unless turned on."""

from __future__ import annotations

import os
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from common.images import InvalidImage
from common.infra.settings import Settings
from common.ingest.sources import OPERATOR, SourceRefused
from input_worker.sources import FOLDER, URL, discover, normalize_source, read_item, source_kind
from tests.unit.input_worker.sample_images import astronaut, encode, write_folder

OP = {OPERATOR: True}  # a job the operator's CLI started: no allowed roots needed


def test_folder_walk_is_recursive_and_keys_are_relative(tmp_path):
    write_folder(tmp_path, {"a.jpg": b"1", "sub/b.jpg": b"22", "sub/deeper/c.png": b"333"})
    items = list(discover(str(tmp_path), OP, Settings()))
    assert [(i.key, i.size) for i in items] == [("a.jpg", 1), ("sub/b.jpg", 2), ("sub/deeper/c.png", 3)]
    assert read_item(str(tmp_path), items[2], Settings()) == b"333"


def test_symlinks_and_fifos_are_listed_with_a_reason_and_never_opened(tmp_path):
    write_folder(tmp_path, {"real.jpg": b"x"})
    os.symlink("/etc/passwd", tmp_path / "link.jpg")
    os.mkfifo(tmp_path / "pipe.jpg")
    items = {i.key: i for i in discover(str(tmp_path), OP, Settings())}
    assert items["link.jpg"].reason == "symbolic link (not followed)"
    assert items["pipe.jpg"].reason == "not a regular file"
    with pytest.raises(InvalidImage, match="not a regular file"):
        read_item(str(tmp_path), items["pipe.jpg"], Settings())  # would block forever if opened


def test_undecodable_file_names_become_printable_keys_but_still_read(tmp_path):
    raw = os.fsencode(tmp_path) + b"/caf\xe9.jpg"  # Latin-1 bytes, invalid UTF-8
    with open(raw, "wb") as fh:
        fh.write(b"data")
    [item] = discover(str(tmp_path), OP, Settings())
    assert item.key == "caf\ufffd.jpg"
    assert read_item(str(tmp_path), item, Settings()) == b"data"


def test_a_missing_folder_is_an_error_for_the_job(tmp_path):
    with pytest.raises(FileNotFoundError):
        list(discover(str(tmp_path / "nope"), OP, Settings()))


def test_relative_paths_are_made_absolute_for_workers(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert normalize_source("photos") == str(tmp_path / "photos")
    assert source_kind("photos") == FOLDER


@pytest.fixture
def http_server():
    body = encode(astronaut())

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            if self.path == "/astronaut.jpg":
                self.send_response(200)
                self.send_header("Content-Type", "image/jpeg")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
            else:
                self.send_error(404)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", body
    server.shutdown()
    server.server_close()


def test_url_ingest_is_off_unless_turned_on(http_server):
    base, _ = http_server
    with pytest.raises(SourceRefused, match="turned off"):
        list(discover(f"{base}/astronaut.jpg", {}, Settings()))


def test_a_url_on_a_private_address_is_one_item_that_fails_with_a_generic_reason(http_server):
    base, _ = http_server
    source = f"{base.replace('127.0.0.1', '2130706433')}/astronaut.jpg"  # 127.0.0.1 spelled as a name
    settings = Settings(allow_url_ingest=True)
    [item] = discover(source, {}, settings)
    assert source_kind(source) == URL and item.name == "astronaut.jpg"
    with pytest.raises(InvalidImage) as refused:
        read_item(source, item, settings)
    assert refused.value.reason == "download failed"  # never which address, port or error


def test_a_literal_private_address_is_refused_before_any_job(http_server):
    base, _ = http_server
    with pytest.raises(SourceRefused, match="not public"):
        list(discover(f"{base}/astronaut.jpg", {}, Settings(allow_url_ingest=True)))


def test_a_folder_outside_the_allowed_roots_is_refused_in_the_worker_too(tmp_path):
    write_folder(tmp_path, {"a.jpg": b"1"})
    with pytest.raises(SourceRefused, match="PP_ALLOWED_INGEST_ROOTS"):
        list(discover(str(tmp_path), {}, Settings()))
    allowed = Settings(allowed_ingest_roots=str(tmp_path))
    assert [item.key for item in discover(str(tmp_path), {}, allowed)] == ["a.jpg"]


def test_a_symlinked_directory_is_listed_with_a_reason_and_not_entered(tmp_path):
    secret = tmp_path / "private"
    write_folder(secret, {"secret.jpg": b"s"})
    root = tmp_path / "root"
    write_folder(root, {"ok.jpg": b"1"})
    os.symlink(secret, root / "link")
    items = {i.key: i for i in discover(str(root), {}, Settings(allowed_ingest_roots=str(root)))}
    assert set(items) == {"ok.jpg", "link"} and items["link"].reason == "symbolic link (not followed)"


def test_a_directory_swapped_for_a_symlink_after_listing_is_not_read(tmp_path):
    secret = tmp_path / "private"
    write_folder(secret, {"a.jpg": b"secret"})
    root = tmp_path / "root"
    write_folder(root, {"sub/a.jpg": b"mine"})
    [item] = discover(str(root), {}, Settings(allowed_ingest_roots=str(root)))
    (root / "sub" / "a.jpg").unlink()
    (root / "sub").rmdir()
    os.symlink(secret, root / "sub")  # the path now leads to the private folder
    with pytest.raises(InvalidImage, match="outside the ingest folder"):
        read_item(str(root), item, Settings())


def test_a_source_folder_that_became_a_symlink_is_refused(tmp_path):
    secret = tmp_path / "private"
    write_folder(secret, {"a.jpg": b"secret"})
    allowed = tmp_path / "allowed"
    allowed.mkdir()
    source = allowed / "photos"
    os.symlink(secret, source)  # the job was created for a real folder that was swapped since
    with pytest.raises(SourceRefused):
        list(discover(str(source), {}, Settings(allowed_ingest_roots=str(allowed))))
