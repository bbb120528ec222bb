"""DatabricksPlatform against the fake workspace, through the real databricks-sdk over HTTP."""

from __future__ import annotations

import pickle
from collections.abc import AsyncIterator

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
    PlatformTimeoutError,
    is_retryable,
)
from aadap.platforms import DatabricksConfig, DatabricksPlatform, Platform, RunHandle
from tests.fakes.databricks_server import FakeDatabricks, Script
from tests.platforms.conftest import FakeTime


def _config(server: FakeDatabricks, **overrides: object) -> DatabricksConfig:
    values: dict[str, object] = {
        "workspace_url": server.url,
        "token": SecretStr(server.token),
        "warehouse_id": "wh-1",
        "cluster_id": "0101-abc",
        "catalog": "main",
        "schema": "sales",
    }
    values.update(overrides)
    return DatabricksConfig.model_validate(values)


@pytest.fixture
async def platform(
    databricks_server: FakeDatabricks, settings: PlatformSettings, fake_time: FakeTime
) -> AsyncIterator[DatabricksPlatform]:
    async with DatabricksPlatform(
        _config(databricks_server), settings, sleep=fake_time.sleep, clock=fake_time.clock
    ) as p:
        yield p


async def test_is_a_platform(platform: DatabricksPlatform) -> None:
    assert isinstance(platform, Platform)
    assert platform.kind is PlatformKind.DATABRICKS


async def test_sql_finishes_after_several_polls_with_backoff(
    platform: DatabricksPlatform, databricks_server: FakeDatabricks, fake_time: FakeTime
) -> None:
    databricks_server.statement_scripts.append(
        Script(polls=4, columns=["region", "revenue"], rows=[["EU", "10.5"], ["US", None]])
    )
    result = await platform.run("SELECT region, revenue FROM t", language=Language.SQL, name="q")

    assert result.status is ExecutionStatus.SUCCESS
    assert result.columns == ["region", "revenue"]
    assert result.rows == [{"region": "EU", "revenue": "10.5"}, {"region": "US", "revenue": None}]
    assert result.row_count == 2
    assert fake_time.sleeps == [1.0, 2.0, 4.0, 4.0]  # doubling, capped at poll_max_interval
    body = databricks_server.api_requests("/api/2.0/sql/statements")[0].body
    assert body["warehouse_id"] == "wh-1"
    assert (body["catalog"], body["schema"]) == ("main", "sales")
    assert body["on_wait_timeout"] == "CONTINUE"
    assert body["wait_timeout"] == "0s"  # the 5 s HTTP timeout leaves no room to wait inside
    gets = [
        r for r in databricks_server.api_requests("/api/2.0/sql/statements/") if r.method == "GET"
    ]
    assert len(gets) == 6  # 4 non-terminal polls, the terminal poll, fetch_output
    assert all(r.headers["authorization"] == f"Bearer {databricks_server.token}" for r in gets)


async def test_sql_parameters_and_rows_affected(
    platform: DatabricksPlatform, databricks_server: FakeDatabricks
) -> None:
    databricks_server.statement_scripts.append(
        Script(columns=["num_affected_rows", "num_inserted_rows"], rows=[["3", "3"]])
    )
    result = await platform.run(
        "INSERT INTO t SELECT * FROM s WHERE d = :day",
        language=Language.SQL,
        parameters={"day": "2024-01-01"},
        name="load",
    )
    assert result.rows_affected == 3
    body = databricks_server.api_requests("/api/2.0/sql/statements")[0].body
    assert body["parameters"] == [{"name": "day", "value": "2024-01-01"}]


async def test_statement_failure_raises_deployment_failed_with_message(
    platform: DatabricksPlatform, databricks_server: FakeDatabricks
) -> None:
    databricks_server.statement_scripts.append(
        Script(polls=1, fail="[TABLE_OR_VIEW_NOT_FOUND] The table `nope` cannot be found.")
    )
    with pytest.raises(DeploymentFailedError) as caught:
        await platform.run("SELECT * FROM nope", language=Language.SQL, name="bad")
    assert "TABLE_OR_VIEW_NOT_FOUND" in caught.value.message
    assert caught.value.details["platform_message"].startswith("[TABLE_OR_VIEW_NOT_FOUND]")
    assert caught.value.details["status"] == "FAILED"
    assert not is_retryable(caught.value)
    assert pickle.loads(pickle.dumps(caught.value)).details == caught.value.details


