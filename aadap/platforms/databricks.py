"""Azure Databricks (and AWS/GCP Databricks) through ``databricks-sdk``.

* **SQL** goes to a SQL warehouse through the Statement Execution API
  (``execute_statement`` with ``wait_timeout="10s"`` (``"0s"`` when the HTTP
  timeout is under 15 s) and
  ``on_wait_timeout=CONTINUE``, then ``get_statement`` until SUCCEEDED, FAILED,
  CANCELED or CLOSED). Parameters bind to named markers (``:name``). The result
  is inline JSON limited to :data:`~aadap.platforms.protocol.PREVIEW_ROWS` rows;
  DML reports ``num_affected_rows``; CLOSED (succeeded, result expired) is a
  success with an unknown row count. The API has no idempotency key, so a
  statement is resent only when the failure proves it was not received; a
  timeout after sending raises a non-retryable ``DeploymentFailedError``
  (``details['ambiguous']``) instead of running it twice.
* **Python / PySpark / Scala** are imported as a workspace notebook under
  ``workspace_dir`` (one notebook per run, deleted once the run has ended
  unless ``cleanup_notebooks`` is off) and run as a one-time job run
  (``jobs.submit``, notebook task, with an ``idempotency_token``) on
  ``cluster_id``, on a new cluster from ``cluster_policy_id`` (the policy must
  give the Spark version, node type or pool, and size a fixed or default
  value; otherwise the run is refused before anything is uploaded), or, with
  neither, on serverless jobs compute. Parameters become notebook
  widgets (``dbutils.widgets.get``). The output is what the notebook passes to
  ``dbutils.notebook.exit(...)`` (Databricks does not return a notebook's
  stdout); a failure reports the run's error and trace.

Every SDK call runs in a worker thread, maps its errors once
(:mod:`aadap.platforms._databricks_sdk`) and retries transient ones.
"""

from __future__ import annotations

import base64
import logging
import re
import uuid
from collections.abc import Callable, Mapping
from typing import Any

from databricks.sdk import WorkspaceClient
from databricks.sdk.service import compute, jobs, sql, workspace
from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError

from aadap.core.config import PlatformSettings
from aadap.core.enums import ExecutionStatus, Language, PlatformKind
from aadap.core.exceptions import (
    AADAPError,
    DeploymentFailedError,
    InvalidConfigurationError,
    PlatformAuthenticationError,
    is_retryable,
)
from aadap.platforms._databricks_policy import cluster_spec
from aadap.platforms._databricks_results import job_result, statement_result
from aadap.platforms._databricks_sdk import AuthMethod, DatabricksAuth, SdkCaller
from aadap.platforms._http import DEFAULT_ATTEMPTS, ambiguous_write, resend_is_safe
from aadap.platforms._lifecycle import BasePlatform
from aadap.platforms.protocol import PREVIEW_ROWS, Clock, RunHandle, RunResult, Sleep, utcnow
from aadap.platforms.workspace_urls import validate_workspace_url

log = logging.getLogger(__name__)


class DatabricksConfig(BaseModel):
    """One Databricks connection and how it authenticates (:class:`DatabricksAuth`).

    ``auth_method`` ``pat`` (default) uses ``token``; ``oauth-m2m`` uses
    ``client_id`` + ``client_secret``; ``azure-client-secret`` also needs
    ``azure_tenant_id`` (and takes ``azure_login_host`` for a non-public cloud).
    """

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)

    workspace_url: str
    auth_method: AuthMethod = "pat"
    token: SecretStr | None = None
    client_id: str | None = None
    client_secret: SecretStr | None = None
    azure_tenant_id: str | None = None
    azure_login_host: str | None = None
    warehouse_id: str | None = None
    cluster_id: str | None = None
    cluster_policy_id: str | None = None
    catalog: str | None = None
    db_schema: str | None = Field(default=None, alias="schema")
    workspace_dir: str = "/Shared/aadap"


