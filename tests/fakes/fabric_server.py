"""A fake Microsoft Fabric (REST API + Entra token endpoint) over real HTTPS on 127.0.0.1.

One TLS server with a throwaway self-signed certificate (``ca_bundle``) plays
both hosts, so the unchanged production path runs end to end:
azure-identity's ``ClientSecretCredential`` does OpenID discovery and the
client-credentials token request against ``/{tenant}/…``, and httpx calls
``/v1/…`` with the bearer token it got.

It follows Microsoft's published contract (:mod:`tests.fakes.fabric_spec`,
from github.com/microsoft/fabric-rest-api-specs): request bodies are
validated (an invalid one gets the service's 400 ``InvalidInput``), every
response body is checked against its schema, and any breach is kept in
``violations`` and fails the test when the server stops. Ids are UUIDs.

Implemented: workspace get, items create (201, or 202 + long-running
operation) / list (paged) / updateDefinition, operations state and result,
RunNotebook job instances (start 202 + ``Location`` + ``Retry-After``, get,
list, cancel), lakehouse get and tables list. Behaviours the real service
shows (each named where it is set up): a taken name answers 400
``ItemDisplayNameAlreadyInUse``; a recently freed one 400
``ItemDisplayNameNotAvailableYet`` (``names_not_available_yet``); a job polled
before it is registered answers 404 ``NotFound`` (``JobScript.not_found``);
429 with a long ``Retry-After`` (``inject``); a response held back past the
client's timeout after the request took effect (``delay``). Job runs are
scripted (N non-terminal polls, then Completed, Failed with a
``failureReason``, or Deduped). Every request is recorded.
"""

from __future__ import annotations

import base64
import json
import re
import time
import uuid
from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs

from tests.fakes.fabric_spec import UUID, check
from tests.fakes.http_server import FakeJSONServer, Recorded, Reply, SelfSignedTLS

__test__ = False

_SAFE_NAME = re.compile(r"^[A-Za-z0-9_-][A-Za-z0-9 _-]{0,255}$")
_RUN_TIME = timedelta(seconds=42)
"""How long every scripted job run takes, by its start and end times."""


