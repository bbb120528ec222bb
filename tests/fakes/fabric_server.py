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
import itertools
import json
import uuid
from collections import deque
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs

from tests.fakes.http_server import FakeJSONServer, Recorded, Reply, SelfSignedTLS

__test__ = False


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


class FakeFabric(FakeJSONServer):
    """Use as a context manager; ``url`` is ``https://127.0.0.1:<port>``, ``api_base`` is ``url + "/v1"``."""

    api_prefix = "/v1/"

    def __init__(
        self,
        *,
        tenant_id: str = "tenant-0001",
        client_id: str = "client-0001",
        client_secret: str = "fabric-client-secret-s3cr3t",
        workspace_id: str = "ws-0001",
    ) -> None:
        tls = SelfSignedTLS("fake-fabric-")
        super().__init__(tls=tls)
        self.ca_bundle = tls.ca_bundle
        self.tenant_id, self.client_id, self.client_secret = tenant_id, client_id, client_secret
        self.workspace_id = workspace_id
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

    @property
    def api_base(self) -> str:
        return f"{self.url}/v1"

    def inject(self, status: int, *, count: int = 1, retry_after: str | None = None) -> None:
        for _ in range(count):
            self.faults.append(Fault(status, retry_after))

    def notebook_source(self, item_id: str) -> str:
        part = self.items[item_id]["definition"]["parts"][0]
        return base64.b64decode(part["payload"]).decode("utf-8")

    # --- request handling (called on server threads, under the lock) ---------------

    def parse_body(self, raw: bytes, content_type: str) -> Any:
        """JSON bodies parsed; the token request's form stays text."""
        text = raw.decode("utf-8")
        return json.loads(text) if text and "json" in content_type else text

    def respond(self, request: Recorded) -> Reply:
        method, path, body = request.method, request.path, request.body
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
        token = request.headers.get("authorization", "").removeprefix("Bearer ")
        if token not in self.issued_tokens:
            return (
                401,
                {},
                {
                    "errorCode": "TokenExpired",
                    "message": "Access token has expired, resubmit with a new access token",
                },
            )
        return self._api(method, path.removeprefix("/v1/").split("/"), request.query, body)

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


__all__ = ["FakeFabric", "JobScript", "Lakehouse"]