async def test_python_runs_as_notebook_job_with_run_url_and_output(
    platform: DatabricksPlatform, databricks_server: FakeDatabricks, fake_time: FakeTime
) -> None:
    databricks_server.run_scripts.append(Script(polls=3, exit_value='{"rows": 42}'))
    code = "df = spark.range(42)\ndbutils.notebook.exit('{\"rows\": 42}')\n"
    handle = await platform.submit(
        code, language=Language.PYSPARK, parameters={"day": "2024-01-01"}, name="task 7/develop"
    )

    assert handle.url is not None
    assert handle.url.startswith(databricks_server.url) and f"/run/{handle.run_id}" in handle.url
    notebook_path = handle.extra["notebook_path"]
    assert notebook_path.startswith("/Shared/aadap/task-7-develop-")
    stored = databricks_server.notebooks[notebook_path]
    assert stored == {"source": code, "format": "SOURCE", "language": "PYTHON"}

    result = await platform.wait(handle)
    assert result.status is ExecutionStatus.SUCCESS
    assert result.output == '{"rows": 42}'
    assert result.run_url == handle.url
    assert result.duration_ms == 4200
    submit = databricks_server.api_requests("/api/2.2/jobs/runs/submit")[0].body
    task = submit["tasks"][0]
    assert task["existing_cluster_id"] == "0101-abc"
    assert task["notebook_task"]["base_parameters"] == {"day": "2024-01-01"}
    assert submit["idempotency_token"]
    assert len(fake_time.sleeps) == 2  # submit's get_run consumed the first non-terminal read


async def test_failed_job_reports_error_and_trace(
    platform: DatabricksPlatform, databricks_server: FakeDatabricks
) -> None:
    databricks_server.run_scripts.append(
        Script(polls=1, fail="ZeroDivisionError: division by zero", error_trace="Traceback: x")
    )
    with pytest.raises(DeploymentFailedError) as caught:
        await platform.run("1/0", language=Language.PYTHON, name="boom")
    details = caught.value.details
    assert "ZeroDivisionError" in details["platform_message"]
    assert "Traceback: x" in details["platform_message"]
    assert details["run_url"].endswith(f"/run/{details['run_id']}")


async def test_policy_cluster_is_resolved_to_a_complete_spec_and_scala(
    databricks_server: FakeDatabricks, settings: PlatformSettings, fake_time: FakeTime
) -> None:
    databricks_server.policies["pol-9"] = {
        "spark_version": {"type": "fixed", "value": "15.4.x-scala2.12"},
        "node_type_id": {
            "type": "allowlist",
            "values": ["Standard_D4ds_v5"],
            "defaultValue": "Standard_D4ds_v5",
        },
        "autoscale.min_workers": {"type": "fixed", "value": 1},
        "autoscale.max_workers": {"type": "range", "maxValue": 8, "defaultValue": 4},
    }
    config = _config(databricks_server, cluster_id=None, cluster_policy_id="pol-9")
    async with DatabricksPlatform(
        config, settings, sleep=fake_time.sleep, clock=fake_time.clock
    ) as p:
        await p.run('println("hi")', language=Language.SCALA, name="scala")
    task = databricks_server.api_requests("/api/2.2/jobs/runs/submit")[0].body["tasks"][0]
    assert task["new_cluster"] == {
        "policy_id": "pol-9",
        "apply_policy_default_values": True,
        "spark_version": "15.4.x-scala2.12",
        "node_type_id": "Standard_D4ds_v5",
        "autoscale": {"min_workers": 1, "max_workers": 4},
    }
    assert "existing_cluster_id" not in task
    imported = databricks_server.api_requests("/api/2.0/workspace/import")[0].body
    assert imported["language"] == "SCALA"


async def test_a_policy_that_does_not_define_a_cluster_is_refused_before_upload(
    databricks_server: FakeDatabricks, settings: PlatformSettings
) -> None:
    databricks_server.policies["pol-thin"] = {"spark_conf.x": {"type": "fixed", "value": "1"}}
    for policy_id, match in (
        ("pol-thin", "cluster_policy_id='pol-thin' does not define a cluster.*spark_version"),
        ("pol-missing", "cluster_policy_id='pol-missing' cannot be read"),
    ):
        config = _config(databricks_server, cluster_id=None, cluster_policy_id=policy_id)
        async with DatabricksPlatform(config, settings) as p:
            with pytest.raises(InvalidConfigurationError, match=match) as caught:
                await p.submit("print(1)", language=Language.PYTHON, name="thin")
        assert caught.value.details["field"] == "cluster_policy_id"
        assert caught.value.details["value"] == policy_id
    assert not databricks_server.notebooks
    assert not databricks_server.api_requests("/api/2.0/workspace/")


