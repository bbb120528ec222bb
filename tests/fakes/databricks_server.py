"""A fake Databricks workspace over real HTTP on 127.0.0.1, for the unchanged databricks-sdk.

It implements exactly the endpoints :mod:`aadap.platforms.databricks` reaches
through the SDK (Jobs API 2.2): host metadata, SCIM ``Me``, SQL statements
(+ get, cancel), warehouses get, cluster policies get, workspace
mkdirs/import/delete, jobs runs submit/get/get-output/cancel and Unity Catalog
tables list. State lives in memory.

It follows the request and response models of the installed databricks-sdk
(the contract the adapter is written against), through their public API:
a request body may only carry the parameters of the SDK method that sends it
(``inspect.signature`` of ``StatementExecutionAPI.execute_statement``,
``JobsAPI.submit``, …) and its nested objects must survive the SDK
dataclasses' ``from_dict``/``as_dict`` round trip (``SubmitTask``,
``StatementParameterListItem``); every response body must survive the round
trip of its response class (``StatementResponse``, ``Run``, ``RunOutput``,
``Policy``, …), so unknown fields, wrong enum values and nulls the service
never sends are caught. Breaches are kept in ``violations`` and fail the test
when the server stops.

Runs are scripted: a statement or job run can stay PENDING/RUNNING for N
polls, succeed with rows or a notebook exit value, fail with a message, or
(``Script.closed``) end CLOSED, the state of a statement whose result expired
("execution successful, and statement closed; result no longer available for
fetch", ``StatementState`` in the SDK). Faults (401/403/429 + Retry-After/
500/503) are queued for the next ``/api/`` requests; ``delay`` holds an answer
back past the client's timeout after the request took effect. Every request
is recorded (method, path, query, headers, JSON body).

The server (:mod:`tests.fakes.http_server`) speaks HTTP/1.0, so each response
closes its connection and no socket outlives a test.
"""

from __future__ import annotations

import base64
import inspect
import itertools
import json
import time
import uuid
from collections import deque
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs

from databricks.sdk.environments import ARM_DATABRICKS_RESOURCE_ID
from databricks.sdk.service import compute, iam, jobs, sql, workspace

from tests.fakes.http_server import FakeJSONServer, Recorded, Reply

__test__ = False

_ERROR_CODES = {
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "RESOURCE_DOES_NOT_EXIST",
    429: "REQUEST_LIMIT_EXCEEDED",
    500: "INTERNAL_ERROR",
    503: "TEMPORARILY_UNAVAILABLE",
}


@dataclass
class Fault:
    status: int
    message: str = "injected fault"
    retry_after: str | None = None


@dataclass
class Script:
    """How the next statement or job run behaves.

    ``polls``: how many status reads return a non-terminal state before the end.
    ``columns``/``rows``: a statement's result; ``exit_value``: a notebook's.
    ``fail``: the platform's error message (the run ends FAILED).
    """

    polls: int = 0
    columns: list[str] = field(default_factory=list)
    rows: list[list[str | None]] = field(default_factory=list)
    exit_value: str | None = None
    fail: str | None = None
    error_trace: str | None = None
    closed: bool = False


@dataclass
class _Run:
    script: Script
    polls_left: int
    seen: int = 0
    cancelled: bool = False
    body: dict[str, Any] = field(default_factory=dict)


