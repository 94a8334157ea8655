"""Blob storage: one interface (``BlobStore``), a local filesystem store and Azure Files."""

from __future__ import annotations

from functools import lru_cache

from common.infra.settings import Settings, StorageBackend, get_settings
from common.storage.base import BlobNotFound, BlobStore, InvalidKey, content_key, sha256_hex
from common.storage.local import LocalBlobStore


def build_blob_store(settings: Settings) -> BlobStore:
    if settings.storage_backend is StorageBackend.azure_files:
        from common.storage.azure_files import AzureFilesBlobStore  # the Azure SDK: only for this backend

        if settings.azure_files_connection_string is None:
            raise ValueError("PP_AZURE_FILES_CONNECTION_STRING is required for the azure-files backend")
        return AzureFilesBlobStore.from_connection_string(
            settings.azure_files_connection_string.get_secret_value(),
            settings.azure_files_share,
            settings.azure_files_prefix,
        )
    return LocalBlobStore(settings.blob_root)


@lru_cache(maxsize=1)
def get_blob_store() -> BlobStore:
    return build_blob_store(get_settings())


__all__ = ["BlobNotFound", "BlobStore", "InvalidKey", "build_blob_store", "content_key", "get_blob_store", "sha256_hex"]
