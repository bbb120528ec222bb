"""Microsoft Fabric through its REST API (httpx), as a service principal or a managed identity.

A run is a notebook job (contract: github.com/microsoft/fabric-rest-api-specs):

1. the code becomes a notebook definition (:mod:`aadap.platforms._fabric_notebook`:
   Python/PySpark as-is, SQL as lakehouse Spark SQL through ``spark.sql``,
   Scala as a ``%%spark`` cell);
2. the notebook item ``aadap-<name>`` is created or, when the name is taken,
   found and updated (:mod:`aadap.platforms._fabric_items`: error codes
   ``ItemDisplayNameAlreadyInUse`` / ``ItemDisplayNameNotAvailableYet``); both
   may answer 202 and are then followed as long-running operations
   (``GET /operations/{id}`` until Succeeded/Failed, then ``…/result``). Runs
   with the same name share the notebook, so concurrent runs need distinct names;
3. ``POST …/items/{id}/jobs/instances?jobType=RunNotebook`` answers 202 with
   the job instance in ``Location`` and a ``Retry-After`` that the first poll
   waits (at most ``fabric_first_poll_max_seconds``); ``GET …/jobs/instances/{id}``
   reports NotStarted/InProgress/Completed/Failed/Cancelled/Deduped (an early
   ``NotFound`` counts as not started for ``fabric_job_not_found_grace_seconds``)
   and, on failure, ``failureReason.message``; ``POST …/cancel`` cancels. The
   start has no idempotency key: after an ambiguous failure the item's job
   instances are checked instead of resending it.

The Job Scheduler API does not return cell output. A SQL run with a lakehouse
therefore writes its last statement's first rows (and whether there were more)
to ``Files/aadap/results/<notebook>.json`` in that lakehouse, with a token
naming the run; :meth:`FabricPlatform.fetch_output` reads it back through
OneLake's DFS API (``onelake_base``, an Azure Storage token from the same
identity), so a SQL result has columns, preview rows and, when not truncated,
a row count, as on the other platforms. The file is one per notebook name,
overwritten by the next run (the clean-up policy: notebooks and preview files
are reused by name, never accumulated). Other runs carry the status, timing
and failure reason. ``run_url`` is the job instance's API URL.
"""

from __future__ import annotations

import re
import ssl
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Literal

import httpx
from pydantic import BaseModel, ConfigDict, SecretStr

from aadap.core.config import PlatformSettings
from aadap.core.enums import ExecutionStatus, Language, PlatformKind
from aadap.core.exceptions import (
    AADAPError,
    DeploymentFailedError,
    InvalidConfigurationError,
    is_retryable,
)
from aadap.platforms import _fabric_items as items
from aadap.platforms import _fabric_notebook as nb
from aadap.platforms._fabric_auth import (
    STORAGE_SCOPE,
    ClientSecretTokenProvider,
    EntraTokenProvider,
    ManagedIdentityTokenProvider,
)
from aadap.platforms._fabric_rest import FabricRest, error_for, last_segment
from aadap.platforms._http import (
    DEFAULT_ATTEMPTS,
    ambiguous_write,
    parse_retry_after,
    resend_is_safe,
)
from aadap.platforms._lifecycle import BasePlatform
from aadap.platforms.protocol import Clock, RunHandle, RunResult, Sleep, utcnow
from aadap.platforms.workspace_urls import validate_workspace_url

_JOB_STATUS = {
    "NotStarted": ExecutionStatus.PENDING,
    "InProgress": ExecutionStatus.RUNNING,
    "Completed": ExecutionStatus.SUCCESS,
    "Failed": ExecutionStatus.FAILED,
    "Cancelled": ExecutionStatus.CANCELLED,
    "Deduped": ExecutionStatus.CANCELLED,  # another instance was already running; this one never ran
}