async def test_401_fails_fast_with_one_request(
    databricks_server: FakeDatabricks, settings: PlatformSettings, fake_time: FakeTime
) -> None:
    config = _config(databricks_server, token=SecretStr("dapi-wrong-token-9999"))
    async with DatabricksPlatform(
        config, settings, sleep=fake_time.sleep, clock=fake_time.clock
    ) as p:
        with pytest.raises(PlatformAuthenticationError) as caught:
            await p.submit("SELECT 1", language=Language.SQL, name="q")
    assert len(databricks_server.api_requests()) == 1
    assert fake_time.sleeps == []
    assert not is_retryable(caught.value)
    assert caught.value.details["status_code"] == 401
    assert "dapi-wrong-token-9999" not in str(caught.value)
    assert "dapi-wrong-token-9999" not in repr(caught.value)


async def test_429_then_success_honours_retry_after(
    platform: DatabricksPlatform, databricks_server: FakeDatabricks, fake_time: FakeTime
) -> None:
    await platform.test_connection()  # builds the client first
    databricks_server.requests.clear()
    databricks_server.inject(429, retry_after="7")
    handle = await platform.submit("SELECT 1", language=Language.SQL, name="q")
    assert handle.run_id
    assert fake_time.sleeps == [7.0]
    assert len(databricks_server.api_requests("/api/2.0/sql/statements")) == 2


async def test_5xx_exhausted_raises_retryable_error(
    databricks_server: FakeDatabricks, settings: PlatformSettings, fake_time: FakeTime
) -> None:
    config = _config(databricks_server)
    async with DatabricksPlatform(
        config, settings, sleep=fake_time.sleep, clock=fake_time.clock, max_attempts=3
    ) as p:
        databricks_server.inject(503, count=2, retry_after="2")
        databricks_server.inject(500, count=5)
        with pytest.raises(PlatformConnectionError) as caught:
            await p.test_connection()
    assert is_retryable(caught.value)
    assert caught.value.details["status_code"] == 500
    assert len(databricks_server.api_requests()) == 3
    assert fake_time.sleeps == [2.0, 2.0]


async def test_test_connection_reports_latency_and_checks_warehouse(
    databricks_server: FakeDatabricks, settings: PlatformSettings
) -> None:
    async with DatabricksPlatform(_config(databricks_server), settings) as p:
        latency = await p.test_connection()
    assert latency > 0
    paths = [r.path for r in databricks_server.api_requests()]
    assert paths == [
        "/api/2.0/preview/scim/v2/Me",
        "/api/2.0/sql/warehouses/wh-1",
        "/api/2.1/clusters/get",
    ]

    async with DatabricksPlatform(_config(databricks_server, warehouse_id="wh-404"), settings) as p:
        with pytest.raises(InvalidConfigurationError, match="warehouse_id='wh-404'"):
            await p.test_connection()


async def test_timeout_cancels_the_run(
    platform: DatabricksPlatform, databricks_server: FakeDatabricks, fake_time: FakeTime
) -> None:
    databricks_server.statement_scripts.append(Script(polls=100))
    handle = await platform.submit("SELECT slow()", language=Language.SQL, name="slow")
    with pytest.raises(PlatformTimeoutError) as caught:
        await platform.wait(handle, timeout=10)
    assert caught.value.details["cancelled"] is True
    assert is_retryable(caught.value)
    assert databricks_server.statements[handle.run_id].cancelled
    assert sum(fake_time.sleeps) == pytest.approx(10.0)


async def test_cancel_job_and_poll_reports_cancelled(
    platform: DatabricksPlatform, databricks_server: FakeDatabricks
) -> None:
    databricks_server.run_scripts.append(Script(polls=50))
    handle = await platform.submit("print(1)", language=Language.PYTHON, name="c")
    assert (await platform.poll(handle)).status is ExecutionStatus.RUNNING
    await platform.cancel(handle)
    result = await platform.poll(handle)
    assert result.status is ExecutionStatus.CANCELLED
    restored = RunHandle.from_dict(handle.to_dict())
    assert restored == handle


