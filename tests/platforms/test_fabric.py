"""FabricPlatform against the fake Fabric over HTTPS: real azure-identity tokens, real httpx."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import timedelta

import pytest
from pydantic import SecretStr

from aadap.core.config import PlatformSettings
from aadap.core.enums import ExecutionStatus, Language, PlatformKind
from aadap.core.exceptions import (
    DeploymentFailedError,
    InvalidConfigurationError,
    PlatformAuthenticationError,
    PlatformConnectionError,
    PlatformRateLimitError,
    is_retryable,
)
from aadap.platforms import FabricConfig, FabricPlatform, Platform, RunHandle
from tests.fakes.fabric_server import FakeAppServiceIdentity, FakeFabric, JobScript, Lakehouse
from tests.platforms.conftest import FakeTime


def _config(server: FakeFabric, **overrides: object) -> FabricConfig:
    values: dict[str, object] = {
        "tenant_id": server.tenant_id,
        "client_id": server.client_id,
        "client_secret": SecretStr(server.client_secret),
        "workspace_id": server.workspace_id,
        "api_base": server.api_base,
        "authority_host": server.url,
        "onelake_base": server.url,
        "ca_bundle": server.ca_bundle,
    }
    values.update(overrides)
    return FabricConfig.model_validate(values)


@pytest.fixture
async def platform(
    fabric_server: FakeFabric, settings: PlatformSettings, fake_time: FakeTime
) -> AsyncIterator[FabricPlatform]:
    async with FabricPlatform(
        _config(fabric_server), settings, sleep=fake_time.sleep, clock=fake_time.clock
    ) as p:
        yield p


async def test_is_a_platform(platform: FabricPlatform) -> None:
    assert isinstance(platform, Platform)
    assert platform.kind is PlatformKind.FABRIC


async def test_create_via_long_running_operation_run_and_poll_to_completed(
    platform: FabricPlatform, fabric_server: FakeFabric, fake_time: FakeTime
) -> None:
    fabric_server.create_lro_polls = 2
    fabric_server.job_scripts.append(JobScript(polls=3))
    code = "df = spark.range(10)\ndf.write.saveAsTable('t')\n"

    result = await platform.run(code, language=Language.PYSPARK, name="task-1 develop")

    assert result.status is ExecutionStatus.SUCCESS
    assert result.duration_ms == 42_000
    (item_id,) = fabric_server.items
    assert fabric_server.items[item_id]["displayName"] == "aadap-task-1 develop"
    source = fabric_server.notebook_source(item_id)
    assert source.startswith("# Fabric notebook source")
    assert code.strip() in source
    # LRO: Retry-After 3 then 2, 2 while running; the job start's Retry-After (30) before the
    # first poll (platform/swagger.json, Run On Demand Item Job); then polls back off from 1s
    assert fake_time.sleeps == [3.0, 2.0, 2.0, 30.0, 1.0, 2.0, 4.0]
    ops = [r.path for r in fabric_server.api_requests("/v1/operations/")]
    assert ops[-1].endswith("/result")
    # one token request for the whole run (cached), sent as a bearer token everywhere
    assert len(fabric_server.requests) - len(fabric_server.api_requests()) == 2  # discovery + token
    token = fabric_server.issued_tokens[0]
    assert all(
        r.headers["authorization"] == f"Bearer {token}" for r in fabric_server.api_requests()
    )
    run = fabric_server.api_requests("/jobs/instances")[0]
    assert run.query == {"jobType": ["RunNotebook"]}


async def test_existing_notebook_is_found_and_updated(
    platform: FabricPlatform, fabric_server: FakeFabric
) -> None:
    for name in ("other-1", "other-2", "other-3"):
        await platform.run("print(1)", language=Language.PYTHON, name=name)
    await platform.run("print(1)", language=Language.PYTHON, name="same")
    fabric_server.update_lro_polls = 1
    handle = await platform.submit("print(2)", language=Language.PYTHON, name="same")

    assert len(fabric_server.items) == 4
    assert "print(2)" in fabric_server.notebook_source(handle.extra["item_id"])
    assert fabric_server.api_requests("/updateDefinition")
    assert (
        len(fabric_server.api_requests(f"/v1/workspaces/{fabric_server.workspace_id}/items")) > 2
    )  # paged lookup


async def test_sql_becomes_spark_sql_and_scala_a_spark_cell(
    platform: FabricPlatform, fabric_server: FakeFabric
) -> None:
    sql_handle = await platform.submit(
        "CREATE TABLE a AS SELECT ';' AS x; INSERT INTO a VALUES (:v)",
        language=Language.SQL,
        parameters={"v": "1"},
        name="sql",
    )
    source = fabric_server.notebook_source(sql_handle.extra["item_id"])
    assert "\"CREATE TABLE a AS SELECT ';' AS x\"" in source
    assert '"INSERT INTO a VALUES (:v)"' in source
    assert "spark.sql(_aadap_statement, args=_aadap_args)" in source

    scala = await platform.submit('println("hi")', language=Language.SCALA, name="scala")
    assert '# MAGIC %%spark\n# MAGIC println("hi")' in fabric_server.notebook_source(
        scala.extra["item_id"]
    )


async def test_failed_job_raises_with_failure_reason(
    platform: FabricPlatform, fabric_server: FakeFabric
) -> None:
    fabric_server.job_scripts.append(
        JobScript(polls=1, status="Failed", message="AnalysisException: Table or view not found: t")
    )
    with pytest.raises(DeploymentFailedError) as caught:
        await platform.run("spark.table('t').show()", language=Language.PYSPARK, name="bad")
    assert (
        caught.value.details["platform_message"] == "AnalysisException: Table or view not found: t"
    )
    assert "/jobs/instances/" in caught.value.details["run_url"]
    assert not is_retryable(caught.value)


async def test_deduped_and_cancel(platform: FabricPlatform, fabric_server: FakeFabric) -> None:
    fabric_server.job_scripts.append(JobScript(status="Deduped"))
    with pytest.raises(DeploymentFailedError, match="deduplicated"):
        await platform.run("print(1)", language=Language.PYTHON, name="dup")

    fabric_server.job_scripts.append(JobScript(polls=10))
    handle = await platform.submit("print(1)", language=Language.PYTHON, name="long")
    assert (await platform.poll(handle)).status is ExecutionStatus.PENDING
    await platform.cancel(handle)
    assert (await platform.poll(handle)).status is ExecutionStatus.CANCELLED


async def test_401_is_not_retried(
    platform: FabricPlatform, fabric_server: FakeFabric, fake_time: FakeTime
) -> None:
    fabric_server.inject(401)
    with pytest.raises(PlatformAuthenticationError) as caught:
        await platform.test_connection()
    assert len(fabric_server.api_requests()) == 1
    assert fake_time.sleeps == []
    assert caught.value.details["status_code"] == 401


async def test_wrong_client_secret_is_an_auth_error_without_the_secret(
    fabric_server: FakeFabric, settings: PlatformSettings
) -> None:
    secret = "totally-wrong-secret-123"
    config = _config(fabric_server, client_secret=SecretStr(secret))
    async with FabricPlatform(config, settings) as p:
        with pytest.raises(PlatformAuthenticationError) as caught:
            await p.test_connection()
    assert "AADSTS7000215" in caught.value.message
    for text in (
        str(caught.value),
        repr(caught.value),
        repr(config),
        repr(p),
        str(caught.value.to_dict()),
    ):
        assert secret not in text
        assert fabric_server.client_secret not in text
    assert not fabric_server.api_requests()


async def test_429_honours_retry_after_then_succeeds(
    platform: FabricPlatform, fabric_server: FakeFabric, fake_time: FakeTime
) -> None:
    fabric_server.inject(429, retry_after="9")
    latency = await platform.test_connection()
    assert latency >= 0
    assert fake_time.sleeps == [9.0]
    assert len(fabric_server.api_requests()) == 2


async def test_429_retry_after_is_waited_in_full_up_to_the_documented_maximum(
    fabric_server: FakeFabric, settings: PlatformSettings, fake_time: FakeTime
) -> None:
    # platform/swagger.json: 429 "returns a Retry-After header indicating, in seconds, how long
    # the client must wait". No silent cap: 120 s is waited in full (at most 300 s by default) ...
    fabric_server.inject(429, count=5, retry_after="120")
    async with FabricPlatform(
        _config(fabric_server),
        settings,
        sleep=fake_time.sleep,
        clock=fake_time.clock,
        max_attempts=2,
    ) as p:
        with pytest.raises(PlatformRateLimitError) as caught:
            await p.test_connection()
    assert is_retryable(caught.value)
    assert caught.value.details["retry_after"] == 120.0
    assert fake_time.sleeps == [120.0]


async def test_429_longer_than_the_maximum_fails_at_once_with_the_hint(
    fabric_server: FakeFabric, settings: PlatformSettings, fake_time: FakeTime
) -> None:
    # ... and a hint beyond retry_after_max_seconds is neither shortened nor waited here.
    fabric_server.inject(429, count=1, retry_after="3600")
    async with FabricPlatform(
        _config(fabric_server), settings, sleep=fake_time.sleep, clock=fake_time.clock
    ) as p:
        with pytest.raises(PlatformRateLimitError) as caught:
            await p.test_connection()
    assert caught.value.details["retry_after"] == 3600.0
    assert is_retryable(caught.value)
    assert fake_time.sleeps == []
    assert len(fabric_server.api_requests()) == 1


async def test_5xx_exhausted_raises_retryable_error(
    fabric_server: FakeFabric, settings: PlatformSettings, fake_time: FakeTime
) -> None:
    fabric_server.inject(500, count=2)
    fabric_server.inject(503, count=3)
    async with FabricPlatform(
        _config(fabric_server), settings, sleep=fake_time.sleep, clock=fake_time.clock
    ) as p:
        with pytest.raises(PlatformConnectionError) as caught:
            await p.test_connection()
    assert is_retryable(caught.value)
    assert caught.value.details["status_code"] == 503
    assert caught.value.details["platform_error_code"] == "InjectedFault"
    assert len(fabric_server.api_requests()) == 4
    assert fake_time.sleeps == [0.5, 1.0, 2.0]


async def test_test_connection_checks_the_lakehouse_and_lists_tables(
    fabric_server: FakeFabric, settings: PlatformSettings
) -> None:
    lakehouse_id = fabric_server.lakehouse_id
    fabric_server.lakehouses[lakehouse_id] = Lakehouse(tables=["orders", "customers"])
    async with FabricPlatform(_config(fabric_server, lakehouse_id=lakehouse_id), settings) as p:
        assert await p.test_connection() > 0
        assert await p.list_tables() == ["customers", "orders"]
        info = await p.table_info(["ORDERS", "daily_revenue"])
        assert [(t.name, t.exists, t.rows) for t in info] == [
            ("ORDERS", True, None),
            ("daily_revenue", False, None),
        ]
    async with FabricPlatform(
        _config(fabric_server, lakehouse_id="00000000-0000-4000-8000-00000000dead"), settings
    ) as p:
        with pytest.raises(
            InvalidConfigurationError, match="lakehouse_id='00000000-0000-4000-8000-00000000dead'"
        ):
            await p.test_connection()


def test_hosts_are_validated(fabric_server: FakeFabric) -> None:
    strict = PlatformSettings()
    with pytest.raises(InvalidConfigurationError, match="api_base"):
        FabricPlatform(_config(fabric_server), strict)
    with pytest.raises(InvalidConfigurationError, match="authority_host"):
        FabricPlatform(
            _config(fabric_server, api_base="https://api.fabric.microsoft.com/v1"), strict
        )


# --- issue 23: the service's real behaviours -----------------------------------------------


async def test_a_taken_name_answers_400_and_the_notebook_is_found_and_updated(
    platform: FabricPlatform, fabric_server: FakeFabric
) -> None:
    # Fabric answers a taken display name with HTTP 400 ItemDisplayNameAlreadyInUse (not 409).
    first = await platform.submit("print(1)", language=Language.PYTHON, name="same")
    second = await platform.submit("print(2)", language=Language.PYTHON, name="same")

    assert first.extra["item_id"] == second.extra["item_id"]
    assert len(fabric_server.items) == 1
    assert "print(2)" in fabric_server.notebook_source(second.extra["item_id"])
    writes = [r.path.rsplit("/", 1)[-1] for r in fabric_server.api_requests() if r.method == "POST"]
    assert writes == ["items", "instances", "items", "updateDefinition", "instances"]


async def test_a_name_not_available_yet_is_waited_out(
    platform: FabricPlatform, fabric_server: FakeFabric, fake_time: FakeTime
) -> None:
    # Reported by Fabric deployment tooling (and measured by fabric-emulator): after a delete or
    # rename the name answers ItemDisplayNameNotAvailableYet for a while.
    fabric_server.names_not_available_yet["aadap-again"] = 2
    handle = await platform.submit("print(1)", language=Language.PYTHON, name="again")

    assert handle.extra["item_id"] in fabric_server.items
    assert fake_time.sleeps == [10.0, 20.0]


async def test_a_name_not_available_for_too_long_fails_naming_the_code(
    fabric_server: FakeFabric, settings: PlatformSettings, fake_time: FakeTime
) -> None:
    fabric_server.names_not_available_yet["aadap-held"] = 100
    bounded = settings.model_copy(update={"fabric_name_wait_seconds": 25.0})
    async with FabricPlatform(
        _config(fabric_server), bounded, sleep=fake_time.sleep, clock=fake_time.clock
    ) as p:
        with pytest.raises(DeploymentFailedError, match="ItemDisplayNameNotAvailableYet"):
            await p.submit("print(1)", language=Language.PYTHON, name="held")
    assert sum(fake_time.sleeps) == pytest.approx(25.0)
    assert not fabric_server.items


async def test_first_poll_waits_retry_after_and_an_early_not_found_is_not_started(
    platform: FabricPlatform, fabric_server: FakeFabric, fake_time: FakeTime
) -> None:
    # Run On Demand Item Job answers 202 + Location + Retry-After; polled early, the instance
    # can answer 404 NotFound before it is registered: "not started", not a failure.
    fabric_server.job_retry_after = "45"
    fabric_server.job_scripts.append(JobScript(not_found=2, polls=1))
    result = await platform.run("print(1)", language=Language.PYTHON, name="early")

    assert result.status is ExecutionStatus.SUCCESS
    assert fake_time.sleeps[0] == 45.0
    statuses = [r for r in fabric_server.api_requests("/jobs/instances/") if r.method == "GET"]
    assert len(statuses) == 2 + 1 + 2  # two NotFound, one NotStarted, terminal, fetch_output


async def test_the_first_poll_wait_is_bounded_by_a_setting(
    fabric_server: FakeFabric, settings: PlatformSettings, fake_time: FakeTime
) -> None:
    fabric_server.job_retry_after = "900"
    bounded = settings.model_copy(update={"fabric_first_poll_max_seconds": 20.0})
    async with FabricPlatform(
        _config(fabric_server), bounded, sleep=fake_time.sleep, clock=fake_time.clock
    ) as p:
        await p.run("print(1)", language=Language.PYTHON, name="bounded")
    assert fake_time.sleeps == [20.0]


async def test_not_found_long_after_the_start_is_a_failure(
    platform: FabricPlatform, fabric_server: FakeFabric
) -> None:
    fabric_server.job_scripts.append(JobScript(not_found=5))
    handle = await platform.submit("print(1)", language=Language.PYTHON, name="gone")
    assert (await platform.poll(handle)).status is ExecutionStatus.PENDING
    stale = replace(handle, submitted_at=handle.submitted_at - timedelta(hours=1))
    with pytest.raises(DeploymentFailedError, match="NotFound"):
        await platform.poll(stale)


async def test_a_job_start_that_times_out_after_taking_effect_is_not_sent_twice(
    fabric_server: FakeFabric, settings: PlatformSettings, fake_time: FakeTime
) -> None:
    # The fake starts the job, then holds its 202 back past the client's timeout. Run On Demand
    # Item Job has no idempotency key: the adapter lists the item's job instances and adopts
    # the one its start created instead of starting a second.
    quick = settings.model_copy(update={"http_timeout_seconds": 0.5})
    async with FabricPlatform(
        _config(fabric_server), quick, sleep=fake_time.sleep, clock=fake_time.clock
    ) as p:
        fabric_server.delay("POST", "/jobs/instances", 1.5)
        handle = await p.submit("print(1)", language=Language.PYTHON, name="once")
        result = await p.wait(handle)
    assert result.status is ExecutionStatus.SUCCESS
    starts = [r for r in fabric_server.api_requests("/jobs/instances") if r.method == "POST"]
    assert len(starts) == 1
    assert list(fabric_server.jobs) == [handle.run_id]


async def test_a_job_start_with_an_unknown_outcome_fails_without_a_resend(
    fabric_server: FakeFabric, settings: PlatformSettings, fake_time: FakeTime
) -> None:
    # A 500 to the start: it may or may not have been started, and none is listed. Resending
    # could run the notebook twice, so the run fails, not retryable, naming the doubt.
    fabric_server.fail_next("POST", "/jobs/instances", 500)
    async with FabricPlatform(
        _config(fabric_server), settings, sleep=fake_time.sleep, clock=fake_time.clock
    ) as p:
        with pytest.raises(DeploymentFailedError, match="may or may not") as caught:
            await p.submit("print(1)", language=Language.PYTHON, name="unknown")
    assert caught.value.details["ambiguous"] is True
    assert not is_retryable(caught.value)
    starts = [r for r in fabric_server.api_requests("/jobs/instances") if r.method == "POST"]
    assert len(starts) == 1


@pytest.mark.parametrize("client_id", [None, "9a8b7c6d-0000-4000-8000-000000000001"])
async def test_managed_identity_gets_its_token_from_the_hosting_environment(
    fabric_server: FakeFabric,
    settings: PlatformSettings,
    monkeypatch: pytest.MonkeyPatch,
    client_id: str | None,
) -> None:
    # azure-identity ManagedIdentityCredential on App Service: IDENTITY_ENDPOINT + IDENTITY_HEADER
    # (a user-assigned identity by client_id). No secret is stored for this method.
    with FakeAppServiceIdentity(fabric_server, client_id=client_id) as identity:
        monkeypatch.setenv("IDENTITY_ENDPOINT", identity.endpoint)
        monkeypatch.setenv("IDENTITY_HEADER", identity.header)
        config = _config(
            fabric_server,
            auth_method="managed-identity",
            tenant_id=None,
            client_id=client_id,
            client_secret=None,
        )
        async with FabricPlatform(config, settings) as p:
            assert p.auth_method == "managed-identity"
            await p.test_connection()
            await p.test_connection()
    (asked,) = identity.requests  # cached for the second call
    assert asked.query["resource"] == ["https://api.fabric.microsoft.com"]
    token = fabric_server.issued_tokens[-1]
    assert all(
        r.headers["authorization"] == f"Bearer {token}" for r in fabric_server.api_requests()
    )


def test_bad_identity_or_workspace_settings_are_refused_naming_the_field(
    fabric_server: FakeFabric, settings: PlatformSettings
) -> None:
    with pytest.raises(InvalidConfigurationError, match="needs client_secret"):
        FabricPlatform(_config(fabric_server, client_secret=None), settings)
    with pytest.raises(InvalidConfigurationError, match="workspace_id='my workspace'") as caught:
        FabricPlatform(_config(fabric_server, workspace_id="my workspace"), settings)
    assert caught.value.details == {"field": "workspace_id", "value": "my workspace"}


@pytest.fixture
async def lakehouse_platform(
    fabric_server: FakeFabric, settings: PlatformSettings, fake_time: FakeTime
) -> AsyncIterator[FabricPlatform]:
    config = _config(fabric_server, lakehouse_id=fabric_server.lakehouse_id)
    async with FabricPlatform(config, settings, sleep=fake_time.sleep, clock=fake_time.clock) as p:
        yield p


async def test_sql_returns_a_preview_and_row_count_read_back_from_onelake(
    lakehouse_platform: FabricPlatform, fabric_server: FakeFabric
) -> None:
    platform = lakehouse_platform
    # The Job Scheduler API returns no cell output: the notebook writes the preview to its
    # lakehouse's Files and the platform reads it with a Storage-scoped token (OneLake DFS).
    fabric_server.job_scripts.append(
        JobScript(polls=1, columns=["region", "n"], rows=[{"region": "EU", "n": 3}])
    )
    result = await platform.run(
        "SELECT region, count(*) AS n FROM orders GROUP BY region", language=Language.SQL, name="q"
    )
    assert (result.columns, result.rows, result.row_count) == (
        ["region", "n"],
        [{"region": "EU", "n": 3}],
        1,
    )
    source = fabric_server.notebook_source(next(iter(fabric_server.items)))
    assert "notebookutils.fs.put(_aadap_result_path" in source
    assert ".limit(51).collect()" in source
    (read,) = [r for r in fabric_server.requests if "/Files/aadap/results/" in r.path]
    assert read.headers["authorization"].removeprefix("Bearer ") in fabric_server.storage_tokens

    fabric_server.job_scripts.append(JobScript(columns=["id"], rows=[{"id": i} for i in range(80)]))
    big = await platform.run("SELECT id FROM big", language=Language.SQL, name="q")
    assert len(big.rows) == 50 and big.row_count is None and big.raw["truncated"] is True


async def test_a_preview_left_by_another_run_is_not_reported(
    lakehouse_platform: FabricPlatform, fabric_server: FakeFabric
) -> None:
    platform = lakehouse_platform
    fabric_server.job_scripts.append(JobScript(columns=["x"], rows=[{"x": 1}]))
    await platform.run("SELECT 1 AS x", language=Language.SQL, name="same")
    fabric_server.job_scripts.append(JobScript(status="Completed"))
    fabric_server.files_frozen = True  # the second run's notebook leaves no file
    second = await platform.run("SELECT 2 AS x", language=Language.SQL, name="same")
    assert second.rows == [] and second.raw["result_available"] is False


def test_the_generated_sql_cell_writes_the_preview_it_promises() -> None:
    # Executes the generated notebook with stand-ins for the two objects a Fabric notebook
    # provides (spark, notebookutils), to check the cell's own logic: last statement, limit(51)
    # collected once, columns, truncation flag, the token and the path.
    from aadap.platforms import _fabric_notebook as nb

    class Row:
        def __init__(self, data: dict[str, object]) -> None:
            self.data = data

        def asDict(self, recursive: bool = False) -> dict[str, object]:  # pyspark Row API
            return dict(self.data)

    class Frame:
        def __init__(self, rows: list[dict[str, object]]) -> None:
            self.rows, self.columns, self.collects = rows, list(rows[0]) if rows else [], 0

        def limit(self, n: int) -> Frame:
            self.limit_n = n
            return self

        def collect(self) -> list[Row]:
            self.collects += 1
            return [Row(r) for r in self.rows[: self.limit_n]]

    frames = {"SELECT a": Frame([{"a": i} for i in range(60)]), "SELECT b": Frame([{"b": 1}])}
    ran: list[str] = []
    written: dict[str, str] = {}

    class Spark:
        def sql(self, statement: str, args: dict[str, str] | None = None) -> Frame:
            ran.append(statement)
            return frames[statement]

    class Fs:
        def put(self, path: str, content: str, overwrite: bool) -> None:
            written[path] = content

    class NotebookUtils:
        fs = Fs()

    file = nb.ResultFile("ws", "lh", "aadap-q", "tok123")
    source = nb.notebook_source(
        "SELECT b; SELECT a",
        language=Language.SQL,
        workspace_id="ws",
        lakehouse_id="lh",
        result=file,
    )
    exec(
        compile(source, "notebook-content.py", "exec"),
        {"spark": Spark(), "notebookutils": NotebookUtils()},
    )

    assert ran == ["SELECT b", "SELECT a"]
    assert frames["SELECT a"].collects == 1 and frames["SELECT a"].limit_n == 51
    preview = json.loads(written[file.abfss_path])
    assert preview["token"] == "tok123" and preview["columns"] == ["a"]
    assert len(preview["rows"]) == 50 and preview["truncated"] is True
    assert (
        file.abfss_path
        == "abfss://ws@onelake.dfs.fabric.microsoft.com/lh/Files/aadap/results/aadap-q.json"
    )


async def test_a_name_with_characters_fabric_refuses_is_cleaned_before_it_is_sent(
    platform: FabricPlatform, fabric_server: FakeFabric
) -> None:
    handle = await platform.submit(
        "print(1)", language=Language.PYTHON, name="task 7/dévelop: a*b?"
    )
    assert handle.extra["notebook"] == "aadap-task 7-d-velop- a-b-"
    assert fabric_server.items[handle.extra["item_id"]]["displayName"] == handle.extra["notebook"]


async def test_a_token_without_permission_names_the_status(
    platform: FabricPlatform, fabric_server: FakeFabric
) -> None:
    fabric_server.inject(403)
    with pytest.raises(PlatformAuthenticationError) as caught:
        await platform.test_connection()
    assert caught.value.details["status_code"] == 403
    assert not is_retryable(caught.value)


async def test_a_resumed_handle_waits_only_what_is_left_of_the_first_poll_delay(
    platform: FabricPlatform, fabric_server: FakeFabric, fake_time: FakeTime
) -> None:
    handle = await platform.submit("print(1)", language=Language.PYTHON, name="resumed")
    later = RunHandle.from_dict(
        {
            **handle.to_dict(),
            "submitted_at": (handle.submitted_at - timedelta(seconds=20)).isoformat(),
        }
    )
    await platform.wait(later)
    assert fake_time.sleeps[0] == 10.0  # Retry-After 30, 20 s already gone