class FabricConfig(BaseModel):
    """One Fabric connection: an identity and the workspace (and lakehouse) it runs in.

    ``auth_method`` ``client-secret`` (default): a service principal
    (``tenant_id``, ``client_id``, ``client_secret``); ``managed-identity``: the
    Azure managed identity the worker runs as (``client_id`` selects a
    user-assigned one; no secret). ``workspace_id`` is a GUID, as the API's
    ``workspaceId`` (``format: uuid``). ``ca_bundle`` is a PEM file of CAs to
    trust for the API and login hosts (a TLS-inspecting proxy; the test suite's
    self-signed fake); ``None`` uses the system store.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    auth_method: Literal["client-secret", "managed-identity"] = "client-secret"
    tenant_id: str | None = None
    client_id: str | None = None
    client_secret: SecretStr | None = None
    workspace_id: str
    lakehouse_id: str | None = None
    lakehouse_name: str | None = None
    api_base: str = "https://api.fabric.microsoft.com/v1"
    authority_host: str = "https://login.microsoftonline.com"
    onelake_base: str = "https://onelake.dfs.fabric.microsoft.com"
    ca_bundle: Path | None = None
    notebook_prefix: str = "aadap-"


_GUID = re.compile(r"^[0-9a-fA-F]{8}-([0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}$")


def _token_provider(config: FabricConfig, authority: str) -> EntraTokenProvider:
    """The configured identity's token source, or a clear error naming what is missing."""
    if config.auth_method == "managed-identity":
        return ManagedIdentityTokenProvider(client_id=config.client_id)
    missing = [f for f in ("tenant_id", "client_id", "client_secret") if not getattr(config, f)]
    if missing or config.tenant_id is None or config.client_id is None:
        raise InvalidConfigurationError(
            f"fabric auth_method='client-secret' needs {', '.join(missing)}",
            details={"field": missing[0] if missing else "auth_method", "value": None},
        )
    assert config.client_secret is not None  # in missing otherwise
    return ClientSecretTokenProvider(
        tenant_id=config.tenant_id,
        client_id=config.client_id,
        client_secret=config.client_secret,
        authority_host=authority,
        ca_bundle=config.ca_bundle,
    )


_CLOCK_SKEW = timedelta(minutes=2)
"""Slack between our clock and Fabric's when matching a job instance to a timed-out start."""


def _parse_utc(value: Any) -> datetime | None:
    try:
        parsed = datetime.fromisoformat(str(value)) if value else None
    except ValueError:
        return None
    if parsed is not None and parsed.tzinfo is not None:
        parsed = parsed.astimezone(UTC)
    return parsed.replace(tzinfo=None) if parsed else None


def _duration_ms(body: Mapping[str, Any]) -> int | None:
    start, end = body.get("startTimeUtc"), body.get("endTimeUtc")
    if not start or not end:
        return None
    try:
        delta = datetime.fromisoformat(end) - datetime.fromisoformat(start)
    except (TypeError, ValueError):
        return None
    return max(0, int(delta.total_seconds() * 1000))


