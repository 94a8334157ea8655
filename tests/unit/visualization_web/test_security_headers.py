"""Every response carries the security headers once; a view's own Cache-Control is kept."""

from __future__ import annotations

from flask import Response

from visualization_web.app import SECURITY_HEADERS, _security_headers


def test_a_plain_response_gets_each_security_header_once():
    headers = _security_headers(Response("page")).headers
    for name, value in SECURITY_HEADERS:
        assert headers.getlist(name) == [value], name
    assert headers["Cache-Control"] == "no-store"


def test_headers_a_view_set_are_kept_whatever_their_case():
    response = Response("blob", headers={"cache-control": "private, max-age=31536000, immutable"})
    headers = _security_headers(response).headers
    assert headers.getlist("Cache-Control") == ["private, max-age=31536000, immutable"]
    assert headers["X-Frame-Options"] == "DENY"
