"""A local Azure Resource Manager over HTTPS, answering the REST calls the orchestration driver's SDKs make.

The management SDKs need HTTPS for a bearer token, so the server serves TLS with a self-signed certificate
made by ``cryptography`` (``ca_path`` is passed to the SDKs as ``connection_verify``). It stores resources by
id, in the documented shapes: PUT (200 / 201 with ``Azure-AsyncOperation``, or 202 with ``Location`` for a
new storage account or keyspace), GET (404 ``ResourceNotFound`` / ``ResourceGroupNotFound``), DELETE (202 +
``Location``; deleting a resource group deletes everything under it), PATCH (merge), list on a collection,
POST ``listKeys`` and ``listClusterUserCredential``; ACR Tasks (``listBuildSourceUploadUrl``, a blob PUT,
``scheduleRun``, a run that moves on with each read, ``listLogSasUrl`` and its log blob). Faults to inject:
``throttle`` (429 with ``Retry-After``), ``fail_next`` (a long-running PUT whose operation ends ``Failed``),
``taken`` (409 Conflict: a name taken elsewhere in Azure), ``fail_build`` (an image run that fails). A
deleted Key Vault stays soft-deleted (its name answers 409) until ``deletedVaults/<name>/purge``.
"""

from __future__ import annotations

import base64
import copy
import datetime
import hashlib
import itertools
import json
import socket
import ssl
import tempfile
import threading
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlparse

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

KEYS = {  # what listKeys answers: a test asserts none of these ever reaches a log line or helm
    "cosmos": "cosmos-key-SECRET-1f2e3d4c5b6a",
    "storage": "c3RvcmFnZS1rZXktU0VDUkVU",
    "face": "face-key-SECRET-0a9b8c7d",
    "redis": "redis-key-SECRET+/=77",
}
ASYNC_PUT = {"virtualnetworks", "registries", "managedclusters", "databaseaccounts", "cassandrakeyspaces",
             "accounts", "redisenterprise", "databases", "vaults"}  # fmt: skip
LOCATION_PUT = {"storageaccounts"}
NEW_PUT_STATUS = {"databaseaccounts": 200, "cassandrakeyspaces": 202}  # the rest answer 201 Created
ASYNC_DELETE = (ASYNC_PUT - {"vaults"}) | {"resourcegroups"}  # a vault or storage account is deleted at once
DISPLAY = {"westeurope": "West Europe", "eastus": "East US", "usgovvirginia": "USGov Virginia"}


def self_signed(directory: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]), critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))  # fmt: skip
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))  # fmt: skip
    return cert_path, key_path


def _type_of(path: str) -> str:
    return path.rstrip("/").split("/")[-2].lower()


class ArmState:
    def __init__(self) -> None:
        self.resources: dict[str, dict] = {}  # lowercase id -> stored JSON
        self.secret_values: dict[str, str] = {}  # lowercase secret id -> value written
        self.operations: dict[str, dict] = {}
        self.requests: list[tuple[str, str]] = []  # (method, path) of every request
        self.throttle: dict[str, int] = {}  # path fragment -> how many 429s still to answer
        self.fail_next: set[str] = set()  # lowercase resource types whose next PUT operation fails
        self.taken: set[str] = set()  # names another subscription owns: PUT answers 409
        self.blobs: dict[str, bytes] = {}  # ACR Tasks: uploaded build sources and run logs, by blob name
        self.fail_build = False
        self.deleted_vaults: dict[str, str] = {}  # soft-deleted Key Vault name -> its location
        self.polls_per_operation = 2
        self.lock = threading.Lock()
        self._ids = itertools.count(1)

    def new_operation(self, **info) -> str:
        op = f"op{next(self._ids)}"
        self.operations[op] = {"polls": self.polls_per_operation, **info}
        return op

    def ids(self) -> set[str]:
        return set(self.resources)

    def puts(self) -> list[str]:
        return [path for method, path in self.requests if method == "PUT"]


