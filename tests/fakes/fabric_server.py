"""A fake Microsoft Fabric (REST API + Entra token endpoint) over real HTTPS on 127.0.0.1.

One TLS server with a throwaway self-signed certificate (``ca_bundle``) plays
both hosts, so the unchanged production path runs end to end:
azure-identity's ``ClientSecretCredential`` does OpenID discovery and the
client-credentials token request against ``/{tenant}/…``, and httpx calls
``/v1/…`` with the bearer token it got.

Implemented: workspace get, items create (201, or 202 + long-running
operation) / list (paged) / updateDefinition, operations state and result,
RunNotebook job instances (start, get, cancel), lakehouse get and tables
list. Job runs are scripted (N non-terminal polls, then Completed, Failed
with a ``failureReason``, or Deduped). Faults (401/403/429 + Retry-After/500/
503) are queued for the next ``/v1/`` requests; every request is recorded.
"""

from __future__ import annotations

import base64
import datetime as dt
import ipaddress
import itertools
import json
import ssl
import tempfile
import threading
import uuid
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any
from urllib.parse import parse_qs, urlsplit

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

__test__ = False

Reply = tuple[int, dict[str, str], Any]


@dataclass
class Recorded:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: Any


@dataclass
class JobScript:
    polls: int = 0
    status: str = "Completed"  # or Failed, Deduped
    message: str | None = None
    error_code: str = "JobInstanceStatusFailed"


@dataclass
class _Operation:
    polls_left: int
    result: Any = None
    error: dict[str, str] | None = None


@dataclass
class _Job:
    item_id: str
    script: JobScript
    polls_left: int
    seen: int = 0
    cancelled: bool = False


@dataclass
class Fault:
    status: int
    retry_after: str | None = None
    code: str = "InjectedFault"


@dataclass
class Lakehouse:
    tables: list[str] = field(default_factory=list)


def _self_signed(directory: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(hours=2))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "fake-fabric.pem", directory / "fake-fabric.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


