"""An azure-core HttpTransport that answers from a script: the Azure SDKs run for real, only the wire is fake."""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass, field

import requests
import urllib3
from azure.core.pipeline.transport import HttpTransport
from azure.core.rest._requests_basic import RestRequestsTransportResponse
from requests.structures import CaseInsensitiveDict


@dataclass
class Reply:
    status: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    content_length: int | None = None  # for HEAD: the size of the body not sent


def make_response(request, reply: Reply) -> RestRequestsTransportResponse:
    raw = requests.Response()
    raw.status_code = reply.status
    length = reply.content_length if reply.content_length is not None else len(reply.body)
    headers = {"Content-Length": str(length), **reply.headers}
    raw.raw = urllib3.HTTPResponse(body=io.BytesIO(reply.body), status=reply.status, preload_content=False)
    raw.headers = CaseInsensitiveDict(headers)
    raw.reason = {200: "OK", 201: "Created", 206: "Partial Content", 429: "Too Many Requests"}.get(reply.status, "")
    raw.url = request.url
    response = RestRequestsTransportResponse(request=request, internal_response=raw)
    response.read()
    return response


class ScriptedTransport(HttpTransport):
    """Each request is recorded and answered by ``handler(request) -> Reply``."""

    def __init__(self, handler: Callable[[object], Reply]):
        self.handler = handler
        self.requests: list = []

    def send(self, request, **kwargs):
        self.requests.append(request)
        return make_response(request, self.handler(request))

    def open(self) -> None:
        pass

    def close(self) -> None:
        pass

    def __enter__(self):
        return self

    def __exit__(self, *args) -> None:
        pass