def _augment(rid: str, body: dict, creating: bool) -> dict:
    """Add what Azure computes: id, name, type, provisioning state, endpoints and identities."""
    parts = rid.strip("/").split("/")
    kind = parts[-2].lower()
    name = parts[-1]
    stable = str(uuid.uuid5(uuid.NAMESPACE_URL, rid.lower()))
    body = {
        **body,
        "id": rid,
        "name": name,
        "type": "/".join(parts[parts.index("providers") + 1 :: 2][:1] + parts[-2:-1]) if "providers" in parts else kind,
    }
    props = body.setdefault("properties", {})
    props["provisioningState"] = "Creating" if creating else "Succeeded"
    if kind == "managedclusters":
        body["identity"] = {**body.get("identity", {}), "principalId": stable, "tenantId": TENANT}
        props["identityProfile"] = {
            "kubeletidentity": {
                "objectId": str(uuid.uuid5(uuid.NAMESPACE_DNS, stable)),
                "clientId": stable,
                "resourceId": f"{rid}-agentpool",
            }
        }
        props["oidcIssuerProfile"] = {**props.get("oidcIssuerProfile", {}),
                                      "issuerURL": f"https://oidc.example/{stable}/"}  # fmt: skip
        props["fqdn"] = f"{name}.hcp.example"
    elif kind == "userassignedidentities":
        props.update(principalId=stable, clientId=str(uuid.uuid5(uuid.NAMESPACE_OID, stable)), tenantId=TENANT)
    elif kind == "registries":
        props["loginServer"] = f"{name}.azurecr.io"
    elif kind == "databaseaccounts":
        props["documentEndpoint"] = f"https://{name}.documents.azure.com:443/"
        for location in props.get("locations", []):
            location["locationName"] = DISPLAY.get(location["locationName"], location["locationName"])
    elif kind == "accounts":
        props["endpoint"] = f"https://{props.get('customSubDomainName', name)}.cognitiveservices.azure.com/"
    elif kind == "redisenterprise":
        props["hostName"] = f"{name}.{body.get('location')}.redis.azure.net"
    elif kind == "vaults":
        props["vaultUri"] = f"https://{name}.vault.azure.net/"
    elif kind == "storageaccounts":
        props["primaryEndpoints"] = {"file": f"https://{name}.file.core.windows.net/"}
    return body


TENANT = "72f988bf-0000-0000-0000-000000000001"


