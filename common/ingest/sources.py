"""The one decision on an ingest source: which kind it is, and whether it may be ingested.

The web app calls :func:`decide` before it creates a job (a refusal is a 4xx with the reason, never a job);
the input worker calls it again before it lists or reads anything, so a job row written some other way gets
the same answer. Each kind has its own allowlist:

- a **folder** must lie under ``PP_ALLOWED_INGEST_ROOTS`` (resolved; empty: no folder ingest from the web).
  The operator's CLI (``persona-pipeline ingest``) is not bound by it: its jobs carry :data:`OPERATOR`;
- an **Azure Files** path (``azurefiles://share/dir`` or ``https://<account>.file.core.windows.net/share/dir``)
  must name a share (and directory) in ``PP_ALLOWED_INGEST_SHARES`` of the account of
  ``PP_AZURE_FILES_CONNECTION_STRING``, which is the only credential: a URL carrying one is refused;
- an **http(s) URL** needs ``PP_ALLOW_URL_INGEST``; it must not carry a user name, password or a
  credential-like query parameter; the addresses it resolves to are checked when it is fetched
  (``input_worker.url_fetch``);
- an **upload** (``upload:…``) is created only by the upload path (:func:`common.ingest.requests.start_upload_ingest`).

Refusing credentials (rather than stripping them) means none is ever saved in a job or image row, shown
or logged: the source that is saved is the canonical, credential-free text :func:`decide` returns.
"""

from __future__ import annotations

import ipaddress
import os
import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qsl, quote, unquote, urlsplit, urlunsplit

from common.infra.settings import Settings

FOLDER, AZURE, URL, UPLOAD = "folder", "azure-files", "url", "upload"
UPLOAD_SOURCE = "upload:"
OPERATOR = "operator"  # job option: started by the operator's CLI, not bound by PP_ALLOWED_INGEST_ROOTS
USER_OPTIONS = frozenset({"detector", "labels_from_folders"})  # the only options a web request may set
MAX_SOURCE_CHARS = 1024

_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*)://")
_SHARE = re.compile(r"[a-z0-9](?:[a-z0-9]|-(?=[a-z0-9])){2,62}")
_AZURE_HOST = ".file.core.windows.net"
# Azure SAS fields and other credential-bearing query parameter names
_SAS_PARAMS = frozenset("sig se st sv sp sr ss srt spr si skoid sktid skt ske sks skv code key pass pwd".split())  # noqa: SIM905
_CREDENTIAL_WORDS = re.compile(
    r"signature|token|secret|passw|credential|api_?key|access_?key|auth|x-amz-|x-goog-", re.IGNORECASE
)
_METADATA = {ipaddress.ip_address("169.254.169.254"), ipaddress.ip_address("fd00:ec2::254")}


class SourceRefused(ValueError):
    """The source may not be ingested; ``reason`` says why (safe to show), ``status`` is the HTTP answer."""

    def __init__(self, reason: str, status: int = 403):
        super().__init__(reason)
        self.reason = reason
        self.status = status


@dataclass(frozen=True)
class Source:
    """An allowed source: its kind and the canonical, credential-free text saved with the job."""

    kind: str
    value: str
    share: str = ""  # Azure Files
    directory: str = ""  # Azure Files: path inside the share


def classify(source: str) -> str:
    """The kind of ``source``; text that is none of them is refused (``/x://../y`` is not a folder)."""
    if source.startswith(UPLOAD_SOURCE):
        return UPLOAD
    scheme = _SCHEME.match(source)
    if scheme:
        name = scheme.group(1).lower()
        if name == "azurefiles":
            return AZURE
        if name == "https" and (urlsplit(source).hostname or "").endswith(_AZURE_HOST):
            return AZURE
        if name in ("http", "https"):
            return URL
        raise SourceRefused(f"unsupported source scheme {name!r}: use a folder, azurefiles:// or http(s)://", 422)
    if "://" in source or (not source.startswith(("/", "~")) and ":" in source.split("/", 1)[0]):
        raise SourceRefused("source is neither a folder path nor a supported URL", 422)
    return FOLDER


def decide(source: str, settings: Settings, *, operator: bool = False, staged_upload: bool = False) -> Source:
    """Allow ``source`` (returning its canonical form) or raise :class:`SourceRefused`.

    ``operator``: a job started by the operator's CLI (folders need not be under the allowed roots).
    ``staged_upload``: the caller is the upload path or the worker reading its job (users never name uploads).
    """
    source = (source or "").strip()
    if not source:
        raise SourceRefused("source must name a folder, an Azure Files path or an image URL", 422)
    if len(source) > MAX_SOURCE_CHARS or any(unicodedata.category(ch) == "Cc" for ch in source):
        raise SourceRefused("source is not a valid path or URL", 422)
    kind = classify(source)
    if kind == UPLOAD:
        if not staged_upload:
            raise SourceRefused("uploads are started by uploading files, not by naming them", 422)
        return Source(UPLOAD, source)
    if kind == FOLDER:
        return _folder(source, settings, operator)
    if kind == AZURE:
        return _azure(source, settings)
    return _url(source, settings)


def user_options(options: object) -> dict:
    """The options a web request may set; anything else (upload locators, the operator flag) is refused."""
    if options is None:
        return {}
    if not isinstance(options, dict):
        raise SourceRefused("options must be an object", 422)
    unknown = sorted(str(key) for key in options if key not in USER_OPTIONS)
    if unknown:
        raise SourceRefused(f"options not accepted: {', '.join(unknown)[:200]}", 422)
    return dict(options)


def within(path: str | Path, root: str | Path) -> bool:
    """True when ``path`` is ``root`` or below it (both already resolved)."""
    path, root = Path(path), Path(root)
    return path == root or root in path.parents


