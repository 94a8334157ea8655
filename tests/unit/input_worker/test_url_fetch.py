"""The URL fetcher against a real HTTP server on 127.0.0.1: address checks on every hop, the connection
pinned to the checked address, bounded redirects, one overall deadline and a byte cap.

Only these tests reach 127.0.0.1, through the ``address_allowed`` parameter (no setting enables it)."""

from __future__ import annotations

import contextlib
import ipaddress
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from input_worker import url_fetch
from input_worker.url_fetch import FetchFailed, TooLarge, fetch

LOOPBACK_ONLY = ipaddress.ip_address("127.0.0.1").__eq__


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    routes: dict = {}

    def do_GET(self):
        self.server.seen.append((self.path, self.headers.get("Host")))
        route = self.routes.get(self.path.split("?")[0])
        if route is None:
            self.send_error(404)
            return
        route(self)

    def log_message(self, *args):
        pass


def _reply(body: bytes, length: bool = True):
    def send(handler):
        handler.send_response(200)
        if length:
            handler.send_header("Content-Length", str(len(body)))
        else:
            handler.send_header("Connection", "close")
        handler.end_headers()
        handler.wfile.write(body)
        handler.close_connection = True

    return send


def _redirect(location: str, status: int = 302):
    def send(handler):
        handler.send_response(status)
        handler.send_header("Location", location)
        handler.send_header("Content-Length", "0")
        handler.end_headers()

    return send


def _drip(handler):
    handler.send_response(200)
    handler.send_header("Content-Length", "1000")
    handler.end_headers()
    with contextlib.suppress(OSError):  # the client hangs up at its deadline
        for _ in range(1000):
            handler.wfile.write(b"x")
            handler.wfile.flush()
            time.sleep(0.1)


def _silent(handler):
    time.sleep(5)


@pytest.fixture
def server():
    srv = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    srv.daemon_threads = True
    srv.seen = []
    base = f"http://127.0.0.1:{srv.server_address[1]}"
    Handler.routes = {
        "/image.jpg": _reply(b"JPEG" * 10),
        "/host": lambda h: _reply(h.headers.get("Host", "").encode())(h),
        "/big": _reply(b"x" * 5000),
        "/big-unannounced": _reply(b"x" * 5000, length=False),
        "/hop": _redirect("/image.jpg"),
        "/loop": _redirect("/loop", 301),
        "/to-ftp": _redirect("ftp://127.0.0.1/image.jpg"),
        "/to-metadata": _redirect("http://169.254.169.254/latest/meta-data/"),
        "/to-private": _redirect("http://10.0.0.7/image.jpg", 307),
        "/to-name": _redirect("http://internal.example/image.jpg"),
        "/drip": _drip,
        "/silent": _silent,
    }
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    yield srv, base
    srv.shutdown()
    srv.server_close()


def test_by_default_a_loopback_address_is_never_connected_to(server):
    srv, base = server
    with pytest.raises(FetchFailed, match="not a public address"):
        fetch(f"{base}/image.jpg", 1000)
    assert srv.seen == []


def test_a_public_looking_name_resolving_to_loopback_is_refused(server):
    srv, _ = server
    port = srv.server_address[1]
    with pytest.raises(FetchFailed, match="not a public address"):
        fetch(f"http://images.example:{port}/image.jpg", 1000, resolver=lambda host, p: ["127.0.0.1"])
    with pytest.raises(FetchFailed, match="not a public address"):  # one bad address of several is enough
        fetch(f"http://images.example:{port}/image.jpg", 1000, resolver=lambda host, p: ["8.8.8.8", "10.1.2.3"])
    assert srv.seen == []


def test_the_connection_goes_to_the_checked_address_with_the_name_as_host(server):
    srv, _ = server
    port = srv.server_address[1]
    body = fetch(f"http://images.example:{port}/host", 1000, address_allowed=LOOPBACK_ONLY,
                 resolver=lambda host, p: ["127.0.0.1"])  # fmt: skip
    assert body == f"images.example:{port}".encode()  # resolved once, connected to 127.0.0.1, Host kept


def test_redirects_are_followed_and_each_hop_is_checked(server):
    srv, base = server
    assert fetch(f"{base}/hop", 1000, address_allowed=LOOPBACK_ONLY) == b"JPEG" * 10
    for path, why in [("/to-metadata", "not a public address"), ("/to-private", "not a public address"),
                      ("/to-ftp", "not http"), ("/loop", "redirects")]:  # fmt: skip
        srv.seen.clear()
        with pytest.raises(FetchFailed, match=why):
            fetch(f"{base}{path}", 1000, address_allowed=LOOPBACK_ONLY)
    assert len(srv.seen) == url_fetch.MAX_REDIRECTS + 1  # the loop: bounded


def test_a_redirect_to_a_name_is_resolved_and_checked_again(server):
    _, base = server
    resolved = []

    def resolver(host, port):
        resolved.append(host)
        return ["127.0.0.1"] if host == "127.0.0.1" else ["192.168.1.20"]

    with pytest.raises(FetchFailed, match=r"192\.168\.1\.20"):
        fetch(f"{base}/to-name", 1000, address_allowed=LOOPBACK_ONLY, resolver=resolver)
    assert resolved == ["127.0.0.1", "internal.example"]


def test_one_deadline_bounds_the_whole_download_not_each_read(server):
    _, base = server
    for path in ("/drip", "/silent"):
        started = time.monotonic()
        with pytest.raises(FetchFailed, match="deadline"):
            fetch(f"{base}{path}", 10_000, address_allowed=LOOPBACK_ONLY, deadline_seconds=1.0)
        assert time.monotonic() - started < 2.0, path


def test_the_byte_cap_holds_with_and_without_a_content_length(server):
    _, base = server
    for path in ("/big", "/big-unannounced"):
        with pytest.raises(TooLarge, match="too large"):
            fetch(f"{base}{path}", 1000, address_allowed=LOOPBACK_ONLY)
    assert len(fetch(f"{base}/big", 5000, address_allowed=LOOPBACK_ONLY)) == 5000


def test_proxy_variables_are_ignored(server, monkeypatch):
    _, base = server
    for name in ("http_proxy", "HTTP_PROXY", "https_proxy", "all_proxy"):
        monkeypatch.setenv(name, "http://127.0.0.1:9")  # nothing listens there
    assert fetch(f"{base}/image.jpg", 1000, address_allowed=LOOPBACK_ONLY) == b"JPEG" * 10


def test_http_errors_and_unresolvable_names_fail(server):
    _, base = server
    with pytest.raises(FetchFailed, match="HTTP 404"):
        fetch(f"{base}/missing", 1000, address_allowed=LOOPBACK_ONLY)
    with pytest.raises(FetchFailed, match="cannot resolve"):
        fetch("http://no-such-host.invalid/a.jpg", 1000)
