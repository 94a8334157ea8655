"""Azure Files as an ingest source, at the HTTP transport level (the real azure-storage-file-share SDK,
scripted replies in the documented XML of List Directories and Files)."""

from __future__ import annotations

import base64
from urllib.parse import parse_qs, unquote, urlsplit

import pytest
from pydantic import SecretStr

from common.images import InvalidImage
from common.infra.settings import Settings
from common.ingest.sources import SourceRefused
from input_worker.azure_share import parse_share_url
from input_worker.sources import AZURE, discover, read_item, source_kind
from tests.unit.common.face_models.azure_transport import Reply, ScriptedTransport

KEY = base64.b64encode(b"not-a-real-key").decode()
CONN = f"DefaultEndpointsProtocol=https;AccountName=acct;AccountKey={KEY};EndpointSuffix=core.windows.net"

# share "photos": trip/a.jpg, trip/day2/b.png, trip/day2/deep/c.jpg (second page), trip/readme.txt
LISTINGS = {
    ("trip", ""): ("", [("File", "a.jpg", 11), ("Directory", "day2", None), ("File", "readme.txt", 5)]),
    ("trip/day2", ""): ("page2", [("File", "b.png", 22)]),
    ("trip/day2", "page2"): ("", [("Directory", "deep", None)]),
    ("trip/day2/deep", ""): ("", [("File", "c.jpg", 33)]),
}
FILES = {"trip/a.jpg": b"A" * 11, "trip/day2/b.png": b"B" * 22, "trip/day2/deep/c.jpg": b"C" * 33}


def listing_xml(directory: str, entries, next_marker: str) -> bytes:
    rows = []
    for kind, name, size in entries:
        if kind == "File":
            rows.append(
                f"<File><Name>{name}</Name><Properties><Content-Length>{size}</Content-Length></Properties></File>"
            )
        else:
            rows.append(f"<Directory><Name>{name}</Name><Properties /></Directory>")
    return (
        '<?xml version="1.0" encoding="utf-8"?>'
        f'<EnumerationResults ServiceEndpoint="https://acct.file.core.windows.net/" ShareName="photos" '
        f'DirectoryPath="{directory}"><Marker /><MaxResults>5000</MaxResults>'
        f"<Entries>{''.join(rows)}</Entries>"
        f"<NextMarker>{next_marker}</NextMarker></EnumerationResults>"
    ).encode()


def handler(request) -> Reply:
    url = urlsplit(request.url)
    query = parse_qs(url.query)
    path = unquote(url.path).removeprefix("/photos").strip("/")
    common = {"x-ms-version": "2025-05-05", "x-ms-request-id": "r1"}
    if query.get("comp") == ["list"]:
        marker = query.get("marker", [""])[0]
        next_marker, entries = LISTINGS[(path, marker)]
        return Reply(200, listing_xml(path, entries, next_marker), {"Content-Type": "application/xml", **common})
    if path not in FILES:
        return Reply(404, b"", {"x-ms-error-code": "ResourceNotFound", **common})
    body = FILES[path]
    props = {"x-ms-type": "File", "Content-Type": "application/octet-stream", "ETag": '"0x1"',
             "Last-Modified": "Mon, 24 Nov 2025 10:00:00 GMT", **common}  # fmt: skip
    if request.method == "HEAD":
        return Reply(200, b"", props, content_length=len(body))
    return Reply(206, body, {**props, "Content-Range": f"bytes 0-{len(body) - 1}/{len(body)}"})


def settings(shares: str = "photos") -> Settings:
    return Settings(azure_files_connection_string=SecretStr(CONN), max_image_bytes=30, allowed_ingest_shares=shares)


def test_share_urls_are_recognized_in_both_forms():
    assert source_kind("azurefiles://photos/trip") == AZURE
    assert source_kind("https://acct.file.core.windows.net/photos/trip?sv=1&sig=x") == AZURE
    assert parse_share_url("azurefiles://photos/trip/day2", settings()).directory == "trip/day2"
    location = parse_share_url("https://acct.file.core.windows.net/photos/trip", settings())
    assert (location.share, location.directory) == ("photos", "trip")


def test_only_allowed_shares_of_the_configured_account_without_credentials_are_opened():
    transport = ScriptedTransport(handler)
    refused = [
        ("azurefiles://photos/trip", settings(shares="")),  # nothing allowed
        ("azurefiles://persona-pipeline/blobs", settings()),  # the blob share: not listed
        ("azurefiles://photos/trip", settings(shares="photos/other")),  # outside the allowed prefix
        ("azurefiles://photos/other/../trip", settings(shares="photos/other")),
        ("https://elsewhere.file.core.windows.net/photos/trip", settings()),  # another account
        ("https://acct.file.core.windows.net/photos/trip?sv=1&sig=x", settings()),  # a SAS token
        ("azurefiles://photos/trip", Settings(allowed_ingest_shares="photos")),  # no connection string
    ]
    for source, config in refused:
        with pytest.raises(SourceRefused):
            list(discover(source, {}, config, transport=transport))
    assert transport.requests == []  # refused before the share was touched
    assert len(list(discover("azurefiles://photos/trip", {}, settings("photos/trip"), transport=transport))) == 4


def test_walk_lists_every_file_in_every_level_and_page():
    transport = ScriptedTransport(handler)
    items = list(discover("azurefiles://photos/trip", {}, settings(), transport=transport))
    assert sorted(item.key for item in items) == ["a.jpg", "day2/b.png", "day2/deep/c.jpg", "readme.txt"]
    sizes = {item.key: item.size for item in items}
    assert sizes["day2/deep/c.jpg"] == 33
    assert {item.locator for item in items} >= {"trip/a.jpg", "trip/day2/deep/c.jpg"}
    markers = [parse_qs(urlsplit(r.url).query).get("marker") for r in transport.requests]
    assert ["page2"] in markers  # the continuation page was fetched


def test_files_are_read_and_oversize_ones_refused_before_download():
    transport = ScriptedTransport(handler)
    items = {i.key: i for i in discover("azurefiles://photos/trip", {}, settings(), transport=transport)}
    data = read_item("azurefiles://photos/trip", items["day2/b.png"], settings(), transport=transport)
    assert data == FILES["trip/day2/b.png"]
    with pytest.raises(InvalidImage, match="too large"):
        read_item("azurefiles://photos/trip", items["day2/deep/c.jpg"], settings(), transport=transport)


def test_a_file_that_vanished_is_a_recorded_reason_not_a_crash():
    transport = ScriptedTransport(handler)
    items = {i.key: i for i in discover("azurefiles://photos/trip", {}, settings(), transport=transport)}
    with pytest.raises(InvalidImage, match="vanished"):
        read_item("azurefiles://photos/trip", items["readme.txt"], settings(), transport=transport)