class FakeFabric:
    """Use as a context manager; ``url`` is ``https://127.0.0.1:<port>``, ``api_base`` is ``url + "/v1"``."""

    def __init__(
        self,
        *,
        tenant_id: str = "tenant-0001",
        client_id: str = "client-0001",
        client_secret: str = "fabric-client-secret-s3cr3t",
        workspace_id: str = "ws-0001",
    ) -> None:
        self.tenant_id, self.client_id, self.client_secret = tenant_id, client_id, client_secret
        self.workspace_id = workspace_id
        self.requests: list[Recorded] = []
        self.faults: deque[Fault] = deque()
        self.items: dict[str, dict[str, Any]] = {}
        self.operations: dict[str, _Operation] = {}
        self.jobs: dict[str, _Job] = {}
        self.job_scripts: deque[JobScript] = deque()
        self.lakehouses: dict[str, Lakehouse] = {}
        self.create_lro_polls: int | None = None  # None: create answers 201 at once
        self.update_lro_polls: int | None = None
        self.page_size = 2
        self.issued_tokens: list[str] = []
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        self._tmp = tempfile.TemporaryDirectory(prefix="fake-fabric-")
        self.ca_bundle, key_path = _self_signed(Path(self._tmp.name))
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(self.ca_bundle, key_path)
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self._server.socket = context.wrap_socket(self._server.socket, server_side=True)
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    @property
    def url(self) -> str:
        port = self._server.server_address[1]
        return f"https://127.0.0.1:{port}"

    @property
    def api_base(self) -> str:
        return f"{self.url}/v1"

    def __enter__(self) -> FakeFabric:
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()
        self._tmp.cleanup()

    def inject(self, status: int, *, count: int = 1, retry_after: str | None = None) -> None:
        for _ in range(count):
            self.faults.append(Fault(status, retry_after))

    def api_requests(self, path_part: str = "/v1/") -> list[Recorded]:
        return [r for r in self.requests if path_part in r.path]

    def notebook_source(self, item_id: str) -> str:
        part = self.items[item_id]["definition"]["parts"][0]
        return base64.b64decode(part["payload"]).decode("utf-8")

    # --- request handling -----------------------------------------------------------

    def handle(self, method: str, raw_path: str, headers: dict[str, str], body: Any) -> Reply:
        parts = urlsplit(raw_path)
        path, query = parts.path, parse_qs(parts.query)
        with self._lock:
            self.requests.append(Recorded(method, path, query, headers, body))
            if not path.startswith("/v1/"):
                return self._login(method, path, body)
            if self.faults:
                fault = self.faults.popleft()
                extra = {"Retry-After": fault.retry_after} if fault.retry_after else {}
                return (
                    fault.status,
                    extra,
                    {
                        "errorCode": fault.code,
                        "message": f"injected {fault.status}",
                        "requestId": "req-1",
                    },
                )
            token = headers.get("authorization", "").removeprefix("Bearer ")
            if token not in self.issued_tokens:
                return (
                    401,
                    {},
                    {
                        "errorCode": "TokenExpired",
                        "message": "Access token has expired, resubmit with a new access token",
                    },
                )
            return self._api(method, path.removeprefix("/v1/").split("/"), query, body)

    def _login(self, method: str, path: str, body: Any) -> Reply:
        tenant = path.split("/")[1]
        base = f"{self.url}/{tenant}"
        if method == "GET" and path.endswith("/v2.0/.well-known/openid-configuration"):
            return (
                200,
                {},
                {
                    "issuer": f"{base}/v2.0",
                    "authorization_endpoint": f"{base}/oauth2/v2.0/authorize",
                    "token_endpoint": f"{base}/oauth2/v2.0/token",
                },
            )
        if method == "POST" and path == f"/{self.tenant_id}/oauth2/v2.0/token":
            form = {k: v[0] for k, v in parse_qs(body or "").items()}
            if (
                form.get("client_id") != self.client_id
                or form.get("client_secret") != self.client_secret
            ):
                return (
                    401,
                    {},
                    {
                        "error": "invalid_client",
                        "error_description": "AADSTS7000215: Invalid client secret provided.",
                    },
                )
            token = f"fabric-access-{uuid.uuid4().hex}"
            self.issued_tokens.append(token)
            return 200, {}, {"token_type": "Bearer", "expires_in": 3599, "access_token": token}
        return 404, {}, {"error": "not_found"}

    def _lro(self, polls: int, result: Any) -> Reply:
        op_id = str(uuid.uuid4())
        self.operations[op_id] = _Operation(polls_left=polls, result=result)
        headers = {
            "Location": f"{self.api_base}/operations/{op_id}",
            "x-ms-operation-id": op_id,
            "Retry-After": "3",
        }
        return 202, headers, None

    def _api(self, method: str, seg: list[str], query: dict[str, list[str]], body: Any) -> Reply:
        if seg[0] == "operations":
            return self._operation(seg[1], result=len(seg) > 2)
        if seg[:2] != ["workspaces", self.workspace_id]:
            return (
                404,
                {},
                {
                    "errorCode": "WorkspaceNotFound",
                    "message": "The requested workspace was not found",
                },
            )
        rest = seg[2:]
        if not rest and method == "GET":
            return 200, {}, {"id": self.workspace_id, "displayName": "AADAP", "type": "Workspace"}
        if rest == ["items"] and method == "POST":
            return self._create(body)
        if rest == ["items"] and method == "GET":
            return self._list(query)
        if len(rest) == 3 and rest[2] == "updateDefinition":
            self.items[rest[1]]["definition"] = body["definition"]
            if self.update_lro_polls is not None:
                return self._lro(self.update_lro_polls, None)
            return 200, {}, None
        if len(rest) >= 4 and rest[2:4] == ["jobs", "instances"]:
            return self._job(method, rest[1], rest[4:], query)
        if len(rest) >= 2 and rest[0] == "lakehouses":
            lakehouse = self.lakehouses.get(rest[1])
            if lakehouse is None:
                return (
                    404,
                    {},
                    {"errorCode": "ItemNotFound", "message": "The requested item was not found"},
                )
            if rest[2:] == ["tables"]:
                return (
                    200,
                    {},
                    {
                        "data": [
                            {"name": t, "type": "Managed", "format": "Delta"}
                            for t in lakehouse.tables
                        ],
                        "continuationToken": None,
                    },
                )
            return 200, {}, {"id": rest[1], "type": "Lakehouse", "displayName": "lh"}
        return 404, {}, {"errorCode": "NotFound", "message": f"no route {method} {seg}"}

    def _create(self, body: dict[str, Any]) -> Reply:
        if any(i["displayName"] == body["displayName"] for i in self.items.values()):
            return (
                409,
                {},
                {
                    "errorCode": "ItemDisplayNameAlreadyInUse",
                    "message": f"Requested '{body['displayName']}' is already in use",
                },
            )
        item_id = f"item-{next(self._ids):04d}"
        self.items[item_id] = {"id": item_id, "workspaceId": self.workspace_id, **body}
        public = {k: v for k, v in self.items[item_id].items() if k != "definition"}
        if self.create_lro_polls is not None:
            return self._lro(self.create_lro_polls, public)
        return 201, {}, public

    def _list(self, query: dict[str, list[str]]) -> Reply:
        kind = query.get("type", [None])[0]
        items = [
            {k: v for k, v in i.items() if k != "definition"}
            for i in self.items.values()
            if kind in (None, i["type"])
        ]
        start = int(query.get("continuationToken", ["0"])[0])
        page = items[start : start + self.page_size]
        more = start + self.page_size < len(items)
        token = str(start + self.page_size) if more else None
        return 200, {}, {"value": page, "continuationToken": token, "continuationUri": None}

    def _operation(self, op_id: str, *, result: bool) -> Reply:
        op = self.operations.get(op_id)
        if op is None:
            return 404, {}, {"errorCode": "OperationNotFound", "message": "unknown operation"}
        if result:
            return (
                (200, {}, op.result)
                if op.polls_left <= 0
                else (400, {}, {"errorCode": "OperationNotSucceeded", "message": "not finished"})
            )
        if op.polls_left > 0:
            op.polls_left -= 1
            return (
                200,
                {"Retry-After": "2"},
                {"status": "Running", "percentComplete": 50, "error": None},
            )
        return 200, {}, {"status": "Succeeded", "percentComplete": 100, "error": None}

    def _job(
        self, method: str, item_id: str, tail: list[str], query: dict[str, list[str]]
    ) -> Reply:
        if item_id not in self.items:
            return (
                404,
                {},
                {"errorCode": "ItemNotFound", "message": "The requested item was not found"},
            )
        if method == "POST" and not tail:
            if query.get("jobType") != ["RunNotebook"]:
                return 400, {}, {"errorCode": "InvalidJobType", "message": "unknown job type"}
            script = self.job_scripts.popleft() if self.job_scripts else JobScript()
            instance = str(uuid.uuid4())
            self.jobs[instance] = _Job(item_id, script, polls_left=script.polls)
            location = f"{self.api_base}/workspaces/{self.workspace_id}/items/{item_id}/jobs/instances/{instance}"
            return 202, {"Location": location, "Retry-After": "60"}, None
        job = self.jobs.get(tail[0])
        if job is None:
            return 404, {}, {"errorCode": "JobInstanceNotFound", "message": "unknown job instance"}
        if method == "POST" and tail[1:] == ["cancel"]:
            job.cancelled = True
            return (
                202,
                {
                    "Location": f"{self.api_base}/workspaces/{self.workspace_id}/items/{item_id}/jobs/instances/{tail[0]}"
                },
                None,
            )
        return 200, {}, self._job_view(tail[0], job)

    def _job_view(self, instance: str, job: _Job) -> dict[str, Any]:
        view: dict[str, Any] = {
            "id": instance,
            "itemId": job.item_id,
            "jobType": "RunNotebook",
            "invokeType": "Manual",
            "rootActivityId": "act-1",
            "startTimeUtc": "2024-05-01T10:00:00",
            "endTimeUtc": None,
            "failureReason": None,
        }
        if job.cancelled:
            return {**view, "status": "Cancelled", "endTimeUtc": "2024-05-01T10:00:05"}
        if job.polls_left > 0:
            job.polls_left -= 1
            job.seen += 1
            return {**view, "status": "NotStarted" if job.seen == 1 else "InProgress"}
        view.update(status=job.script.status, endTimeUtc="2024-05-01T10:00:42")
        if job.script.status == "Failed":
            view["failureReason"] = {
                "requestId": "req-9",
                "errorCode": job.script.error_code,
                "message": job.script.message,
            }
        return view


def _handler(fake: FakeFabric) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.0"

        def log_message(self, format: str, *args: Any) -> None:
            return

        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length).decode("utf-8") if length else ""
            is_json = "json" in (self.headers.get("Content-Type") or "")
            body = json.loads(raw) if raw and is_json else raw
            headers = {k.lower(): v for k, v in self.headers.items()}
            status, extra, payload = fake.handle(self.command, self.path, headers, body)
            data = b"" if payload is None else json.dumps(payload).encode()
            self.send_response(status)
            if payload is not None:
                self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            for key, value in extra.items():
                self.send_header(key, value)
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = _serve

    return Handler


__all__ = ["FakeFabric", "JobScript", "Lakehouse"]