class FabricPlatform(BasePlatform):
    kind = PlatformKind.FABRIC

    def __init__(
        self,
        config: FabricConfig,
        settings: PlatformSettings,
        *,
        sleep: Sleep | None = None,
        clock: Clock | None = None,
        max_attempts: int = DEFAULT_ATTEMPTS,
    ) -> None:
        super().__init__(settings, sleep=sleep, clock=clock)
        self.config = config
        allowed = settings.allowed_hosts
        self.api_base = validate_workspace_url(
            config.api_base, self.kind, allowed, field="api_base"
        )
        authority = validate_workspace_url(
            config.authority_host, self.kind, allowed, service="login", field="authority_host"
        )
        for field in ("workspace_id", "lakehouse_id"):
            value = getattr(config, field)
            if value is not None and not _GUID.match(value):
                raise InvalidConfigurationError(
                    f"fabric {field}={value!r} is not a GUID (the id in the item's URL, "
                    "e.g. 0b7c6a52-3f6e-4c59-9d0a-5e0f1c2b3a40)",
                    details={"field": field, "value": value},
                )
        self.onelake_base = validate_workspace_url(
            config.onelake_base, self.kind, allowed, field="onelake_base"
        )
        self.auth_method: str = config.auth_method
        self._tokens = _token_provider(config, authority)
        verify: ssl.SSLContext | bool = True
        if config.ca_bundle is not None:
            verify = ssl.create_default_context(cafile=str(config.ca_bundle))
        self._rest = FabricRest(
            self.api_base,
            self._tokens,
            settings,
            verify=verify,
            sleep=self._sleep,
            clock=self._clock,
            attempts=max_attempts,
        )
        # OneLake (ADLS Gen2 DFS API, Azure Storage tokens): where SQL runs leave their preview.
        self._files = FabricRest(
            self.onelake_base,
            self._tokens.for_scope(STORAGE_SCOPE),
            settings,
            verify=verify,
            sleep=self._sleep,
            clock=self._clock,
            attempts=max_attempts,
        )
        self._ws = f"workspaces/{config.workspace_id}"
        self._items = items.NotebookItems(self._rest, config.workspace_id, settings, self._sleep)

    def __repr__(self) -> str:
        return (
            f"FabricPlatform(api_base={self.api_base!r}, workspace_id={self.config.workspace_id!r})"
        )

    async def aclose(self) -> None:
        await self._rest.aclose()
        await self._files.aclose()
        await self._tokens.aclose()

    # --- submit -------------------------------------------------------------------

    async def submit(
        self,
        code: str,
        *,
        language: Language,
        parameters: Mapping[str, str] | None = None,
        name: str,
    ) -> RunHandle:
        display_name = items.notebook_name(self.config.notebook_prefix, name)
        result = None
        if language is Language.SQL and self.config.lakehouse_id:
            result = nb.ResultFile(
                workspace_id=self.config.workspace_id,
                lakehouse_id=self.config.lakehouse_id,
                name=items.preview_file_name(display_name),
                token=uuid.uuid4().hex,
                onelake_host=httpx.URL(self.onelake_base).host,
            )
        source = nb.notebook_source(
            code,
            language=language,
            parameters=parameters,
            workspace_id=self.config.workspace_id,
            lakehouse_id=self.config.lakehouse_id,
            lakehouse_name=self.config.lakehouse_name,
            result=result,
        )
        item_id = await self._items.upsert(display_name, nb.definition(source))
        submitted_at = utcnow()
        instance_id, first_poll = await self._start_job(item_id, submitted_at)
        return RunHandle(
            platform=self.kind,
            run_id=instance_id,
            language=language,
            submitted_at=submitted_at,
            url=f"{self.api_base}/{self._ws}/items/{item_id}/jobs/instances/{instance_id}",
            extra={
                "item_id": item_id,
                "notebook": display_name,
                "first_poll_after": f"{first_poll:g}",
                **(
                    {"result_file": result.relative_path, "result_token": result.token}
                    if result
                    else {}
                ),
            },
        )

    async def _start_job(self, item_id: str, sent_at: datetime) -> tuple[str, float]:
        """Start the RunNotebook job: (instance id, seconds to wait before the first poll).

        Run On Demand Item Job answers 202 with the instance in ``Location`` and a
        ``Retry-After`` to wait before polling. It has no idempotency key, so it is
        resent only when the failure proves it was not received; otherwise the
        item's job instances are listed and one started since ``sent_at`` is
        adopted, and if there is none the run fails without a resend.
        """
        path = f"{self._ws}/items/{item_id}/jobs/instances"
        try:
            response = await self._rest.request(
                "POST",
                path,
                params={"jobType": "RunNotebook"},
                operation="run notebook",
                write=True,
            )
        except AADAPError as exc:
            if not is_retryable(exc) or resend_is_safe(exc):
                raise  # refused, or certainly not started (throttled to the end): as it is
            adopted = await self._job_started_since(item_id, sent_at)
            if adopted is None:
                raise ambiguous_write(exc, what="the fabric notebook job") from exc
            return adopted, 0.0
        instance_id = last_segment(response.headers.get("Location"))
        if not instance_id:
            raise DeploymentFailedError(
                "fabric run notebook answered without a job instance Location",
                details={"platform": self.kind.value, "item_id": item_id},
            )
        hinted = parse_retry_after(response.headers.get("Retry-After")) or 0.0
        return instance_id, min(hinted, self.settings.fabric_first_poll_max_seconds)

    async def _job_started_since(self, item_id: str, sent_at: datetime) -> str | None:
        """A RunNotebook instance of the item created by our (possibly timed-out) start, if listed."""
        page = (
            await self._rest.request(
                "GET", f"{self._ws}/items/{item_id}/jobs/instances", operation="list job instances"
            )
        ).json()
        since = sent_at.replace(tzinfo=None) - _CLOCK_SKEW
        for job in page.get("value", []):
            started = _parse_utc(job.get("startTimeUtc"))
            fresh = started is None or started >= since
            if job.get("jobType") == "RunNotebook" and fresh and job.get("id"):
                return str(job["id"])
        return None

    # --- poll / fetch / cancel ----------------------------------------------------

    def _instance_path(self, handle: RunHandle) -> str:
        return f"{self._ws}/items/{handle.extra['item_id']}/jobs/instances/{handle.run_id}"

    async def wait(
        self,
        handle: RunHandle,
        *,
        timeout: float | None = None,  # noqa: ASYNC109 (remote run timeout, see BasePlatform)
    ) -> RunResult:
        """Wait the start's ``Retry-After`` (bounded) before the first poll, then poll as usual.

        Only what is left of it: a handle resumed later (another process) does not wait again.
        """
        limit = self.settings.run_timeout_seconds if timeout is None else timeout
        since_start = int((utcnow() - handle.submitted_at).total_seconds())  # whole seconds
        first = float(handle.extra.get("first_poll_after") or 0.0) - max(0, since_start)
        first = min(max(first, 0.0), limit)
        if first > 0:
            await self._sleep(first)
        return await super().wait(handle, timeout=limit - first)

    async def poll(self, handle: RunHandle) -> RunResult:
        response = await self._rest.request(
            "GET", self._instance_path(handle), operation="job status", allow=frozenset({404})
        )
        if response.status_code == 404:
            return self._not_found(handle, response)
        body = response.json()
        raw_status = str(body.get("status", ""))
        status = _JOB_STATUS.get(raw_status, ExecutionStatus.PENDING)
        failure = body.get("failureReason") or {}
        error = None
        if status is ExecutionStatus.FAILED:
            error = (
                failure.get("message") or f"the notebook job failed ({failure.get('errorCode')})"
            )
        elif raw_status == "Deduped":
            error = "deduplicated: another instance of this notebook job was already running"
        elif status is ExecutionStatus.CANCELLED:
            error = "the notebook job was cancelled"
        return RunResult(
            status=status,
            output=f"notebook {handle.extra.get('notebook', '')} {raw_status}".strip(),
            error=error,
            run_url=handle.url,
            duration_ms=_duration_ms(body),
            raw={
                "status": raw_status,
                "item_id": handle.extra.get("item_id"),
                "failure_reason": failure or None,
                "root_activity_id": body.get("rootActivityId"),
            },
        )

    def _not_found(self, handle: RunHandle, response: Any) -> RunResult:
        """An instance polled too early answers NotFound: not started yet, within the grace period."""
        age = (utcnow() - handle.submitted_at).total_seconds()
        if age <= self.settings.fabric_job_not_found_grace_seconds:
            return RunResult(
                status=ExecutionStatus.PENDING,
                output=f"notebook {handle.extra.get('notebook', '')} not listed yet".strip(),
                run_url=handle.url,
                raw={"status": "NotFound", "item_id": handle.extra.get("item_id")},
            )
        raise error_for(response, "job status")

    async def fetch_output(self, handle: RunHandle) -> RunResult:
        """The job's outcome; for a succeeded SQL run, the preview its notebook left in OneLake."""
        result = await self.poll(handle)
        path = handle.extra.get("result_file")
        if result.status is not ExecutionStatus.SUCCESS or not path:
            return result
        response = await self._files.request(
            "GET", path, operation="read result preview", allow=frozenset({404})
        )
        preview = response.json() if response.status_code == 200 else None
        return nb.with_preview(result, preview, token=handle.extra["result_token"])

    async def cancel(self, handle: RunHandle) -> None:
        await self._rest.request(
            "POST", f"{self._instance_path(handle)}/cancel", operation="cancel job"
        )

    # --- connection and catalog ---------------------------------------------------

    async def test_connection(self) -> float:
        started = self._clock()
        await self._rest.request("GET", self._ws, operation="get workspace")
        lakehouse_id = self.config.lakehouse_id
        if lakehouse_id:
            response = await self._rest.request(
                "GET",
                f"{self._ws}/lakehouses/{lakehouse_id}",
                operation="get lakehouse",
                allow=frozenset({404}),
            )
            if response.status_code == 404:
                raise InvalidConfigurationError(
                    f"fabric lakehouse_id={lakehouse_id!r} is not in workspace {self.config.workspace_id}",
                    details={
                        "field": "lakehouse_id",
                        "value": lakehouse_id,
                        "platform": self.kind.value,
                    },
                )
        return (self._clock() - started) * 1000.0

    async def list_tables(self) -> list[str]:
        lakehouse_id = self.config.lakehouse_id
        if not lakehouse_id:
            raise InvalidConfigurationError(
                "fabric lakehouse_id is not set: listing tables needs a lakehouse",
                details={"field": "lakehouse_id", "value": None, "platform": self.kind.value},
            )
        names: list[str] = []
        params: dict[str, str] = {}
        while True:
            page = (
                await self._rest.request(
                    "GET",
                    f"{self._ws}/lakehouses/{lakehouse_id}/tables",
                    params=params,
                    operation="list tables",
                )
            ).json()
            names.extend(str(t["name"]) for t in page.get("data", []))
            token = page.get("continuationToken")
            if not token:
                return sorted(names)
            params = {"continuationToken": str(token)}


__all__ = ["FabricConfig", "FabricPlatform"]