def _safe_name(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "-", name).strip("-")[:80] or "run"


class DatabricksPlatform(BasePlatform):
    kind = PlatformKind.DATABRICKS

    def __init__(
        self,
        config: DatabricksConfig,
        settings: PlatformSettings,
        *,
        sleep: Sleep | None = None,
        clock: Clock | None = None,
        max_attempts: int = DEFAULT_ATTEMPTS,
    ) -> None:
        super().__init__(settings, sleep=sleep, clock=clock)
        self.config = config
        self.host = validate_workspace_url(
            config.workspace_url, self.kind, settings.allowed_hosts, field="workspace_url"
        )
        try:
            auth = DatabricksAuth(
                method=config.auth_method,
                token=config.token,
                client_id=config.client_id,
                client_secret=config.client_secret,
                azure_tenant_id=config.azure_tenant_id,
                azure_login_host=validate_workspace_url(
                    config.azure_login_host,
                    self.kind,
                    settings.allowed_hosts,
                    service="login",
                    field="azure_login_host",
                )
                if config.azure_login_host
                else None,
            )
        except ValidationError as exc:
            raise InvalidConfigurationError(
                f"databricks {exc.errors()[0]['msg'].removeprefix('Value error, ')}",
                details={"field": "auth_method", "value": config.auth_method},
            ) from exc
        self.auth_method: str = auth.method
        # Wait up to 10 s for a quick statement inside the POST, but only when the HTTP timeout
        # leaves room: a POST cut by our own timeout would be an ambiguous write (not resent).
        # The API allows 0 s (return at once) or 5-50 s.
        self._wait_timeout = "10s" if settings.http_timeout_seconds >= 15 else "0s"
        self._call = SdkCaller(self.host, auth, settings, sleep=self._sleep, attempts=max_attempts)

    def __repr__(self) -> str:
        return f"DatabricksPlatform(host={self.host!r}, warehouse_id={self.config.warehouse_id!r})"

    async def aclose(self) -> None:
        await self._call.aclose()

    # --- submit -------------------------------------------------------------------

    async def submit(
        self,
        code: str,
        *,
        language: Language,
        parameters: Mapping[str, str] | None = None,
        name: str,
    ) -> RunHandle:
        if language is Language.SQL:
            return await self._submit_statement(code, parameters)
        return await self._submit_notebook(code, language, parameters, name)

    async def _submit_statement(self, code: str, parameters: Mapping[str, str] | None) -> RunHandle:
        warehouse_id = self._require("warehouse_id", "SQL runs on a SQL warehouse")
        params = [
            sql.StatementParameterListItem(name=k, value=v) for k, v in (parameters or {}).items()
        ]

        def execute(w: WorkspaceClient) -> Any:
            return w.statement_execution.execute_statement(
                statement=code,
                warehouse_id=warehouse_id,
                catalog=self.config.catalog,
                schema=self.config.db_schema,
                parameters=params or None,
                row_limit=PREVIEW_ROWS,
                wait_timeout=self._wait_timeout,
                on_wait_timeout=sql.ExecuteStatementRequestOnWaitTimeout.CONTINUE,
            )

        try:
            # The Statement Execution API has no idempotency key: a resend after a timeout
            # could run the statement twice, so only provably-unsent attempts are resent.
            response = await self._call("execute_statement", execute, write=True)
        except AADAPError as exc:
            if is_retryable(exc) and not resend_is_safe(exc):
                raise ambiguous_write(exc, what="the databricks SQL statement") from exc
            raise  # refused, or certainly not received (throttled to the end): as it is
        return RunHandle(
            platform=self.kind,
            run_id=str(response.statement_id),
            language=Language.SQL,
            submitted_at=utcnow(),
            extra={"kind": "statement", "warehouse_id": warehouse_id},
        )

    async def _compute(self) -> dict[str, Any]:
        if self.config.cluster_id:
            return {"existing_cluster_id": self.config.cluster_id}
        if self.config.cluster_policy_id:
            return {"new_cluster": await self._policy_cluster(self.config.cluster_policy_id)}
        return {}  # serverless jobs compute

    async def _policy_cluster(self, policy_id: str) -> compute.ClusterSpec:
        """A complete new-cluster spec from the policy's fixed or default values, or a clear refusal.

        See :func:`aadap.platforms._databricks_policy.cluster_spec`.
        """
        details = {"field": "cluster_policy_id", "value": policy_id, "platform": self.kind.value}
        try:
            policy = await self._call(
                "cluster_policies.get", lambda w: w.cluster_policies.get(policy_id)
            )
        except (DeploymentFailedError, PlatformAuthenticationError) as exc:
            raise InvalidConfigurationError(
                f"databricks cluster_policy_id={policy_id!r} cannot be read: {exc.message}",
                details={**exc.details, **details},
            ) from exc
        return cluster_spec(policy_id, policy.definition)

    async def _submit_notebook(
        self, code: str, language: Language, parameters: Mapping[str, str] | None, name: str
    ) -> RunHandle:
        folder = self.config.workspace_dir.rstrip("/") or "/Shared/aadap"
        path = f"{folder}/{_safe_name(name)}-{uuid.uuid4().hex[:8]}"
        notebook_language = (
            workspace.Language.SCALA if language is Language.SCALA else workspace.Language.PYTHON
        )
        content = base64.b64encode(code.encode("utf-8")).decode("ascii")
        target = await self._compute()  # refuse a bad policy before anything is uploaded
        await self._call("workspace.mkdirs", lambda w: w.workspace.mkdirs(folder))
        await self._call(
            "workspace.import",
            lambda w: w.workspace.import_(
                path,
                content=content,
                format=workspace.ImportFormat.SOURCE,
                language=notebook_language,
                overwrite=True,
            ),
        )
        task = jobs.SubmitTask(
            task_key="aadap",
            notebook_task=jobs.NotebookTask(
                notebook_path=path,
                base_parameters=dict(parameters or {}) or None,
                source=jobs.Source.WORKSPACE,
            ),
            **target,
        )
        # runs/submit honours idempotency_token: a resend (after a timeout) returns the same run.
        token = uuid.uuid4().hex

        def submit(w: WorkspaceClient) -> int:
            waiter = w.jobs.submit(run_name=name, tasks=[task], idempotency_token=token)
            return int(waiter.bind()["run_id"])

        run_id = await self._call("jobs.submit", submit)
        run = await self._call("jobs.get_run", lambda w: w.jobs.get_run(run_id))
        return RunHandle(
            platform=self.kind,
            run_id=str(run_id),
            language=language,
            submitted_at=utcnow(),
            url=run.run_page_url,
            extra={"kind": "job", "notebook_path": path},
        )

    # --- poll / fetch / cancel ----------------------------------------------------

    async def poll(self, handle: RunHandle) -> RunResult:
        if handle.extra.get("kind") == "statement":
            return await self._statement(handle)
        run = await self._call("jobs.get_run", lambda w: w.jobs.get_run(int(handle.run_id)))
        return job_result(run)

    async def fetch_output(self, handle: RunHandle) -> RunResult:
        if handle.extra.get("kind") == "statement":
            return await self._statement(handle)
        run = await self._call("jobs.get_run", lambda w: w.jobs.get_run(int(handle.run_id)))
        result = job_result(run)
        if not result.terminal:
            return result
        tasks = run.tasks or []
        task_run_id = int(tasks[0].run_id if tasks and tasks[0].run_id else handle.run_id)
        output = await self._call(
            "jobs.get_run_output", lambda w: w.jobs.get_run_output(task_run_id)
        )
        cleanup_error = await self._remove_notebook(handle)
        notebook = output.notebook_output
        text = (notebook.result or "") if notebook else ""
        error = result.error
        if result.status is not ExecutionStatus.SUCCESS and output.error:
            error = output.error + (f"\n{output.error_trace}" if output.error_trace else "")
        raw = {
            **result.raw,
            "task_run_id": task_run_id,
            "truncated": bool(notebook and notebook.truncated),
        }
        if cleanup_error:
            raw["cleanup_error"] = cleanup_error
        return RunResult(
            status=result.status,
            output=text,
            error=error,
            run_url=result.run_url,
            duration_ms=result.duration_ms,
            raw=raw,
        )

    async def _remove_notebook(self, handle: RunHandle) -> str | None:
        """Delete the run's uploaded notebook (``cleanup_notebooks``); the run page keeps its copy.

        Returns why the delete failed, if it did: the run's own outcome stands and the
        failure is reported with it (``raw['cleanup_error']``) rather than replacing it.
        """
        path = handle.extra.get("notebook_path")
        if not path or not self.settings.cleanup_notebooks:
            return None
        try:
            await self._call("workspace.delete", lambda w: w.workspace.delete(path))
        except AADAPError as exc:
            if exc.details.get("status_code") == 404:  # already removed by an earlier fetch
                return None
            log.warning("could not remove notebook %s after run %s: %s", path, handle.run_id, exc)
            return str(exc)
        return None

    async def cancel(self, handle: RunHandle) -> None:
        if handle.extra.get("kind") == "statement":
            await self._call(
                "cancel_execution", lambda w: w.statement_execution.cancel_execution(handle.run_id)
            )
        else:
            await self._call("jobs.cancel_run", lambda w: w.jobs.cancel_run(int(handle.run_id)))

    async def _statement(self, handle: RunHandle) -> RunResult:
        response = await self._call(
            "get_statement", lambda w: w.statement_execution.get_statement(handle.run_id)
        )
        return statement_result(response)

    # --- connection and catalog ---------------------------------------------------

    async def test_connection(self) -> float:
        """Credentials, then each configured resource: warehouse, cluster, cluster policy.

        A resource that does not exist or that the identity may not see is an
        ``InvalidConfigurationError`` naming the field and value.
        """
        started = self._clock()
        await self._call("current_user.me", lambda w: w.current_user.me())
        if self.config.warehouse_id:
            warehouse_id = self.config.warehouse_id
            await self._check(
                "warehouse_id",
                warehouse_id,
                "warehouses.get",
                lambda w: w.warehouses.get(warehouse_id),
            )
        if self.config.cluster_id:
            cluster_id = self.config.cluster_id
            await self._check(
                "cluster_id", cluster_id, "clusters.get", lambda w: w.clusters.get(cluster_id)
            )
        if self.config.cluster_policy_id:
            await self._policy_cluster(self.config.cluster_policy_id)
        return (self._clock() - started) * 1000.0

    async def _check(
        self, field: str, value: str, operation: str, fn: Callable[[WorkspaceClient], Any]
    ) -> None:
        try:
            await self._call(operation, fn)
        except (DeploymentFailedError, PlatformAuthenticationError) as exc:
            raise InvalidConfigurationError(
                f"databricks {field}={value!r} is not usable: {exc.message}",
                details={**exc.details, "field": field, "value": value},
            ) from exc

    async def list_tables(self) -> list[str]:
        catalog = self._require("catalog", "listing tables needs a catalog")
        schema = self._require("db_schema", "listing tables needs a schema")
        return await self._call(
            "tables.list",
            lambda w: sorted(
                str(t.full_name or f"{catalog}.{schema}.{t.name}")
                for t in w.tables.list(catalog_name=catalog, schema_name=schema)
            ),
        )

    def _require(self, field: str, why: str) -> str:
        value = getattr(self.config, field)
        if not value:
            name = "schema" if field == "db_schema" else field
            raise InvalidConfigurationError(
                f"databricks {name} is not set: {why}",
                details={"field": name, "value": None, "platform": self.kind.value},
            )
        return str(value)


__all__ = ["DatabricksConfig", "DatabricksPlatform"]