class _Handler(BaseHTTPRequestHandler):
    state: ArmState
    base: str
    protocol_version = "HTTP/1.1"

    def log_message(self, *args) -> None:
        pass

    def setup(self) -> None:
        super().setup()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # headers and body: no 40 ms ACK wait

    def _send(self, status: int, body: dict | None = None, headers: dict | None = None) -> None:
        data = json.dumps(body).encode() if body is not None else b""
        self.send_response(status)
        self.send_header("x-ms-request-id", str(uuid.uuid4()))
        if body is not None:
            self.send_header("Content-Type", "application/json")
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _error(self, status: int, code: str, message: str, headers: dict | None = None) -> None:
        self._send(status, {"error": {"code": code, "message": message}}, {"x-ms-error-code": code, **(headers or {})})

    def _handle(self) -> None:
        url = urlparse(self.path)
        path = url.path.rstrip("/")
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        state = self.state
        with state.lock:
            state.requests.append((self.command, path))
            if path.startswith("/fakeops/") or path.startswith("/fakeloc/"):
                return self._poll(path)
            if path.startswith("/fakeblob/"):  # a blob SAS URL: the signature is in the query, no bearer token
                return self._blob(path, raw)
            if not self.headers.get("Authorization", "").startswith("Bearer "):
                return self._error(401, "AuthenticationFailed", "no bearer token")
            if "api-version" not in parse_qs(url.query):
                return self._error(400, "MissingApiVersionParameter", "api-version is required")
            for fragment, left in state.throttle.items():
                if left > 0 and fragment.lower() in path.lower():
                    state.throttle[fragment] = left - 1
                    return self._error(429, "TooManyRequests", "throttled", {"Retry-After": "1"})
            body = json.loads(raw) if raw else {}
            return getattr(self, f"_{self.command.lower()}")(path, body)

    do_GET = do_PUT = do_DELETE = do_PATCH = do_POST = _handle

    def _group_missing(self, path: str) -> bool:
        lower = path.lower()
        if "/resourcegroups/" not in lower:
            return False
        group = "/".join(lower.split("/")[:5])
        return group != lower and group not in self.state.resources

    def _get(self, path: str, _body: dict) -> None:
        key = path.lower()
        if "/deletedvaults/" in key:
            name = key.rsplit("/", 1)[-1]
            if name not in self.state.deleted_vaults:
                return self._error(404, "ResourceNotFound", f"Deleted vault {name} was not found.")
            location = self.state.deleted_vaults[name]
            return self._send(200, {"id": path, "name": name, "type": "Microsoft.KeyVault/deletedVaults",
                                    "properties": {"location": location}})  # fmt: skip
        if _type_of(path) == "runs" and key in self.state.resources:
            return self._send(200, _public_run(self._advance_run(self.state.resources[key])))
        if key in self.state.resources:
            return self._send(200, self._visible(self.state.resources[key]))
        if self._group_missing(path):
            return self._error(404, "ResourceGroupNotFound", f"Resource group of {path} could not be found.")
        children = [r for k, r in self.state.resources.items() if k.rpartition("/")[0] == key]
        if children or key.split("/")[-1] in ("resourcegroups", "managedclusters", "vaults"):
            return self._send(200, {"value": [self._visible(r) for r in children]})
        code = "ResourceGroupNotFound" if _type_of(path) == "resourcegroups" else "ResourceNotFound"
        return self._error(404, code, f"The Resource '{path}' was not found.")

    def _advance_run(self, run: dict) -> dict:
        """Each read moves an ACR Tasks run on: Queued, Running (log lines), then Succeeded or Failed."""
        props, state = run["properties"], self.state
        log = f"log-{props['runId']}"
        if props["status"] in ("Queued", "Running") and props["polls"] > 0:
            props["polls"] -= 1
            props["status"] = "Running"
            state.blobs[log] += f"Step {2 - props['polls']}/2 : building from {props['source']}\n".encode()
        elif props["status"] == "Running":
            source = state.blobs.get(props["source"])
            if source is None or state.fail_build:
                props["status"] = "Failed"
                props["runErrorMessage"] = "the build failed"
            else:
                props["status"] = "Succeeded"
                digest = "sha256:" + hashlib.sha256(source).hexdigest()
                props["outputImages"] = [{"registry": "x", "repository": i.split(":")[0], "tag": i.split(":")[1],
                                          "digest": digest} for i in props["images"]]  # fmt: skip
                state.blobs[log] += f"Successfully pushed {', '.join(props['images'])}\n".encode()
        return run

    def _visible(self, stored: dict) -> dict:
        shown = copy.deepcopy(stored)
        shown.get("properties", {}).pop("value", None)  # ARM never returns a secret's value
        return shown

    def _put(self, path: str, body: dict, merge: bool = False) -> None:
        state, key, kind = self.state, path.lower(), _type_of(path)
        if self._group_missing(path):
            return self._error(404, "ResourceGroupNotFound", f"Resource group of {path} could not be found.")
        if path.split("/")[-1] in state.taken:
            return self._error(409, "Conflict", f"The name '{path.split('/')[-1]}' is already in use.")
        if kind == "vaults" and path.split("/")[-1].lower() in state.deleted_vaults:
            return self._error(409, "ConflictError", "A vault with the same name already exists in deleted state.")
        existing = state.resources.get(key)
        if merge:
            if existing is None:
                return self._error(404, "ResourceNotFound", f"The Resource '{path}' was not found.")
            body = _merge(copy.deepcopy(existing), body)
        if kind == "secrets":
            state.secret_values[key] = body.get("properties", {}).get("value", "")
        asynchronous = kind in ASYNC_PUT or (kind in LOCATION_PUT and existing is None)
        stored = _augment(path, body, creating=asynchronous)
        state.resources[key] = stored
        if not asynchronous:
            return self._send(200 if existing else 201, self._visible(stored))
        fail = kind in state.fail_next
        state.fail_next.discard(kind)
        op = state.new_operation(resource=key, fail=fail, kind="put")
        if kind in LOCATION_PUT:
            return self._send(202, None, {"Location": f"{self.base}/fakeloc/{op}", "Retry-After": "0"})
        headers = {"Azure-AsyncOperation": f"{self.base}/fakeops/{op}", "Retry-After": "0"}
        if existing is None and NEW_PUT_STATUS.get(kind) == 202:
            return self._send(202, None, {**headers, "Location": f"{self.base}/fakeloc/{op}"})
        status = 200 if existing is not None else NEW_PUT_STATUS.get(kind, 201)
        return self._send(status, self._visible(stored), headers)

    def _patch(self, path: str, body: dict) -> None:
        return self._put(path, body, merge=True)

    def _delete(self, path: str, _body: dict) -> None:
        state, key = self.state, path.lower()
        if key not in state.resources:
            return self._send(204)
        for other in [k for k in state.resources if k == key or k.startswith(key + "/")]:
            if _type_of(other) == "vaults":  # Key Vault soft delete: the name stays taken until purged
                state.deleted_vaults[other.rsplit("/", 1)[-1]] = state.resources[other].get("location", "")
            del state.resources[other]
        if _type_of(path) in ASYNC_DELETE:
            op = state.new_operation(resource=key, fail=False, kind="delete")
            return self._send(202, None, {"Location": f"{self.base}/fakeloc/{op}", "Retry-After": "0"})
        return self._send(200)

    def _post(self, path: str, body: dict) -> None:
        target, _, action = path.rpartition("/")
        if "/deletedvaults/" in target.lower() and action.lower() == "purge":
            if self.state.deleted_vaults.pop(target.rsplit("/", 1)[-1].lower(), None) is None:
                return self._error(404, "ResourceNotFound", f"Deleted vault {target} was not found.")
            op = self.state.new_operation(resource=target.lower(), fail=False, kind="delete")
            return self._send(202, None, {"Location": f"{self.base}/fakeloc/{op}", "Retry-After": "0"})
        if target.lower() not in self.state.resources:
            return self._error(404, "ResourceNotFound", f"The Resource '{target}' was not found.")
        if action.lower() in ("listbuildsourceuploadurl", "schedulerun", "listlogsasurl"):
            return self._acr_task(target, action.lower(), body)
        if action.lower() == "listclusterusercredential":
            kubeconfig = f"apiVersion: v1\nkind: Config\nclusters: [{{name: {target.rsplit('/', 1)[-1]}}}]\n"
            value = base64.b64encode(kubeconfig.encode()).decode()
            return self._send(200, {"kubeconfigs": [{"name": "clusterUser", "value": value}]})
        if action.lower() != "listkeys":
            return self._error(400, "UnsupportedAction", action)
        kind = _type_of(target)
        answers = {
            "databaseaccounts": {"primaryMasterKey": KEYS["cosmos"], "secondaryMasterKey": "s2",
                                 "primaryReadonlyMasterKey": "r1", "secondaryReadonlyMasterKey": "r2"},
            "storageaccounts": {"keys": [{"keyName": "key1", "value": KEYS["storage"], "permissions": "FULL"}]},
            "accounts": {"key1": KEYS["face"], "key2": "face-2"},
            "databases": {"primaryKey": KEYS["redis"], "secondaryKey": "redis-2"},
        }  # fmt: skip
        return self._send(200, answers[kind])

    def _acr_task(self, target: str, action: str, body: dict) -> None:
        state = self.state
        if action == "listbuildsourceuploadurl":
            name = f"source-{len(state.blobs)}.tar.gz"
            return self._send(200, {"uploadUrl": f"{self.base}/fakeblob/{name}?sv=2024&sig=upload-signature",
                                    "relativePath": f"source/{name}"})  # fmt: skip
        if action == "listlogsasurl":
            run_id = target.rsplit("/", 1)[-1]
            return self._send(200, {"logLink": f"{self.base}/fakeblob/log-{run_id}?sig=read-signature"})
        run_id = f"ca{sum(1 for k in state.resources if '/runs/' in k) + 1}"
        source = body.get("sourceLocation", "").rpartition("/")[-1]
        run = {"properties": {"runId": run_id, "status": "Queued", "runType": "QuickRun"}}
        stored = _augment(f"{target}/runs/{run_id}", run, creating=False)
        stored["properties"].update(status="Queued", polls=2, source=source, images=body.get("imageNames", []))
        state.resources[f"{target}/runs/{run_id}".lower()] = stored
        state.blobs[f"log-{run_id}"] = b""
        return self._send(200, _public_run(stored))

    def _blob(self, path: str, raw: bytes) -> None:
        name = path.rsplit("/", 1)[-1]
        if self.command == "PUT":
            if self.headers.get("x-ms-blob-type") != "BlockBlob":
                return self._error(400, "MissingRequiredHeader", "x-ms-blob-type")
            self.state.blobs[name] = raw
            return self._send(201)
        if name not in self.state.blobs:
            return self._error(404, "BlobNotFound", name)
        data = self.state.blobs[name]
        start = int((self.headers.get("Range") or "bytes=0-").split("=")[1].split("-")[0])
        return self._send_bytes(206 if start else 200, data[start:])

    def _send_bytes(self, status: int, data: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _poll(self, path: str) -> None:
        op = self.state.operations[path.rsplit("/", 1)[-1]]
        resource = self.state.resources.get(op["resource"])
        if op["polls"] > 0:
            op["polls"] -= 1
            if path.startswith("/fakeloc/"):
                return self._send(202, None, {"Location": f"{self.base}{path}", "Retry-After": "0"})
            return self._send(200, {"status": "InProgress"}, {"Retry-After": "0"})
        if op["kind"] == "put" and resource is not None:
            resource["properties"]["provisioningState"] = "Failed" if op["fail"] else "Succeeded"
        if op["fail"]:
            error = {"code": "InjectedFailure", "message": "the operation failed (injected by the test)"}
            return self._send(200, {"status": "Failed", "error": error})
        if path.startswith("/fakeloc/"):
            return self._send(200, self._visible(resource)) if op["kind"] == "put" else self._send(204)
        return self._send(200, {"status": "Succeeded"})


def _public_run(stored: dict) -> dict:
    shown = copy.deepcopy(stored)
    for private in ("polls", "source", "images"):
        shown["properties"].pop(private, None)
    return shown


def _merge(into: dict, patch: dict) -> dict:
    for key, value in patch.items():
        into[key] = _merge(into.get(key, {}), value) if isinstance(value, dict) and isinstance(into.get(key), dict) \
            else value  # fmt: skip
    return into


class FakeArm:
    """``with FakeArm() as arm:`` serves on https://localhost:<port>; ``arm.state`` is what it holds."""

    def __init__(self) -> None:
        self.state = ArmState()
        self._tmp = tempfile.TemporaryDirectory()
        self.ca_path, key_path = self_signed(Path(self._tmp.name))
        handler = type("Handler", (_Handler,), {"state": self.state})
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(self.ca_path, key_path)
        self._server.socket = context.wrap_socket(self._server.socket, server_side=True)
        self.url = f"https://localhost:{self._server.server_address[1]}"
        handler.base = self.url
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> FakeArm:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._tmp.cleanup()

    def seed(self, rid: str, body: dict) -> None:
        """Something that exists before the test (another team's resource): ``down`` must leave it."""
        self.state.resources[rid.lower()] = _augment(rid, body, creating=False)
