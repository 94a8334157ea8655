"""Folder and URL sources: every file is discovered once; special files and failures get a reason."""

from __future__ import annotations

import os
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from common.settings import Settings
from input_worker.sources import FOLDER, URL, discover, normalize_source, read_item, source_kind
from input_worker.validation import InvalidImage
from tests.unit.input_worker.sample_images import astronaut, encode, write_folder


def test_folder_walk_is_recursive_and_keys_are_relative(tmp_path):
    write_folder(tmp_path, {"a.jpg": b"1", "sub/b.jpg": b"22", "sub/deeper/c.png": b"333"})
    items = list(discover(str(tmp_path), {}, Settings()))
    assert [(i.key, i.size) for i in items] == [("a.jpg", 1), ("sub/b.jpg", 2), ("sub/deeper/c.png", 3)]
    assert read_item(str(tmp_path), items[2], Settings()) == b"333"


def test_symlinks_and_fifos_are_listed_with_a_reason_and_never_opened(tmp_path):
    write_folder(tmp_path, {"real.jpg": b"x"})
    os.symlink("/etc/passwd", tmp_path / "link.jpg")
    os.mkfifo(tmp_path / "pipe.jpg")
    items = {i.key: i for i in discover(str(tmp_path), {}, Settings())}
    assert items["link.jpg"].reason == "symbolic link (not followed)"
    assert items["pipe.jpg"].reason == "not a regular file"
    with pytest.raises(InvalidImage, match="not a regular file"):
        read_item(str(tmp_path), items["pipe.jpg"], Settings())  # would block forever if opened


def test_undecodable_file_names_become_printable_keys_but_still_read(tmp_path):
    raw = os.fsencode(tmp_path) + b"/caf\xe9.jpg"  # Latin-1 bytes, invalid UTF-8
    with open(raw, "wb") as fh:
        fh.write(b"data")
    [item] = discover(str(tmp_path), {}, Settings())
    assert item.key == "caf\ufffd.jpg"
    assert read_item(str(tmp_path), item, Settings()) == b"data"


def test_a_missing_folder_is_an_error_for_the_job(tmp_path):
    with pytest.raises(FileNotFoundError):
        list(discover(str(tmp_path / "nope"), {}, Settings()))


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


def test_an_image_url_is_one_item_downloaded_within_the_size_cap(http_server):
    base, body = http_server
    source = f"{base}/astronaut.jpg"
    assert source_kind(source) == URL
    [item] = discover(source, {}, Settings())
    assert item.name == "astronaut.jpg"
    assert read_item(source, item, Settings()) == body
    with pytest.raises(InvalidImage, match="too large"):
        read_item(source, item, Settings(max_image_bytes=1000))


def test_a_broken_url_is_a_reason_not_a_crash(http_server):
    base, _ = http_server
    source = f"{base}/missing.jpg"
    [item] = discover(source, {}, Settings())
    with pytest.raises(InvalidImage, match="HTTP 404"):
        read_item(source, item, Settings())