async def test_list_tables(platform: DatabricksPlatform, databricks_server: FakeDatabricks) -> None:
    databricks_server.tables[("main", "sales")] = ["orders", "customers"]
    assert await platform.list_tables() == ["main.sales.customers", "main.sales.orders"]
    # the approval form: existence from the listing, qualifiers compared from the right;
    # rows unknown (counting would start a warehouse)
    info = await platform.table_info(["orders", "`sales`.`Customers`", "hr.orders", "new_t"])
    assert [(t.exists, t.rows, t.found_as) for t in info] == [
        (True, None, "main.sales.orders"),
        (True, None, "main.sales.customers"),
        (False, None, None),
        (False, None, None),
    ]


async def test_missing_warehouse_and_foreign_host(
    databricks_server: FakeDatabricks, settings: PlatformSettings
) -> None:
    async with DatabricksPlatform(_config(databricks_server, warehouse_id=None), settings) as p:
        with pytest.raises(InvalidConfigurationError, match="warehouse_id"):
            await p.submit("SELECT 1", language=Language.SQL, name="q")
    strict = PlatformSettings(allowed_hosts=[])
    with pytest.raises(InvalidConfigurationError, match="workspace_url"):
        DatabricksPlatform(_config(databricks_server), strict)


def test_token_never_in_reprs(
    databricks_server: FakeDatabricks, settings: PlatformSettings
) -> None:
    config = _config(databricks_server)
    platform = DatabricksPlatform(config, settings)
    for text in (repr(config), str(config), repr(platform), str(config.model_dump())):
        assert databricks_server.token not in text


async def test_timeout_reports_a_failed_cancel(
    platform: DatabricksPlatform, databricks_server: FakeDatabricks
) -> None:
    databricks_server.statement_scripts.append(Script(polls=100))
    databricks_server.cancel_fault = 403
    handle = await platform.submit("SELECT slow()", language=Language.SQL, name="slow")
    with pytest.raises(PlatformTimeoutError) as caught:
        await platform.wait(handle, timeout=0)
    assert caught.value.details["cancelled"] is False
    assert "PLATFORM_AUTH_FAILED" in caught.value.details["cancel_error"]
    assert "cancelling it failed too" in caught.value.message


# --- issue 23 -----------------------------------------------------------------------------


async def test_a_closed_statement_is_a_success_with_unknown_rows_not_an_empty_result(
    platform: DatabricksPlatform, databricks_server: FakeDatabricks
) -> None:
    # StatementState (databricks-sdk): "CLOSED: execution successful, and statement closed;
    # result no longer available for fetch".
    databricks_server.statement_scripts.append(Script(polls=1, closed=True))
    result = await platform.run("SELECT * FROM t", language=Language.SQL, name="late")

    assert result.status is ExecutionStatus.SUCCESS
    assert result.row_count is None
    assert result.raw["result_available"] is False
    assert "closed before it was read" in result.output


async def test_a_statement_answered_after_the_client_timeout_runs_exactly_once(
    databricks_server: FakeDatabricks, settings: PlatformSettings, fake_time: FakeTime
) -> None:
    # The fake accepts the statement, then holds the answer past the client's timeout. The
    # Statement Execution API has no idempotency key, so the adapter must not resend it.
    quick = settings.model_copy(update={"http_timeout_seconds": 0.5})
    async with DatabricksPlatform(
        _config(databricks_server), quick, sleep=fake_time.sleep, clock=fake_time.clock
    ) as p:
        await p.test_connection()  # builds the client
        databricks_server.delay("POST", "/api/2.0/sql/statements", 1.5)
        with pytest.raises(DeploymentFailedError, match="may or may not") as caught:
            await p.submit("INSERT INTO t VALUES (1)", language=Language.SQL, name="once")
    assert caught.value.details["ambiguous"] is True
    assert not is_retryable(caught.value)
    assert len(databricks_server.statements) == 1
    posts = databricks_server.api_requests("/api/2.0/sql/statements")
    assert len([r for r in posts if r.method == "POST"]) == 1


async def test_a_throttled_statement_is_resent_because_it_was_not_accepted(
    platform: DatabricksPlatform, databricks_server: FakeDatabricks, fake_time: FakeTime
) -> None:
    await platform.test_connection()
    databricks_server.inject(503, retry_after="3")
    databricks_server.inject(500)
    with pytest.raises(DeploymentFailedError, match="may or may not"):
        await platform.submit("SELECT 1", language=Language.SQL, name="q")
    assert fake_time.sleeps == [3.0]  # 503 resent; the 500 after it is ambiguous: not resent


