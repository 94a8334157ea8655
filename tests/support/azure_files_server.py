"""A local HTTP server answering the Azure Files REST calls our adapter makes.

Azurite does not emulate Azure Files, so the adapter (real azure-storage-file-share
SDK code) is tested against this server at the HTTP level. Responses follow the
documented shapes: Create Directory / Create File / Put Range (201), Get File
(200/206 with Content-Range), Get File Properties (HEAD), Delete File (202),
List Directories and Files (EnumerationResults XML), and error responses with
``x-ms-error-code`` (ResourceNotFound, ResourceAlreadyExists, ParentNotFound).
"""

from __future__ import annotations

import re
import threading
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, unquote, urlparse
from xml.sax.saxutils import escape

ACCOUNT = "devaccount"
KEY = "ZGV2LWtleS1ub3Qtc2VjcmV0LWRldi1rZXktbm90LXNlY3JldA=="


class AzureFilesState:
    def __init__(self) -> None:
        self.dirs: set[str] = {""}
        self.files: dict[str, bytearray] = {}
        self.requests: list[tuple[str, str]] = []


class _Handler(BaseHTTPRequestHandler):
    state: AzureFilesState
    protocol_version = "HTTP/1.1"

    def log_message(self, *args) -> None:  # quiet
        pass

    # path: /<account>/<share>/<path...>
    def _parse(self) -> tuple[str, dict[str, list[str]]]:
        url = urlparse(self.path)
        parts = unquote(url.path).strip("/").split("/")
        return "/".join(parts[2:]), parse_qs(url.query)

    def _reply(self, status: int, body: bytes = b"", headers: dict | None = None, error: str | None = None) -> None:
        if error:
            body = (
                f'<?xml version="1.0" encoding="utf-8"?><Error><Code>{error}</Code><Message>{error}</Message></Error>'
            ).encode()
        self.send_response(status)
        self.send_header("x-ms-request-id", "00000000-0000-0000-0000-000000000000")
        self.send_header("x-ms-version", self.headers.get("x-ms-version", "2025-05-05"))
        self.send_header("Date", formatdate(usegmt=True))
        if error:
            self.send_header("x-ms-error-code", error)
            self.send_header("Content-Type", "application/xml")
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _file_headers(self, path: str) -> dict:
        return {
            "ETag": '"0x8D0000000000001"',
            "Last-Modified": formatdate(usegmt=True),
            "x-ms-type": "File",
            "Content-Type": "application/octet-stream",
            "x-ms-server-encrypted": "true",
        }

    def do_PUT(self) -> None:
        path, query = self._parse()
        self.state.requests.append(("PUT", self.path))
        body = self._body()
        parent = path.rsplit("/", 1)[0] if "/" in path else ""
        if query.get("restype") == ["directory"]:
            if path in self.state.dirs:
                return self._reply(409, error="ResourceAlreadyExists")
            if parent not in self.state.dirs:
                return self._reply(404, error="ParentNotFound")
            self.state.dirs.add(path)
            return self._reply(201, headers={"ETag": '"0x1"', "Last-Modified": formatdate(usegmt=True)})
        if query.get("comp") == ["range"]:
            if path not in self.state.files:
                return self._reply(404, error="ResourceNotFound")
            match = re.match(r"bytes=(\d+)-(\d+)", self.headers.get("x-ms-range") or self.headers.get("Range", ""))
            start, end = int(match.group(1)), int(match.group(2))
            self.state.files[path][start : end + 1] = body
            return self._reply(201, headers={"ETag": '"0x2"', "Last-Modified": formatdate(usegmt=True)})
        if parent not in self.state.dirs:
            return self._reply(404, error="ParentNotFound")
        self.state.files[path] = bytearray(int(self.headers.get("x-ms-content-length", "0")))
        return self._reply(201, headers={"ETag": '"0x1"', "Last-Modified": formatdate(usegmt=True)})

    def do_HEAD(self) -> None:
        path, _ = self._parse()
        self.state.requests.append(("HEAD", self.path))
        if path not in self.state.files:
            return self._reply(404, error="ResourceNotFound")
        headers = self._file_headers(path)
        data = self.state.files[path]
        self.send_response(200)
        for key, value in headers.items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("x-ms-request-id", "0")
        self.end_headers()

    def do_GET(self) -> None:
        path, query = self._parse()
        self.state.requests.append(("GET", self.path))
        if query.get("comp") == ["list"]:
            return self._list(path)
        if path not in self.state.files:
            return self._reply(404, error="ResourceNotFound")
        data = bytes(self.state.files[path])
        rng = self.headers.get("x-ms-range") or self.headers.get("Range")
        headers = self._file_headers(path)
        if rng:
            match = re.match(r"bytes=(\d+)-(\d*)", rng)
            start = int(match.group(1))
            end = min(int(match.group(2)) if match.group(2) else len(data) - 1, len(data) - 1)
            headers["Content-Range"] = f"bytes {start}-{end}/{len(data)}"
            return self._reply(206, data[start : end + 1], headers)
        return self._reply(200, data, headers)

    def do_DELETE(self) -> None:
        path, _ = self._parse()
        self.state.requests.append(("DELETE", self.path))
        if self.state.files.pop(path, None) is None:
            return self._reply(404, error="ResourceNotFound")
        return self._reply(202)

    def _list(self, directory: str) -> None:
        if directory not in self.state.dirs:
            return self._reply(404, error="ResourceNotFound")
        prefix = f"{directory}/" if directory else ""
        entries = []
        for d in sorted(self.state.dirs):
            if d and d.startswith(prefix) and "/" not in d[len(prefix) :]:
                entries.append(f"<Directory><Name>{escape(d[len(prefix) :])}</Name><Properties/></Directory>")
        for f, data in sorted(self.state.files.items()):
            if f.startswith(prefix) and "/" not in f[len(prefix) :]:
                entries.append(
                    f"<File><Name>{escape(f[len(prefix) :])}</Name>"
                    f"<Properties><Content-Length>{len(data)}</Content-Length></Properties></File>"
                )
        body = (
            '<?xml version="1.0" encoding="utf-8"?>'
            f'<EnumerationResults ServiceEndpoint="http://{self.headers.get("Host")}/{ACCOUNT}/" '
            f'ShareName="share" DirectoryPath="{escape(directory)}">'
            f"<Entries>{''.join(entries)}</Entries><NextMarker /></EnumerationResults>"
        ).encode()
        return self._reply(200, body, {"Content-Type": "application/xml"})


class AzureFilesServer:
    """Context manager: ``with AzureFilesServer() as server: server.connection_string``."""

    def __init__(self) -> None:
        self.state = AzureFilesState()
        handler = type("Handler", (_Handler,), {"state": self.state})
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def connection_string(self) -> str:
        port = self.httpd.server_address[1]
        return (
            f"DefaultEndpointsProtocol=http;AccountName={ACCOUNT};AccountKey={KEY};"
            f"FileEndpoint=http://127.0.0.1:{port}/{ACCOUNT};"
        )

    def __enter__(self) -> AzureFilesServer:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
