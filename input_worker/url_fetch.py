"""Download one image URL without letting it reach inside the network (SSRF).

Every hop (the URL and each redirect) is checked the same way: http or https only, no user info, every
address the host resolves to public (:func:`common.ingest.sources.is_public_address`), and the connection
is made to that checked address (the name only goes into the Host header and TLS SNI, so a second DNS
answer cannot swap in another address). At most :data:`MAX_REDIRECTS` redirects; one deadline for the
whole download (resolution, connects, headers and body: a watchdog closes the socket when it passes) and a
byte cap. Proxy variables are never read (``http.client`` has no proxy support).

Callers show people only :data:`GENERIC_REASON`; :class:`FetchFailed` carries the detail for the log, so the
reasons never tell a viewer which internal hosts or ports exist.
"""

from __future__ import annotations

import contextlib
import http.client
import ipaddress
import socket
import ssl
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from urllib.parse import urljoin, urlsplit

from common.ingest.sources import is_public_address

MAX_REDIRECTS = 5
DEADLINE_SECONDS = 30.0
GENERIC_REASON = "download failed"
_REDIRECTS = (301, 302, 303, 307, 308)
_CHUNK = 64 * 1024

AddressCheck = Callable[[ipaddress.IPv4Address | ipaddress.IPv6Address], bool]
Resolver = Callable[[str, int], list[str]]


class FetchFailed(Exception):
    """The download did not succeed; ``str(exc)`` is the detail for the worker log, not for viewers."""


class TooLarge(FetchFailed):
    """The body is larger than the cap (a reason about the content, which may be shown)."""


def resolve(host: str, port: int) -> list[str]:
    """Every address ``host`` resolves to (TCP)."""
    return sorted({info[4][0] for info in socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)})


def fetch(
    url: str,
    max_bytes: int,
    *,
    deadline_seconds: float = DEADLINE_SECONDS,
    max_redirects: int = MAX_REDIRECTS,
    address_allowed: AddressCheck = is_public_address,
    resolver: Resolver = resolve,
) -> bytes:
    """The body of ``url`` (after at most ``max_redirects`` checked redirects), at most ``max_bytes``.

    ``address_allowed`` decides which resolved addresses may be connected to; only tests pass anything but
    the default (to reach a server on 127.0.0.1).
    """
    deadline = time.monotonic() + deadline_seconds
    for _hop in range(max_redirects + 1):
        status, location, body = _get_once(url, max_bytes, deadline, address_allowed, resolver)
        if status in _REDIRECTS:
            if not location:
                raise FetchFailed(f"HTTP {status} without a Location from {url}")
            url = urljoin(url, location)
            continue
        if status != 200:
            raise FetchFailed(f"HTTP {status} from {url}")
        return body
    raise FetchFailed(f"more than {max_redirects} redirects")


def _remaining(deadline: float) -> float:
    left = deadline - time.monotonic()
    if left <= 0:
        raise FetchFailed("deadline passed")
    return left


def _checked_address(host: str, port: int, deadline: float, allowed: AddressCheck, resolver: Resolver) -> str:
    """The first address of ``host``, once every address it resolves to is allowed."""
    pool = ThreadPoolExecutor(max_workers=1)  # the resolver has no timeout of its own: never wait for it
    try:
        addresses = pool.submit(resolver, host, port).result(timeout=_remaining(deadline))
    except FutureTimeout:
        raise FetchFailed(f"resolving {host} outlasted the deadline") from None
    except (OSError, UnicodeError) as exc:
        raise FetchFailed(f"cannot resolve {host}: {exc}") from None
    finally:
        pool.shutdown(wait=False, cancel_futures=True)
    if not addresses:
        raise FetchFailed(f"{host} has no address")
    for address in addresses:
        if not allowed(ipaddress.ip_address(address.split("%", 1)[0])):
            raise FetchFailed(f"{host} resolves to {address}, which is not a public address")
    return addresses[0]


class _PinnedHTTP(http.client.HTTPConnection):
    """An HTTP connection to a checked address; ``host`` is sent as the Host header."""

    def __init__(self, host: str, port: int, address: str, timeout: float):
        super().__init__(host, port, timeout=timeout)
        self.address = address

    def connect(self) -> None:
        self.sock = socket.create_connection((self.address, self.port), self.timeout)


class _PinnedHTTPS(http.client.HTTPSConnection):
    """An HTTPS connection to a checked address; the certificate is verified for ``host`` (SNI too)."""

    def __init__(self, host: str, port: int, address: str, timeout: float):
        super().__init__(host, port, timeout=timeout, context=ssl.create_default_context())
        self.address = address

    def connect(self) -> None:
        sock = socket.create_connection((self.address, self.port), self.timeout)
        self.sock = self._context.wrap_socket(sock, server_hostname=self.host)


def _get_once(
    url: str, max_bytes: int, deadline: float, allowed: AddressCheck, resolver: Resolver
) -> tuple[int, str | None, bytes]:
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        raise FetchFailed(f"scheme {scheme!r} is not http(s)")
    if parts.username is not None or parts.password is not None or not parts.hostname:
        raise FetchFailed("URL with user info or without a host")
    try:
        port = parts.port or (443 if scheme == "https" else 80)
    except ValueError:
        raise FetchFailed("invalid port") from None
    host = parts.hostname
    address = _checked_address(host, port, deadline, allowed, resolver)
    kind = _PinnedHTTPS if scheme == "https" else _PinnedHTTP
    conn = kind(host, port, address, timeout=_remaining(deadline))
    fired = threading.Event()
    watchdog = threading.Timer(_remaining(deadline), _close, (conn, fired))
    watchdog.daemon = True
    watchdog.start()
    try:
        path = parts.path or "/"
        conn.request("GET", f"{path}?{parts.query}" if parts.query else path,
                     headers={"User-Agent": "persona-pipeline-ingest", "Accept": "image/*"})  # fmt: skip
        response = conn.getresponse()
        if response.status != 200:
            return response.status, response.getheader("Location"), b""
        length = response.getheader("Content-Length")
        if length and length.isdigit() and int(length) > max_bytes:
            raise TooLarge(f"file too large: {length} bytes (limit {max_bytes})")
        body = _read_capped(response, max_bytes, deadline)
        if length and length.isdigit() and len(body) != int(length):
            raise http.client.IncompleteRead(body, int(length) - len(body))
    except (OSError, http.client.HTTPException) as exc:
        if fired.is_set() or time.monotonic() >= deadline:
            raise FetchFailed(f"deadline passed while downloading {url}") from None
        raise FetchFailed(f"{type(exc).__name__}: {exc}") from None
    finally:
        watchdog.cancel()
        conn.close()
    if fired.is_set():  # the socket was shut down under a read that then looked like the end
        raise FetchFailed(f"deadline passed while downloading {url}")
    return 200, None, body


def _read_capped(response: http.client.HTTPResponse, max_bytes: int, deadline: float) -> bytes:
    chunks, total = [], 0
    while True:
        _remaining(deadline)
        chunk = response.read1(_CHUNK)
        if not chunk:
            return b"".join(chunks)
        total += len(chunk)
        if total > max_bytes:
            raise TooLarge(f"file too large: over {max_bytes} bytes")
        chunks.append(chunk)


def _close(conn: http.client.HTTPConnection, fired: threading.Event) -> None:
    """Watchdog at the deadline: unblock any read in progress by shutting the socket down."""
    fired.set()
    sock = conn.sock
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)