async def test_the_uploaded_notebook_is_removed_once_the_run_ended(
    platform: DatabricksPlatform, databricks_server: FakeDatabricks
) -> None:
    databricks_server.run_scripts.append(Script(exit_value="done"))
    handle = await platform.submit("print(1)", language=Language.PYTHON, name="tidy")
    assert handle.extra["notebook_path"] in databricks_server.notebooks
    result = await platform.wait(handle)
    assert result.output == "done"
    assert not databricks_server.notebooks
    assert "cleanup_error" not in result.raw
    again = await platform.fetch_output(handle)  # already removed: no error
    assert again.status is ExecutionStatus.SUCCESS


async def test_notebooks_are_kept_when_cleanup_is_off(
    databricks_server: FakeDatabricks, settings: PlatformSettings
) -> None:
    keep = settings.model_copy(update={"cleanup_notebooks": False})
    async with DatabricksPlatform(_config(databricks_server), keep) as p:
        handle = await p.submit("print(1)", language=Language.PYTHON, name="keep")
        await p.wait(handle)
    assert list(databricks_server.notebooks) == [handle.extra["notebook_path"]]


# --- authentication through the SDK's own credential strategies (issue 23.4) ---------------


def _m2m(server: FakeDatabricks, secret: str | None = None) -> DatabricksConfig:
    return _config(
        server,
        token=None,
        auth_method="oauth-m2m",
        client_id=server.client_id,
        client_secret=SecretStr(secret or server.client_secret),
    )


async def test_oauth_m2m_uses_the_workspace_oidc_token_endpoint(
    databricks_server: FakeDatabricks, settings: PlatformSettings
) -> None:
    # databricks-sdk credentials_provider.oauth_service_principal: OIDC discovery from the host
    # metadata, then client credentials (HTTP Basic) at /oidc/v1/token; the SDK caches and
    # refreshes the token.
    databricks_server.statement_scripts.append(Script(columns=["x"], rows=[["1"]]))
    async with DatabricksPlatform(_m2m(databricks_server), settings) as p:
        assert p.auth_method == "oauth-m2m"
        await p.test_connection()
        result = await p.run("SELECT 1 AS x", language=Language.SQL, name="m2m")
    assert result.rows == [{"x": "1"}]
    token_requests = [r for r in databricks_server.requests if r.path == "/oidc/v1/token"]
    assert len(token_requests) == 1
    (token,) = databricks_server.oauth_tokens
    assert all(
        r.headers["authorization"] == f"Bearer {token}" for r in databricks_server.api_requests()
    )


async def test_oauth_m2m_with_a_wrong_secret_is_an_auth_error_without_the_secret(
    databricks_server: FakeDatabricks, settings: PlatformSettings, fake_time: FakeTime
) -> None:
    wrong = "dose-wrong-secret-7777"
    async with DatabricksPlatform(
        _m2m(databricks_server, wrong), settings, sleep=fake_time.sleep, clock=fake_time.clock
    ) as p:
        with pytest.raises(PlatformAuthenticationError, match="invalid_client") as caught:
            await p.test_connection()
    assert not is_retryable(caught.value)
    assert caught.value.details["auth_method"] == "oauth-m2m"
    assert not databricks_server.api_requests()
    for text in (str(caught.value), repr(caught.value), repr(_m2m(databricks_server, wrong))):
        assert wrong not in text


async def test_azure_service_principal_gets_entra_tokens_through_the_sdk(
    databricks_server: FakeDatabricks, settings: PlatformSettings
) -> None:
    # databricks-sdk credentials_provider.azure_service_principal: client credentials at
    # {authority}/{tenant}/oauth2/token for the Azure Databricks resource (and the Azure
    # management endpoint, sent as X-Databricks-Azure-SP-Management-Token).
    config = _config(
        databricks_server,
        token=None,
        auth_method="azure-client-secret",
        client_id=databricks_server.azure_client_id,
        client_secret=SecretStr(databricks_server.client_secret),
        azure_tenant_id=databricks_server.azure_tenant_id,
        azure_login_host=databricks_server.url,
    )
    async with DatabricksPlatform(config, settings) as p:
        assert p.auth_method == "azure-client-secret"
        await p.test_connection()
        client = await p._call.client()
        assert databricks_server.client_secret not in client.config.debug_string()
    (token,) = databricks_server.oauth_tokens
    (management,) = databricks_server.management_tokens
    for r in databricks_server.api_requests():
        assert r.headers["authorization"] == f"Bearer {token}"
        assert r.headers["x-databricks-azure-sp-management-token"] == management
    assert databricks_server.client_secret not in repr(config)


