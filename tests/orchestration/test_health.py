"""The ``connection-health`` flow on a real Prefect test API, against the fake platforms."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Any

import pytest
from cryptography.fernet import Fernet
from prefect.blocks.system import Secret
from pydantic import SecretStr
from sqlalchemy import select

from aadap.agents.offline import OfflineLLMClient
from aadap.core.config import PlatformSettings, Settings
from aadap.core.exceptions import InvalidRequestError
from aadap.db import models
from aadap.db.session import Database
from aadap.orchestration.bound_runtime import use_runtime
from aadap.orchestration.health import HealthReport, check_connections
from aadap.orchestration.secret_blocks import load_secret
from aadap.services import connections
from aadap.services.runtime import Runtime
from flows.connection_health import connection_health
from tests.conftest import settings_for
from tests.fakes.databricks_server import FakeDatabricks
from tests.fakes.fabric_server import FakeFabric

pytestmark = pytest.mark.prefect

KEY = Fernet.generate_key().decode()


@pytest.fixture
def settings(db: Database, tmp_path: Path) -> Settings:
    return settings_for(
        db.engine.url.render_as_string(hide_password=False),
        tmp_path / "home",
        secret_key=SecretStr(KEY),
        platforms=PlatformSettings(allowed_hosts=["127.0.0.1"], http_timeout_seconds=5.0),
    )


def dbx_config(server: FakeDatabricks) -> dict[str, Any]:
    return {"workspace_url": server.url, "warehouse_id": "wh-1", "catalog": "main", "schema": "s"}


async def _rows(db: Database, model: type[Any]) -> list[Any]:
    async with db.sessions() as session:
        return list((await session.execute(select(model))).scalars())


async def test_one_healthy_one_refused_one_disabled(
    prefect_api: None,
    db: Database,
    settings: Settings,
    databricks_server: FakeDatabricks,
    fabric_server: FakeFabric,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    wrong = "dapi-revoked-token-0000001"
    await Secret(value=fabric_server.client_secret).asave("aadap-test-fabric", overwrite=True)
    await connections.add(
        db, settings, name="dbx-ok", platform="databricks", config=dbx_config(databricks_server),
        secret=SecretStr(databricks_server.token),
    )  # fmt: skip
    await connections.add(
        db, settings, name="dbx-401", platform="databricks",
        config=dbx_config(databricks_server), secret=SecretStr(wrong),
    )  # fmt: skip
    await connections.add(
        db, settings, name="fabric-ok", platform="fabric", secret_ref="prefect-secret:aadap-test-fabric",
        config={
            "tenant_id": fabric_server.tenant_id, "client_id": fabric_server.client_id,
            "workspace_id": fabric_server.workspace_id, "lakehouse_id": fabric_server.lakehouse_id,
            "api_base": fabric_server.api_base, "authority_host": fabric_server.url,
            "ca_bundle": str(fabric_server.ca_bundle),
        },
    )  # fmt: skip
    await connections.add(db, settings, name="off", platform="local", config={})
    await connections.set_active(db, name="off", active=False)

    with use_runtime(Runtime.build(settings, db, OfflineLLMClient())):
        state = await connection_health(concurrency=2, return_state=True)

    assert state.is_completed(), state.message
    report = await state.result()
    assert isinstance(report, HealthReport)
    assert report.checked == 3
    assert sorted(report.healthy) == ["dbx-ok", "fabric-ok"]
    assert report.unhealthy == ["dbx-401"]
    by_name = {r.name: r for r in await _rows(db, models.PlatformConnection)}
    assert by_name["dbx-ok"].status == by_name["fabric-ok"].status == "OK"
    assert by_name["dbx-ok"].last_latency_ms is not None
    refused = by_name["dbx-401"]
    assert refused.status == "FAILED" and "HTTP 401" in (refused.last_error or "")
    assert refused.last_tested_at is not None
    assert (by_name["off"].status, by_name["off"].last_tested_at) == ("UNTESTED", None)

    logs = [r for r in await _rows(db, models.TaskLog) if r.event.startswith("connection.")]
    warnings = [r for r in logs if r.level == "WARNING"]
    assert [(w.event, w.task_id, w.details["connection"]) for w in warnings] == [
        ("connection.unhealthy", None, "dbx-401")
    ]
    assert warnings[0].error_code == "PLATFORM_AUTH_FAILED"
    assert warnings[0].source == "flow:connection-health"
    assert sorted(r.details["connection"] for r in logs if r.event == "connection.tested") == [
        "dbx-ok",
        "fabric-ok",
    ]
    stored = "\n".join(
        [
            str(tuple(row))
            for table in models.Base.metadata.sorted_tables
            for row in await _all(db, table)
        ]
    )
    for secret in (wrong, databricks_server.token, fabric_server.client_secret, KEY):
        assert secret not in stored
        assert secret not in caplog.text


async def _all(db: Database, table: Any) -> list[Any]:
    async with db.sessions() as session:
        return list((await session.execute(select(table))).all())


async def test_concurrency_is_bounded_and_validated(
    prefect_api: None, db: Database, settings: Settings, databricks_server: FakeDatabricks
) -> None:
    in_flight = peak = 0

    async def slow_blocks(name: str) -> SecretStr:  # an injected resolver that takes its time
        nonlocal in_flight, peak
        in_flight += 1
        peak = max(peak, in_flight)
        await asyncio.sleep(0.05)
        in_flight -= 1
        return SecretStr(databricks_server.token)

    for n in range(5):
        await connections.add(
            db, settings, name=f"dbx-{n}", platform="databricks",
            config=dbx_config(databricks_server), secret_ref=f"prefect-secret:dbx-{n}",
        )  # fmt: skip
    runtime = Runtime.build(settings, db, OfflineLLMClient(), secret_blocks=slow_blocks)
    with use_runtime(runtime):
        report = await connection_health(concurrency=2)
        assert (report.checked, len(report.healthy)) == (5, 5)
        assert peak == 2
        with pytest.raises(InvalidRequestError, match="concurrency=0"):
            await check_connections(concurrency=0)


async def test_a_missing_secret_block_is_recorded_as_a_failed_test(
    prefect_api: None, db: Database, settings: Settings, databricks_server: FakeDatabricks
) -> None:
    await connections.add(
        db, settings, name="dbx", platform="databricks", config=dbx_config(databricks_server),
        secret_ref="prefect-secret:aadap-test-no-such-block",
    )  # fmt: skip
    outcome = await connections.probe(db, settings, name="dbx", blocks=load_secret)
    assert (outcome.ok, outcome.error_code) == (False, "CONFIG_MISSING")
    assert "'aadap-test-no-such-block' does not exist" in (outcome.error or "")
    assert databricks_server.requests == []
    await Secret(value="12345678").asave("aadap-test-numeric", overwrite=True)
    assert (await load_secret("aadap-test-numeric")).get_secret_value() == "12345678"