@dataclass
class JobScript:
    polls: int = 0
    status: str = "Completed"  # or Failed, Deduped
    message: str | None = None
    error_code: str = "JobInstanceStatusFailed"
    not_found: int = 0
    columns: list[str] = field(default_factory=list)
    rows: list[dict[str, Any]] = field(default_factory=list)
    """What the notebook's last SQL statement returns; written where the notebook would."""
    """Polls answered 404 NotFound before the instance is listed (an early poll, issue 23)."""


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
    not_found_left: int = 0
    finished: bool = False
    started: str = ""
    """startTimeUtc, as the service writes it (UTC, no offset)."""


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
        workspace_id: str = "0b7c6a52-3f6e-4c59-9d0a-5e0f1c2b3a40",
    ) -> None:
        tls = SelfSignedTLS("fake-fabric-")
        super().__init__(tls=tls)
        self.ca_bundle = tls.ca_bundle
        self.tenant_id, self.client_id, self.client_secret = tenant_id, client_id, client_secret
        self.workspace_id = workspace_id
        self.lakehouse_id = "5b2c1f0e-8d3a-4e6b-9c7d-1a2b3c4d5e6f"
        """The id tests give the one lakehouse they set up (ids are GUIDs, as in the API)."""
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
        self.names_not_available_yet: dict[str, int] = {}
        """display name → how many creates still answer ItemDisplayNameNotAvailableYet."""
        self.job_retry_after = "30"
        self.delays: dict[tuple[str, str], float] = {}
        """(method, path suffix) → seconds the next matching answer is held back, after the
        request has taken effect (a client timing out on a request the service executed)."""
        self.violations: list[str] = []
        self.storage_tokens: list[str] = []
        self.files: dict[str, Any] = {}
        self.files_frozen = False
        """True: notebooks write no preview (a run that died before its last line)."""
        """OneLake files by ``{workspace}/{lakehouse}/Files/…`` path."""
        self.route_faults: dict[tuple[str, str], int] = {}

    def token_for(self, scope: str, token: str) -> None:
        """Record a token the login (or identity) endpoint issued, by the resource it is for."""
        if scope.startswith("https://storage.azure.com"):
            self.storage_tokens.append(token)
        else:
            self.issued_tokens.append(token)

    def _onelake(self, request: Recorded) -> Reply:
        """OneLake's DFS API (ADLS Gen2 Path - Read): ``GET /{workspace}/{lakehouse}/Files/…``."""
        bearer = request.headers.get("authorization", "").removeprefix("Bearer ")
        if bearer not in self.storage_tokens:
            body = {
                "error": {"code": "InvalidAuthenticationInfo", "message": "not a storage token"}
            }
            return 401, {}, body
        key = request.path.lstrip("/")
        if request.method != "GET" or key not in self.files:
            body = {
                "error": {"code": "PathNotFound", "message": "The specified path does not exist."}
            }
            return 404, {}, body
        return 200, {}, self.files[key]

    def _notebook_ran(self, job: _Job) -> None:
        """What the notebook's SQL cell does on success: leave its preview file (if it has one)."""
        source = self.notebook_source(job.item_id)
        path = re.search(r'^_aadap_result_path = "abfss://([^@]+)@[^/]+/(.+)"$', source, re.M)
        token = re.search(r'^_aadap_result_token = "(\w+)"$', source, re.M)
        if path is None or token is None or self.files_frozen:
            return
        key = f"{path.group(1)}/{path.group(2)}"
        rows = job.script.rows
        self.files[key] = {
            "token": token.group(1),
            "columns": job.script.columns,
            "rows": rows[:50],
            "truncated": len(rows) > 50,
        }

    def stop(self) -> None:
        super().stop()
        if self.violations:
            raise AssertionError(
                "fake Fabric saw contract violations:\n" + "\n".join(self.violations)
            )

    def delay(self, method: str, path_suffix: str, seconds: float) -> None:
        self.delays[(method, path_suffix)] = seconds

    def fail_next(self, method: str, path_suffix: str, status: int) -> None:
        """The next matching request gets ``status`` without taking effect."""
        self.route_faults[(method, path_suffix)] = status

    def handle(self, method: str, raw_path: str, headers: dict[str, str], body: Any) -> Reply:
        reply = super().handle(method, raw_path, headers, body)
        path = raw_path.split("?", 1)[0]
        for (m, suffix), seconds in list(self.delays.items()):
            if m == method and path.endswith(suffix):
                del self.delays[(m, suffix)]
                time.sleep(seconds)  # outside the lock: the fake keeps serving other requests
        return reply

    def _reply(self, schema: str | None, status: int, headers: dict[str, str], body: Any) -> Reply:
        if schema is not None:
            self.violations.extend(check(schema, body))
        return status, headers, body

    def _error(
        self, status: int, code: str, message: str, headers: dict[str, str] | None = None
    ) -> Reply:
        body = {"errorCode": code, "message": message, "requestId": str(uuid.uuid4())}
        return self._reply("ErrorResponse", status, headers or {}, body)

    def _invalid(self, schema: str, body: Any) -> Reply | None:
        problems = check(schema, body)
        if not problems:
            return None
        self.violations.extend(f"request: {p}" for p in problems)
        return self._error(400, "InvalidInput", "; ".join(problems))

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
        if not text:
            return None
        return json.loads(text) if "json" in content_type else text

    def respond(self, request: Recorded) -> Reply:
        method, path, body = request.method, request.path, request.body
        if path.startswith(f"/{self.workspace_id}/"):
            return self._onelake(request)
        if not path.startswith("/v1/"):
            return self._login(method, path, body)
        if self.faults:
            fault = self.faults.popleft()
            extra = {"Retry-After": fault.retry_after} if fault.retry_after else {}
            return self._error(fault.status, fault.code, f"injected {fault.status}", extra)
        for (m, suffix), status in list(self.route_faults.items()):
            if m == method and path.endswith(suffix):
                del self.route_faults[(m, suffix)]
                return self._error(status, "InternalServerError", f"injected {status}")
        token = request.headers.get("authorization", "").removeprefix("Bearer ")
        if token not in self.issued_tokens:
            return self._error(
                401, "TokenExpired", "Access token has expired, resubmit with a new access token"
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
            self.token_for(form.get("scope", ""), token)
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
        if len(seg) < 2 or seg[0] != "workspaces" or not UUID.match(seg[1]):
            return self._error(400, "InvalidParameter", f"workspaceId is not a GUID: {seg[1:2]}")
        if seg[1] != self.workspace_id:
            return self._error(404, "WorkspaceNotFound", "The requested workspace was not found")
        rest = seg[2:]
        if not rest and method == "GET":
            view = {
                "id": self.workspace_id,
                "displayName": "AADAP",
                "description": "",
                "type": "Workspace",
            }
            return self._reply("WorkspaceInfo", 200, {}, view)
        if rest == ["items"] and method == "POST":
            return self._invalid("CreateItemRequest", body) or self._create(body)
        if rest == ["items"] and method == "GET":
            return self._list(query)
        if len(rest) >= 2 and rest[0] == "items" and rest[1] not in self.items:
            return self._error(404, "ItemNotFound", "The requested item was not found")
        if len(rest) == 2 and method == "DELETE":
            del self.items[rest[1]]
            return 200, {}, None
        if len(rest) == 3 and rest[2] == "updateDefinition":
            invalid = self._invalid("UpdateItemDefinitionRequest", body)
            if invalid:
                return invalid
            self.items[rest[1]]["definition"] = body["definition"]
            if self.update_lro_polls is not None:
                return self._lro(self.update_lro_polls, None)
            return 200, {}, None
        if len(rest) >= 4 and rest[2:4] == ["jobs", "instances"]:
            return self._job(method, rest[1], rest[4:], query, body)
        if len(rest) >= 2 and rest[0] == "lakehouses":
            lakehouse = self.lakehouses.get(rest[1])
            if lakehouse is None:
                return self._error(404, "ItemNotFound", "The requested item was not found")
            files = f"https://onelake.dfs.fabric.microsoft.com/{self.workspace_id}/{rest[1]}"
            if rest[2:] == ["tables"]:
                tables = [
                    {
                        "name": t,
                        "type": "Managed",
                        "format": "Delta",
                        "location": f"{files}/Tables/{t}",
                    }
                    for t in lakehouse.tables
                ]
                return self._reply("Tables", 200, {}, {"data": tables})
            view = {
                "id": rest[1],
                "type": "Lakehouse",
                "displayName": "lh",
                "properties": {
                    "oneLakeTablesPath": f"{files}/Tables",
                    "oneLakeFilesPath": f"{files}/Files",
                },
            }
            return self._reply("Lakehouse", 200, {}, view)
        return self._error(404, "NotFound", f"no route {method} {seg}")

    def _create(self, body: dict[str, Any]) -> Reply:
        name = body["displayName"]
        if not _SAFE_NAME.match(name):
            # Stricter than any published rule, so the adapter must send only names it cleaned.
            return self._error(
                400, "InvalidItemDisplayName", f"Display name {name!r} contains invalid characters"
            )
        if self.names_not_available_yet.get(name, 0) > 0:
            # Reported by Fabric deployment tooling: a freed name stays reserved for minutes.
            self.names_not_available_yet[name] -= 1
            return self._error(
                400,
                "ItemDisplayNameNotAvailableYet",
                f"Requested '{name}' is not available yet and is expected to become available "
                "in the upcoming minutes.",
            )
        if any(i["displayName"] == name for i in self.items.values()):
            return self._error(
                400, "ItemDisplayNameAlreadyInUse", f"Requested '{name}' is already in use"
            )
        item_id = str(uuid.uuid4())
        self.items[item_id] = {"id": item_id, "workspaceId": self.workspace_id, **body}
        public = self._public(self.items[item_id])
        if self.create_lro_polls is not None:
            return self._lro(self.create_lro_polls, public)
        return self._reply("Item", 201, {}, public)

    @staticmethod
    def _public(item: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in item.items() if k != "definition"}

    def _list(self, query: dict[str, list[str]]) -> Reply:
        kind = query.get("type", [None])[0]
        items = [self._public(i) for i in self.items.values() if kind in (None, i["type"])]
        start = int(query.get("continuationToken", ["0"])[0])
        page = items[start : start + self.page_size]
        more = start + self.page_size < len(items)
        body: dict[str, Any] = {"value": page}
        if more:
            token = str(start + self.page_size)
            body["continuationToken"] = token
            body["continuationUri"] = (
                f"{self.api_base}/workspaces/{self.workspace_id}/items?continuationToken={token}"
            )
        return self._reply("Items", 200, {}, body)

    def _operation(self, op_id: str, *, result: bool) -> Reply:
        op = self.operations.get(op_id)
        if op is None:
            return self._error(404, "OperationNotFound", "unknown operation")
        if result:
            if op.polls_left > 0:
                return self._error(400, "OperationNotSucceeded", "not finished")
            return self._reply("Item", 200, {}, op.result)
        if op.polls_left > 0:
            op.polls_left -= 1
            state = {"status": "Running", "percentComplete": 50, "error": None}
            return self._reply("OperationState", 200, {"Retry-After": "2"}, state)
        state = {"status": "Succeeded", "percentComplete": 100, "error": None}
        return self._reply("OperationState", 200, {}, state)

    def _job(
        self, method: str, item_id: str, tail: list[str], query: dict[str, list[str]], body: Any
    ) -> Reply:
        base = f"{self.api_base}/workspaces/{self.workspace_id}/items/{item_id}/jobs/instances"
        if method == "POST" and not tail:
            if query.get("jobType") != ["RunNotebook"]:
                return self._error(400, "InvalidJobType", "unknown job type")
            invalid = self._invalid("RunOnDemandItemJobRequest", body)
            if invalid:
                return invalid
            script = self.job_scripts.popleft() if self.job_scripts else JobScript()
            instance = str(uuid.uuid4())
            self.jobs[instance] = _Job(
                item_id,
                script,
                polls_left=script.polls,
                not_found_left=script.not_found,
                started=datetime.now(UTC).replace(tzinfo=None, microsecond=0).isoformat(),
            )
            headers = {"Location": f"{base}/{instance}", "Retry-After": self.job_retry_after}
            return 202, headers, None
        if method == "GET" and not tail:
            views = [
                self._job_view(i, j, advance=False)
                for i, j in self.jobs.items()
                if j.item_id == item_id
            ]
            return self._reply("ItemJobInstances", 200, {}, {"value": views})
        job = self.jobs.get(tail[0])
        if job is None:
            return self._error(404, "NotFound", "The requested job instance was not found")
        if method == "POST" and tail[1:] == ["cancel"]:
            job.cancelled = True
            return 202, {"Location": f"{base}/{tail[0]}", "Retry-After": "10"}, None
        if job.not_found_left > 0:
            job.not_found_left -= 1
            return self._error(404, "NotFound", "The requested job instance was not found")
        return self._reply("ItemJobInstance", 200, {}, self._job_view(tail[0], job, advance=True))

    def _job_view(self, instance: str, job: _Job, *, advance: bool) -> dict[str, Any]:
        view: dict[str, Any] = {
            "id": instance,
            "itemId": job.item_id,
            "jobType": "RunNotebook",
            "invokeType": "Manual",
            "rootActivityId": "8c2ee553-53a4-7edb-1042-0d8189a9e0ca",
            "startTimeUtc": job.started,
            "endTimeUtc": None,
            "failureReason": None,
        }
        if job.cancelled:
            return {**view, "status": "Cancelled", "endTimeUtc": "2024-05-01T10:00:05"}
        if job.polls_left > 0:
            if advance:
                job.polls_left -= 1
                job.seen += 1
            return {**view, "status": "NotStarted" if job.seen <= 1 else "InProgress"}
        if job.script.status == "Completed" and not job.finished:
            job.finished = True
            self._notebook_ran(job)
        started = datetime.fromisoformat(view["startTimeUtc"])
        view.update(status=job.script.status, endTimeUtc=(started + _RUN_TIME).isoformat())
        if job.script.status == "Failed":
            view["failureReason"] = {
                "requestId": str(uuid.uuid4()),
                "errorCode": job.script.error_code,
                "message": job.script.message or "",
            }
        return view


class FakeAppServiceIdentity(FakeJSONServer):
    """An Azure App Service managed-identity endpoint (``IDENTITY_ENDPOINT`` + ``IDENTITY_HEADER``)
    on plain HTTP, as App Service serves it locally; tokens it issues are valid on ``fabric``.

    The contract is azure-identity's ``AppServiceCredential``: ``GET {IDENTITY_ENDPOINT}
    ?api-version=2019-08-01&resource=…`` with the ``X-IDENTITY-HEADER`` secret.
    """

    def __init__(self, fabric: FakeFabric, *, client_id: str | None = None) -> None:
        super().__init__()
        self.fabric = fabric
        self.header = f"identity-header-{uuid.uuid4().hex}"
        self.client_id = client_id

    @property
    def endpoint(self) -> str:
        return f"{self.url}/msi/token"

    def respond(self, request: Recorded) -> Reply:
        if request.path != "/msi/token" or request.headers.get("x-identity-header") != self.header:
            return 400, {}, {"error": "invalid_request", "error_description": "bad header"}
        if request.query.get("api-version") != ["2019-08-01"]:
            return 400, {}, {"error": "invalid_request", "error_description": "api-version"}
        asked = request.query.get("client_id", [None])[0]
        if asked != self.client_id:
            return 400, {}, {"error": "invalid_request", "error_description": "unknown identity"}
        token = f"fabric-mi-{uuid.uuid4().hex}"
        self.fabric.token_for(request.query["resource"][0], token)
        body = {
            "access_token": token,
            "expires_on": str(int(time.time()) + 3600),
            "resource": request.query["resource"][0],
            "token_type": "Bearer",
        }
        return 200, {}, body


__all__ = ["FakeAppServiceIdentity", "FakeFabric", "JobScript", "Lakehouse"]
