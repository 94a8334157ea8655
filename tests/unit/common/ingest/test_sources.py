"""The one decision on an ingest source (common.ingest.sources): kinds, allowlists, credentials, addresses."""

from __future__ import annotations

import base64
import ipaddress

import pytest
from pydantic import SecretStr

from common.infra.settings import Settings
from common.ingest.sources import (
    AZURE,
    FOLDER,
    UPLOAD,
    URL,
    SourceRefused,
    classify,
    decide,
    is_public_address,
    redact,
    user_options,
)

CONN = f"DefaultEndpointsProtocol=https;AccountName=acct;AccountKey={base64.b64encode(b'k').decode()}"


def refused(source: str, settings: Settings, **kwargs) -> SourceRefused:
    with pytest.raises(SourceRefused) as caught:
        decide(source, settings, **kwargs)
    return caught.value


def test_each_source_has_exactly_one_kind_and_odd_text_is_none():
    assert classify("/data/photos") == FOLDER
    assert classify("azurefiles://photos/trip") == AZURE
    assert classify("https://acct.file.core.windows.net/photos") == AZURE
    assert classify("https://example.org/a.jpg") == URL
    assert classify("upload:3 files from alice") == UPLOAD
    for odd in ("/x://../srv/private", "file:///etc/passwd", "ftp://example.org/a.jpg", "c:photos"):
        with pytest.raises(SourceRefused):
            classify(odd)


def test_folders_only_under_the_allowed_roots(tmp_path):
    (tmp_path / "allowed" / "sub").mkdir(parents=True)
    (tmp_path / "private").mkdir()
    (tmp_path / "allowed" / "link").symlink_to(tmp_path / "private")
    settings = Settings(allowed_ingest_roots=str(tmp_path / "allowed"))
    assert decide(str(tmp_path / "allowed" / "sub"), settings).value == str(tmp_path / "allowed" / "sub")
    assert refused(str(tmp_path / "private"), settings).status == 403
    assert refused(str(tmp_path / "allowed" / "link"), settings).status == 403  # resolved first
    assert refused(str(tmp_path / "allowed" / ".." / "private"), settings).status == 403
    assert refused("/x://../" + str(tmp_path / "allowed"), settings).status == 422
    assert refused("relative/path", settings).status == 422
    assert "PP_ALLOWED_INGEST_ROOTS is empty" in refused(str(tmp_path / "allowed"), Settings()).reason
    assert decide(str(tmp_path / "private"), Settings(), operator=True).kind == FOLDER  # the CLI


def test_azure_files_only_allowed_shares_of_the_configured_account_and_no_sas():
    settings = Settings(azure_files_connection_string=SecretStr(CONN), allowed_ingest_shares="photos, team/in")
    assert decide("azurefiles://photos", settings).value == "azurefiles://photos/"
    assert decide("https://ACCT.file.core.windows.net/photos/a%20b", settings).value == "azurefiles://photos/a%20b"
    assert decide("azurefiles://team/in/2024", settings).directory == "in/2024"
    assert "PP_ALLOWED_INGEST_SHARES" in refused("azurefiles://team/out", settings).reason
    assert "PP_ALLOWED_INGEST_SHARES" in refused("azurefiles://persona-pipeline/blobs", settings).reason
    assert "not the configured" in refused("https://other.file.core.windows.net/photos", settings).reason
    sas = refused("https://acct.file.core.windows.net/photos?sv=2024&sig=SECRET", settings)
    assert sas.status == 422 and "SECRET" not in sas.reason
    assert refused("azurefiles://photos/../team", settings).status == 422
    assert "CONNECTION_STRING" in refused("azurefiles://photos", Settings(allowed_ingest_shares="photos")).reason


def test_urls_off_by_default_and_never_with_credentials_or_private_literals():
    assert "turned off" in refused("https://example.org/a.jpg", Settings()).reason
    on = Settings(allow_url_ingest=True)
    assert decide("HTTPS://Example.org/a.jpg?w=100#x", on).value == "https://example.org/a.jpg?w=100"
    for bad in ("https://user:pw@example.org/a.jpg", "https://example.org/a.jpg?X-Amz-Signature=abc",
                "https://example.org/a.jpg?sig=abc", "https://example.org/a.jpg?access_token=abc",
                "http://127.0.0.1/a.jpg", "http://[::1]/a.jpg", "http://169.254.169.254/latest",
                "http://10.0.0.1/a.jpg", "http://localhost/a.jpg", "http://[fd00:ec2::254]/"):  # fmt: skip
        assert isinstance(refused(bad, on), SourceRefused), bad


@pytest.mark.parametrize(
    "address",
    ["127.0.0.1", "10.1.2.3", "172.16.0.1", "192.168.0.1", "169.254.169.254", "100.64.0.1", "0.0.0.0",
     "224.0.0.1", "255.255.255.255", "::1", "fe80::1", "fd00:ec2::254", "fc00::1", "ff02::1",
     "::ffff:127.0.0.1", "64:ff9b::a00:1", "2002:7f00:1::1", "::"],
)  # fmt: skip
def test_non_public_addresses(address):
    assert not is_public_address(ipaddress.ip_address(address))


def test_public_addresses():
    for address in ("8.8.8.8", "1.1.1.1", "2001:4860:4860::8888", "2606:4700:4700::1111"):
        assert is_public_address(ipaddress.ip_address(address)), address


def test_users_never_name_uploads_or_set_other_options():
    assert "uploading" in refused("upload:1 file from mallory", Settings()).reason
    assert decide("upload:1 file from alice", Settings(), staged_upload=True).kind == UPLOAD
    assert user_options({"detector": "dlib-hog"}) == {"detector": "dlib-hog"}
    for bad in ({"uploads": []}, {"operator": True}, "x"):
        with pytest.raises(SourceRefused):
            user_options(bad)


def test_redact_drops_user_info_and_query_of_older_rows():
    assert redact("https://u:p@acct.file.core.windows.net/s/d?sv=1&sig=x") == "https://acct.file.core.windows.net/s/d"
    assert redact("/data/photos") == "/data/photos"