def _folder(source: str, settings: Settings, operator: bool) -> Source:
    path = Path(source).expanduser() if operator else Path(source)
    if not path.is_absolute() and not operator:
        raise SourceRefused("a folder must be an absolute path", 422)
    resolved = Path(os.path.realpath(path))
    if not operator:
        roots = settings.ingest_roots
        if not roots:
            raise SourceRefused("folder ingest from the web is off: PP_ALLOWED_INGEST_ROOTS is empty")
        if not any(within(resolved, root) for root in roots):
            raise SourceRefused("this folder is not in PP_ALLOWED_INGEST_ROOTS")
    return Source(FOLDER, str(resolved))


def configured_account(settings: Settings) -> str | None:
    """The account name of ``PP_AZURE_FILES_CONNECTION_STRING`` (lowercase), or None."""
    if settings.azure_files_connection_string is None:
        return None
    for part in settings.azure_files_connection_string.get_secret_value().split(";"):
        name, _, value = part.partition("=")
        if name.strip().lower() == "accountname" and value.strip():
            return value.strip().lower()
    return None


def allowed_shares(settings: Settings) -> list[tuple[str, tuple[str, ...]]]:
    """``PP_ALLOWED_INGEST_SHARES`` as (share, directory segments) pairs."""
    entries = []
    for raw in settings.allowed_ingest_shares.split(","):
        share, _, prefix = raw.strip().strip("/").partition("/")
        if share:
            entries.append((share.lower(), tuple(p for p in prefix.split("/") if p)))
    return entries


def _azure(source: str, settings: Settings) -> Source:
    parts = urlsplit(source)
    if parts.username is not None or parts.password is not None or parts.query or parts.fragment:
        raise SourceRefused(
            "Azure Files paths carry no credentials or query (no SAS token): "
            "ingest uses the configured connection string",
            422,
        )
    account = configured_account(settings)
    if account is None:
        raise SourceRefused("Azure Files ingest needs PP_AZURE_FILES_CONNECTION_STRING")
    if parts.scheme.lower() == "azurefiles":
        share, path = parts.netloc, parts.path
    else:
        host = (parts.hostname or "").lower()
        if parts.port not in (None, 443) or host != f"{account}{_AZURE_HOST}":
            raise SourceRefused("this Azure Files account is not the configured one")
        share, _, path = parts.path.lstrip("/").partition("/")
    share = unquote(share).lower()
    if not _SHARE.fullmatch(share):
        raise SourceRefused("not a valid Azure Files share name (expected azurefiles://<share>/<dir>)", 422)
    segments = tuple(s for s in unquote(path).split("/") if s)
    if any(s in (".", "..") or any(unicodedata.category(ch) == "Cc" for ch in s) for s in segments):
        raise SourceRefused("not a valid directory inside the share", 422)
    if not any(share == allowed and segments[: len(prefix)] == prefix for allowed, prefix in allowed_shares(settings)):
        raise SourceRefused("this Azure Files share or directory is not in PP_ALLOWED_INGEST_SHARES")
    directory = "/".join(segments)
    return Source(AZURE, f"azurefiles://{share}/{quote(directory, safe='/')}", share, directory)


def _url(source: str, settings: Settings) -> Source:
    if not settings.allow_url_ingest:
        raise SourceRefused("URL ingest is turned off (PP_ALLOW_URL_INGEST)")
    parts = urlsplit(source)
    if parts.username is not None or parts.password is not None:
        raise SourceRefused("the URL must not carry a user name or password", 422)
    if any(credential_param(name) for name, _ in parse_qsl(parts.query, keep_blank_values=True)):
        raise SourceRefused("the URL must not carry credentials (a token, key or signature in its query)", 422)
    host = (parts.hostname or "").lower()
    if not host:
        raise SourceRefused("the URL has no host", 422)
    try:
        port = parts.port
    except ValueError:
        raise SourceRefused("the URL has an invalid port", 422) from None
    if not public_host_literal(host):
        raise SourceRefused("the URL names an address that is not public")
    netloc = f"[{host}]" if ":" in host else host
    if port is not None:
        netloc = f"{netloc}:{port}"
    return Source(URL, urlunsplit((parts.scheme.lower(), netloc, parts.path or "/", parts.query, "")))


def credential_param(name: str) -> bool:
    """True for query parameter names that carry credentials (SAS fields, tokens, keys, signatures)."""
    return name.lower() in _SAS_PARAMS or bool(_CREDENTIAL_WORDS.search(name))


def public_host_literal(host: str) -> bool:
    """False for ``localhost`` names and literal addresses that are not public; names are checked on fetch."""
    if host == "localhost" or host.endswith((".localhost", ".local", ".internal")):
        return False
    try:
        return is_public_address(ipaddress.ip_address(host))
    except ValueError:
        return True


def is_public_address(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    """A globally routable unicast address: never loopback, private, link-local, ULA, shared, multicast,
    reserved, unspecified or a cloud metadata address; IPv6 forms that embed an IPv4 address are judged by it."""
    if isinstance(ip, ipaddress.IPv6Address):
        embedded = ip.ipv4_mapped or ip.sixtofour or (ip.teredo[1] if ip.teredo else None)
        if embedded is None and ip in ipaddress.ip_network("64:ff9b::/96"):
            embedded = ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
        if embedded is not None and not is_public_address(embedded):
            return False
    return ip.is_global and not ip.is_multicast and not ip.is_reserved and ip not in _METADATA


def redact(source: str) -> str:
    """``source`` with any user info and query removed, for showing sources saved before these checks."""
    if not _SCHEME.match(source or ""):
        return source
    parts = urlsplit(source)
    return urlunsplit((parts.scheme, parts.netloc.rpartition("@")[2], parts.path, "", ""))