def test_an_auth_method_without_its_credentials_is_refused(
    databricks_server: FakeDatabricks, settings: PlatformSettings
) -> None:
    config = _config(databricks_server, token=None, auth_method="oauth-m2m")
    with pytest.raises(InvalidConfigurationError, match=r"oauth-m2m.*client_id, client_secret"):
        DatabricksPlatform(config, settings)


async def test_test_connection_names_a_cluster_that_does_not_exist(
    databricks_server: FakeDatabricks, settings: PlatformSettings
) -> None:
    async with DatabricksPlatform(_config(databricks_server), settings) as p:
        await p.test_connection()
    async with DatabricksPlatform(
        _config(databricks_server, cluster_id="0202-gone"), settings
    ) as p:
        with pytest.raises(InvalidConfigurationError, match="cluster_id='0202-gone'") as caught:
            await p.test_connection()
    assert caught.value.details["field"] == "cluster_id"
    config = _config(databricks_server, cluster_id=None, cluster_policy_id="pol-none")
    async with DatabricksPlatform(config, settings) as p:
        with pytest.raises(InvalidConfigurationError, match="cluster_policy_id='pol-none'"):
            await p.test_connection()


async def test_the_statement_waits_inside_the_post_only_when_the_http_timeout_allows(
    databricks_server: FakeDatabricks, settings: PlatformSettings
) -> None:
    roomy = settings.model_copy(update={"http_timeout_seconds": 30.0})
    async with DatabricksPlatform(_config(databricks_server), roomy) as p:
        await p.submit("SELECT 1", language=Language.SQL, name="q")
    body = databricks_server.api_requests("/api/2.0/sql/statements")[0].body
    assert body["wait_timeout"] == "10s"


async def test_an_expired_statement_is_a_clear_permanent_failure(
    platform: DatabricksPlatform, databricks_server: FakeDatabricks
) -> None:
    # Statements (and their results) expire; polling one afterwards answers 404.
    databricks_server.statement_scripts.append(Script(polls=5))
    handle = await platform.submit("SELECT 1", language=Language.SQL, name="old")
    del databricks_server.statements[handle.run_id]
    with pytest.raises(DeploymentFailedError, match="HTTP 404") as caught:
        await platform.poll(handle)
    assert not is_retryable(caught.value)
    assert handle.run_id in caught.value.message


async def test_a_statement_throttled_to_the_end_stays_retryable(
    databricks_server: FakeDatabricks, settings: PlatformSettings, fake_time: FakeTime
) -> None:
    # 429 means the service did not take it: safe to try again later, so not "ambiguous".
    async with DatabricksPlatform(
        _config(databricks_server), settings, sleep=fake_time.sleep, clock=fake_time.clock,
        max_attempts=2,
    ) as p:  # fmt: skip
        await p.test_connection()
        databricks_server.inject(429, count=2, retry_after="1")
        with pytest.raises(PlatformRateLimitError) as caught:
            await p.submit("SELECT 1", language=Language.SQL, name="q")
    assert is_retryable(caught.value)
    assert not databricks_server.statements


async def test_a_job_submit_resent_after_a_timeout_returns_the_same_run(
    databricks_server: FakeDatabricks, settings: PlatformSettings, fake_time: FakeTime
) -> None:
    # runs/submit honours idempotency_token (JobsAPI.submit): the fake starts the run, holds
    # the answer past the client timeout, and the resend with the same token gets that run.
    quick = settings.model_copy(update={"http_timeout_seconds": 0.5})
    databricks_server.run_scripts.append(Script(exit_value="once"))
    async with DatabricksPlatform(
        _config(databricks_server), quick, sleep=fake_time.sleep, clock=fake_time.clock
    ) as p:
        await p.test_connection()
        databricks_server.delay("POST", "/api/2.2/jobs/runs/submit", 1.5)
        handle = await p.submit("print(1)", language=Language.PYTHON, name="once")
        result = await p.wait(handle)
    assert result.output == "once"
    submits = databricks_server.api_requests("/api/2.2/jobs/runs/submit")
    assert len(submits) == 2
    assert submits[0].body["idempotency_token"] == submits[1].body["idempotency_token"]
    assert list(databricks_server.runs) == [int(handle.run_id)]