class FakeDatabricks(FakeJSONServer):
    """Use as a context manager; ``url`` is ``http://127.0.0.1:<port>``."""

    api_prefix = "/api/"

    def __init__(self, *, token: str = "dapi-fake-secret-token-0001") -> None:
        super().__init__()
        self.token = token
        self.workspace_id = "1234567890123456"
        self.warehouses = {"wh-1"}
        self.clusters = {"0101-abc"}
        self.tables: dict[tuple[str, str], list[str]] = {}
        self.notebooks: dict[str, dict[str, Any]] = {}
        self.folders: set[str] = {"/"}
        self.faults: deque[Fault] = deque()
        self.cancel_fault: int | None = None  # an HTTP status every cancel request gets
        self.statement_scripts: deque[Script] = deque()
        self.run_scripts: deque[Script] = deque()
        self.statements: dict[str, _Run] = {}
        self.runs: dict[int, _Run] = {}
        self._ids = itertools.count(1001)
        self._tokens: dict[str, int] = {}
        self.policies: dict[str, dict[str, Any]] = {}
        self.client_id = "sp-client-0001"
        self.client_secret = "dose-fake-oauth-secret-0001"
        self.oauth_tokens: list[str] = []
        self.management_tokens: list[str] = []
        self.azure_tenant_id = "66666666-7777-8888-9999-000000000000"
        self.azure_client_id = "11111111-2222-3333-4444-555555555555"
        self.oauth_expires_in = 3600
        """policy id → policy definition (the cluster policy definition language)."""
        self.delays: dict[tuple[str, str], float] = {}
        self.violations: list[str] = []

    def stop(self) -> None:
        super().stop()
        if self.violations:
            raise AssertionError(
                "fake Databricks saw contract violations:\n" + "\n".join(self.violations)
            )

    def delay(self, method: str, path: str, seconds: float) -> None:
        """Hold the next answer to ``method path`` back ``seconds``, after it took effect."""
        self.delays[(method, path)] = seconds

    def handle(self, method: str, raw_path: str, headers: dict[str, str], body: Any) -> Reply:
        reply = super().handle(method, raw_path, headers, body)
        seconds = self.delays.pop((method, raw_path.split("?", 1)[0]), None)
        if seconds:
            time.sleep(seconds)  # outside the lock
        return reply

    def _token(self, request: Recorded) -> Reply:
        """``POST /oidc/v1/token``: client credentials in HTTP Basic auth (the SDK's use_header)."""
        form = {k: v[0] for k, v in parse_qs(request.body or "").items()}
        expected = base64.b64encode(f"{self.client_id}:{self.client_secret}".encode()).decode()
        if request.headers.get("authorization") != f"Basic {expected}":
            body = {"error": "invalid_client", "error_description": "Client authentication failed"}
            return 401, {}, body
        if form.get("grant_type") != "client_credentials":
            return 400, {}, {"error": "unsupported_grant_type", "error_description": "bad grant"}
        token = f"eyJ-fake-oauth-{uuid.uuid4().hex}"
        self.oauth_tokens.append(token)
        body = {
            "access_token": token,
            "token_type": "Bearer",
            "expires_in": self.oauth_expires_in,
            "scope": form.get("scope", "all-apis"),
        }
        return 200, {}, body

    def _entra_token(self, request: Recorded) -> Reply:
        """``POST /{tenant}/oauth2/token`` (Entra v1, as the SDK's azure-client-secret asks):
        client id and secret in the form, one token per ``resource``."""
        form = {k: v[0] for k, v in parse_qs(request.body or "").items()}
        tenant = request.path.split("/")[1]
        if (tenant, form.get("client_id"), form.get("client_secret")) != (
            self.azure_tenant_id,
            self.azure_client_id,
            self.client_secret,
        ):
            body = {
                "error": "invalid_client",
                "error_description": "AADSTS7000215: Invalid client secret provided.",
            }
            return 401, {}, body
        token = f"eyJ-fake-entra-{uuid.uuid4().hex}"
        if form.get("resource") == ARM_DATABRICKS_RESOURCE_ID:
            self.oauth_tokens.append(token)
        else:
            self.management_tokens.append(token)
        body = {"access_token": token, "token_type": "Bearer", "expires_in": "3599"}
        return 200, {}, body

    # --- the SDK's models as the contract ------------------------------------------

    def _request(self, api: Any, body: dict[str, Any], **nested: type) -> bool:
        """Whether ``body`` is what ``api`` (an SDK method) can send; breaches recorded."""
        allowed = set(inspect.signature(api).parameters) - {"self"}
        unknown = sorted(set(body) - allowed)
        if unknown:
            self.violations.append(f"{api.__qualname__}: unknown fields {unknown}")
        for key, cls in nested.items():
            values = body.get(key) or []
            for value in values if isinstance(values, list) else [values]:
                self._round_trip(cls, value, f"{api.__qualname__}.{key}")
        return not unknown

    def _round_trip(self, cls: Any, body: Any, where: str) -> None:
        again = cls.from_dict(body).as_dict()
        if json.loads(json.dumps(again)) != _pruned(body):
            self.violations.append(f"{where}: {body!r} is not a {cls.__name__} ({again!r})")

    def _reply(self, cls: Any, status: int, body: dict[str, Any]) -> Reply:
        self._round_trip(cls, body, f"response {cls.__name__}")
        return status, {}, body

    # --- scripting ----------------------------------------------------------------

    def inject(
        self,
        status: int,
        *,
        count: int = 1,
        retry_after: str | None = None,
        message: str = "injected fault",
    ) -> None:
        for _ in range(count):
            self.faults.append(Fault(status, message, retry_after))

    # --- request handling (called on server threads, under the lock) -------------

    def parse_body(self, raw: bytes, content_type: str) -> Any:
        """JSON bodies parsed; the OAuth token request's form stays text."""
        text = raw.decode("utf-8")
        if not text:
            return None
        return json.loads(text) if "json" in content_type else text

    def respond(self, request: Recorded) -> Reply:
        if request.path == "/.well-known/databricks-config":
            meta = {"workspace_id": self.workspace_id, "oidc_endpoint": f"{self.url}/oidc"}
            return 200, {}, meta
        if request.path == "/oidc/.well-known/oauth-authorization-server":
            # Databricks OAuth for service principals: the workspace's OIDC discovery document.
            return (
                200,
                {},
                {
                    "issuer": f"{self.url}/oidc",
                    "authorization_endpoint": f"{self.url}/oidc/v1/authorize",
                    "token_endpoint": f"{self.url}/oidc/v1/token",
                },
            )
        if (request.method, request.path) == ("POST", "/oidc/v1/token"):
            return self._token(request)
        if request.method == "POST" and request.path.endswith("/oauth2/token"):
            return self._entra_token(request)
        if self.faults:
            fault = self.faults.popleft()
            extra = {"Retry-After": fault.retry_after} if fault.retry_after else {}
            return fault.status, extra, _error(fault.status, fault.message)
        bearer = request.headers.get("authorization", "").removeprefix("Bearer ")
        if bearer != self.token and bearer not in self.oauth_tokens:
            return 401, {}, _error(401, "Invalid access token.")
        return self._route(request.method, request.path, request.query, request.body)

    def _route(self, method: str, path: str, query: dict[str, list[str]], body: Any) -> Reply:
        if (method, path) == ("GET", "/api/2.0/preview/scim/v2/Me"):
            return self._reply(
                iam.User, 200, {"id": "42", "userName": "aadap@example.com", "active": True}
            )
        if method == "GET" and path.startswith("/api/2.0/sql/warehouses/"):
            wid = path.rsplit("/", 1)[1]
            if wid not in self.warehouses:
                return 404, {}, _error(404, f"SQL warehouse {wid} does not exist.")
            view = {"id": wid, "name": "Starter Warehouse", "state": "RUNNING"}
            return self._reply(sql.GetWarehouseResponse, 200, view)
        if (method, path) == ("GET", "/api/2.1/clusters/get"):
            cid = query["cluster_id"][0]
            if cid not in self.clusters:
                return (
                    400,
                    {},
                    {
                        "error_code": "INVALID_PARAMETER_VALUE",
                        "message": f"Cluster {cid} does not exist",
                    },
                )
            view = {"cluster_id": cid, "cluster_name": "shared", "state": "RUNNING"}
            return self._reply(compute.ClusterDetails, 200, view)
        if (method, path) == ("GET", "/api/2.0/policies/clusters/get"):
            pid = query["policy_id"][0]
            if pid not in self.policies:
                return 404, {}, _error(404, f"Cluster policy {pid} does not exist.")
            view = {"policy_id": pid, "name": pid, "definition": json.dumps(self.policies[pid])}
            return self._reply(compute.Policy, 200, view)
        if (method, path) == ("POST", "/api/2.0/sql/statements"):
            return self._execute(body)
        if path.startswith("/api/2.0/sql/statements/"):
            sid = path.split("/")[5]
            if sid not in self.statements:
                return 404, {}, _error(404, f"statement {sid} not found")
            if method == "POST" and path.endswith("/cancel"):
                if self.cancel_fault:
                    return self.cancel_fault, {}, _error(self.cancel_fault, "cancel refused")
                self.statements[sid].cancelled = True
                return 200, {}, {}
            return self._reply(sql.StatementResponse, 200, self._statement_view(sid, advance=True))
        if (method, path) == ("POST", "/api/2.0/workspace/delete"):
            self._request(workspace.WorkspaceAPI.delete, body)
            if body["path"] not in self.notebooks:
                return 404, {}, _error(404, f"Path ({body['path']}) doesn't exist.")
            del self.notebooks[body["path"]]
            return 200, {}, {}
        if (method, path) == ("POST", "/api/2.0/workspace/mkdirs"):
            self._request(workspace.WorkspaceAPI.mkdirs, body)
            folder = body["path"].rstrip("/")
            while folder:
                self.folders.add(folder)
                folder = folder.rsplit("/", 1)[0]
            return 200, {}, {}
        if (method, path) == ("POST", "/api/2.0/workspace/import"):
            return self._import(body)
        if (method, path) == ("POST", "/api/2.2/jobs/runs/submit"):
            return self._submit(body)
        if (method, path) == ("GET", "/api/2.2/jobs/runs/get"):
            run_id = int(query["run_id"][0])
            if run_id not in self.runs:
                return (
                    400,
                    {},
                    {
                        "error_code": "INVALID_PARAMETER_VALUE",
                        "message": f"Run {run_id} does not exist.",
                    },
                )
            return self._reply(jobs.Run, 200, self._run_view(run_id, advance=True))
        if (method, path) == ("GET", "/api/2.2/jobs/runs/get-output"):
            return self._output(int(query["run_id"][0]))
        if (method, path) == ("POST", "/api/2.2/jobs/runs/cancel"):
            self.runs[int(body["run_id"])].cancelled = True
            return 200, {}, {}
        if (method, path) == ("GET", "/api/2.1/unity-catalog/tables"):
            key = (query["catalog_name"][0], query["schema_name"][0])
            names = self.tables.get(key, [])
            return (
                200,
                {},
                {
                    "tables": [
                        {
                            "name": n,
                            "catalog_name": key[0],
                            "schema_name": key[1],
                            "full_name": f"{key[0]}.{key[1]}.{n}",
                        }
                        for n in names
                    ]
                },
            )
        return 404, {}, _error(404, f"no route for {method} {path}")

    # statements

    def _execute(self, body: dict[str, Any]) -> Reply:
        self._request(
            sql.StatementExecutionAPI.execute_statement,
            body,
            parameters=sql.StatementParameterListItem,
        )
        if body.get("warehouse_id") not in self.warehouses:
            return (
                400,
                {},
                {"error_code": "INVALID_PARAMETER_VALUE", "message": "unknown warehouse"},
            )
        script = self.statement_scripts.popleft() if self.statement_scripts else Script()
        sid = f"01ef-{uuid.uuid4().hex[:12]}"
        self.statements[sid] = _Run(script, polls_left=script.polls, body=body)
        return self._reply(sql.StatementResponse, 200, self._statement_view(sid, advance=False))

    def _statement_view(self, sid: str, *, advance: bool) -> dict[str, Any]:
        run = self.statements[sid]
        if run.cancelled:
            return {"statement_id": sid, "status": {"state": "CANCELED"}}
        if run.polls_left > 0:
            if advance:
                run.polls_left -= 1
            return {"statement_id": sid, "status": {"state": "RUNNING" if advance else "PENDING"}}
        script = run.script
        if script.closed:
            return {"statement_id": sid, "status": {"state": "CLOSED"}}
        if script.fail:
            return {
                "statement_id": sid,
                "status": {
                    "state": "FAILED",
                    "sql_state": "42P01",
                    "error": {"error_code": "BAD_REQUEST", "message": script.fail},
                },
            }
        limit = run.body.get("row_limit")
        rows = script.rows[:limit] if limit else script.rows
        return {
            "statement_id": sid,
            "status": {"state": "SUCCEEDED"},
            "manifest": {
                "format": "JSON_ARRAY",
                "schema": {
                    "column_count": len(script.columns),
                    "columns": [
                        {"name": c, "position": i, "type_name": "STRING", "type_text": "string"}
                        for i, c in enumerate(script.columns)
                    ],
                },
                "total_row_count": len(rows),
                "total_chunk_count": 1,
                "truncated": bool(limit and len(script.rows) > limit),
            },
            "result": {
                "chunk_index": 0,
                "row_offset": 0,
                "row_count": len(rows),
                "data_array": rows,
            },
        }

    # workspace and jobs

    def _import(self, body: dict[str, Any]) -> Reply:
        self._request(workspace.WorkspaceAPI.import_, body)
        path = body["path"]
        if path.rsplit("/", 1)[0] not in self.folders:
            return 404, {}, _error(404, f"The parent folder of {path} does not exist.")
        if path in self.notebooks and not body.get("overwrite"):
            return (
                400,
                {},
                {"error_code": "RESOURCE_ALREADY_EXISTS", "message": f"{path} already exists."},
            )
        source = base64.b64decode(body["content"]).decode("utf-8")
        self.notebooks[path] = {
            "source": source,
            "format": body.get("format"),
            "language": body.get("language"),
        }
        return 200, {}, {}

    def _submit(self, body: dict[str, Any]) -> Reply:
        self._request(jobs.JobsAPI.submit, body, tasks=jobs.SubmitTask)
        for task in body.get("tasks", []):
            cluster = task.get("new_cluster")
            if cluster is not None and not (
                cluster.get("spark_version")
                and (cluster.get("node_type_id") or cluster.get("instance_pool_id"))
                and ("num_workers" in cluster or "autoscale" in cluster)
            ):
                # The report: runs/submit rejects a new_cluster that only names a policy
                # (the message is ours; the service's wording is not published).
                return (
                    400,
                    {},
                    {
                        "error_code": "INVALID_PARAMETER_VALUE",
                        "message": "new_cluster needs spark_version, node_type_id or "
                        "instance_pool_id, and num_workers or autoscale",
                    },
                )
        token = body.get("idempotency_token")
        if token and token in self._tokens:
            return 200, {}, {"run_id": self._tokens[token]}
        task = body["tasks"][0]
        path = task["notebook_task"]["notebook_path"]
        if path not in self.notebooks:
            return (
                400,
                {},
                {"error_code": "INVALID_PARAMETER_VALUE", "message": f"Notebook {path} not found."},
            )
        script = self.run_scripts.popleft() if self.run_scripts else Script()
        run_id = next(self._ids)
        self.runs[run_id] = _Run(script, polls_left=script.polls, body=body)
        if token:
            self._tokens[token] = run_id
        return self._reply(jobs.SubmitRunResponse, 200, {"run_id": run_id})

    def _state(self, run: _Run, *, advance: bool) -> dict[str, Any]:
        if run.cancelled:
            return {
                "life_cycle_state": "TERMINATED",
                "result_state": "CANCELED",
                "state_message": "Run cancelled.",
            }
        if run.polls_left > 0:
            if advance:
                run.polls_left -= 1
                run.seen += 1
            return {
                "life_cycle_state": "PENDING" if run.seen <= 1 else "RUNNING",
                "state_message": "",
            }
        if run.script.fail:
            return {
                "life_cycle_state": "TERMINATED",
                "result_state": "FAILED",
                "state_message": run.script.fail,
            }
        return {"life_cycle_state": "TERMINATED", "result_state": "SUCCESS", "state_message": ""}

    def _run_view(self, run_id: int, *, advance: bool) -> dict[str, Any]:
        run = self.runs[run_id]
        state = self._state(run, advance=advance)
        return {
            "run_id": run_id,
            "run_name": run.body.get("run_name"),
            "run_page_url": f"{self.url}/?o={self.workspace_id}#job/0/run/{run_id}",
            "state": state,
            **({"run_duration": 4200} if state["life_cycle_state"] == "TERMINATED" else {}),
            "tasks": [
                {
                    "run_id": run_id * 10,
                    "task_key": run.body["tasks"][0]["task_key"],
                    "state": state,
                }
            ],
        }

    def _output(self, task_run_id: int) -> Reply:
        if task_run_id in self.runs:
            return (
                400,
                {},
                {
                    "error_code": "INVALID_PARAMETER_VALUE",
                    "message": "Retrieving the output of runs with multiple tasks is not supported.",
                },
            )
        run = self.runs.get(task_run_id // 10)
        if run is None:
            return (
                400,
                {},
                {
                    "error_code": "INVALID_PARAMETER_VALUE",
                    "message": f"Run {task_run_id} does not exist.",
                },
            )
        out: dict[str, Any] = {"metadata": {"run_id": task_run_id}}
        if run.script.fail:
            out["error"] = run.script.fail
            out["error_trace"] = run.script.error_trace or f"Traceback ...\n{run.script.fail}"
        else:
            out["notebook_output"] = (
                {"result": run.script.exit_value, "truncated": False}
                if run.script.exit_value is not None
                else {}
            )
        return self._reply(jobs.RunOutput, 200, out)


def _pruned(value: Any) -> Any:
    """``value`` without nulls and empty lists, which the SDK's ``as_dict`` leaves out too."""
    if isinstance(value, dict):
        return {k: _pruned(v) for k, v in value.items() if v is not None and v != []}
    if isinstance(value, list):
        return [_pruned(v) for v in value]
    return value


def _error(status: int, message: str) -> dict[str, str]:
    return {"error_code": _ERROR_CODES.get(status, str(status)), "message": message}
