"""testdata upload: a labeled folder onto an Azure Files share through the project's adapter, resumable."""

from __future__ import annotations

from azure.storage.fileshare import ShareClient

from orchestration_driver.testdata import upload_folder
from tests.support.azure_files_server import AzureFilesServer


def test_upload_keeps_the_persona_folders_and_skips_what_is_there(tmp_path):
    for persona in ("alice", "bob"):
        (tmp_path / persona).mkdir()
        (tmp_path / persona / "a.png").write_bytes(b"\x89PNG" + persona.encode() * 10)
    (tmp_path / "expected.json").write_text("{}")
    with AzureFilesServer() as server:
        share = ShareClient.from_connection_string(server.connection_string, share_name="testdata")
        lines: list[str] = []
        assert upload_folder(share, "faces-small", tmp_path, lines.append) == 2
        assert sorted(server.state.files) == ["faces-small/alice/a.png", "faces-small/bob/a.png"]
        assert bytes(server.state.files["faces-small/bob/a.png"]) == b"\x89PNG" + b"bob" * 10
        assert upload_folder(share, "faces-small", tmp_path, lines.append) == 0  # a second run: nothing to send
        assert lines[-1] == "testdata: 0 uploaded, 2 already there (testdata/faces-small)"
