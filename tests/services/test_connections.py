"""The connections service against the fake Databricks and Fabric servers, on both databases.

Real HTTP, real databricks-sdk / azure-identity / httpx; after every test that
handles a secret, the database rows and the captured logs are searched for it.
"""

from __future__ import annotations

import json
import logging
import uuid
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from cryptography.fernet import Fernet
from pydantic import SecretStr
from sqlalchemy import func, select

from aadap.agents.offline import OfflineLLMClient
from aadap.core.config import PlatformSettings, Settings
from aadap.core.enums import ArtifactType, ConnectionStatus, Language, PlatformKind
from aadap.core.exceptions import (
    InvalidConfigurationError,
    InvalidRequestError,
    MissingConfigurationError,
    SecretDecryptionError,
)
from aadap.db import models
from aadap.db.session import Database
from aadap.platforms import DatabricksPlatform, FabricPlatform, LocalPlatform
from aadap.services import artifacts, connections, deployment
from aadap.services.cursor import TaskCursor
from aadap.services.runtime import Runtime
from tests import builders
from tests.conftest import settings_for
from tests.fakes.databricks_server import FakeDatabricks, Script
from tests.fakes.fabric_server import FakeAppServiceIdentity, FakeFabric, Lakehouse

KEY_A = Fernet.generate_key().decode()
KEY_B = Fernet.generate_key().decode()


@pytest.fixture
def fabric_server(fabric_server: FakeFabric) -> FakeFabric:
    fabric_server.lakehouses[fabric_server.lakehouse_id] = Lakehouse(tables=["orders"])
    return fabric_server


def make_settings(db: Database, home: Path, key: str | None = KEY_A, **platforms: Any) -> Settings:
    return settings_for(
        db.engine.url.render_as_string(hide_password=False),
        home,
        secret_key=None if key is None else SecretStr(key),
        platforms=PlatformSettings(
            allowed_hosts=["127.0.0.1"],
            poll_interval_seconds=0.01,
            poll_max_interval_seconds=0.02,
            http_timeout_seconds=5.0,
            **platforms,
        ),
    )


@pytest.fixture
def settings(db: Database, tmp_path: Path) -> Settings:
    return make_settings(db, tmp_path / "home")


def dbx_config(server: FakeDatabricks, **extra: Any) -> dict[str, Any]:
    return {
        "workspace_url": server.url,
        "warehouse_id": "wh-1",
        "cluster_id": "0101-abc",
        "catalog": "main",
        "schema": "sales",
        **extra,
    }


def fabric_config(server: FakeFabric) -> dict[str, Any]:
    return {
        "tenant_id": server.tenant_id,
        "client_id": server.client_id,
        "workspace_id": server.workspace_id,
        "lakehouse_id": server.lakehouse_id,
        "api_base": server.api_base,
        "authority_host": server.url,
        "onelake_base": server.url,
        "ca_bundle": str(server.ca_bundle),
    }


async def dump(db: Database) -> str:
    """Every row of every table, as text: where a leaked secret would show up."""
    parts: list[str] = []
    async with db.sessions() as session:
        for table in models.Base.metadata.sorted_tables:
            for row in (await session.execute(select(table))).all():
                parts.append(json.dumps([str(v) for v in row]))
    return "\n".join(parts)


async def assert_never_stored(
    db: Database, caplog: pytest.LogCaptureFixture, *secrets: str
) -> None:
    stored = await dump(db)
    logged = caplog.text + "\n".join(str(r.__dict__) for r in caplog.records)
    for secret in secrets:
        assert secret not in stored
        assert secret not in logged


async def rows(db: Database, model: type[Any]) -> list[Any]:
    async with db.sessions() as session:
        return list((await session.execute(select(model))).scalars())


async def last_log(db: Database) -> models.TaskLog:
    """The newest ``task_logs`` row (PostgreSQL returns unordered rows in any order)."""
    async with db.sessions() as session:
        return (
            await session.execute(
                select(models.TaskLog).order_by(models.TaskLog.created_at.desc()).limit(1)
            )
        ).scalar_one()


async def row_of(db: Database, name: str) -> models.PlatformConnection:
    async with db.sessions() as session:
        return (
            await session.execute(
                select(models.PlatformConnection).where(models.PlatformConnection.name == name)
            )
        ).scalar_one()


def snapshot(row: models.PlatformConnection) -> dict[str, Any]:
    return {c.key: getattr(row, c.key) for c in models.PlatformConnection.__mapper__.column_attrs}


# --- add, list, show ------------------------------------------------------------------------


async def test_add_encrypts_the_secret_and_shows_only_its_hint(
    db: Database,
    settings: Settings,
    databricks_server: FakeDatabricks,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    token = databricks_server.token
    info = await connections.add(
        db, settings, name="dbx", platform="databricks", config=dbx_config(databricks_server),
        secret=SecretStr(token),
    )  # fmt: skip
    assert info.secret_source == "encrypted"
    assert info.secret_hint == "****" + token[-4:]
    assert info.status == "UNTESTED" and not info.is_default
    assert info.config["schema"] == "sales"
    row = await row_of(db, "dbx")
    assert row.secret_ciphertext and row.secret_ref is None
    assert Fernet(KEY_A.encode()).decrypt(row.secret_ciphertext.encode()).decode() == token
    assert [i.name for i in await connections.list_connections(db)] == ["dbx"]
    shown = await connections.show(db, name="dbx")
    assert token not in shown.model_dump_json()
    (audit,) = await rows(db, models.TaskLog)
    assert (audit.event, audit.task_id, audit.level) == ("connection.added", None, "INFO")
    await assert_never_stored(db, caplog, token)


async def test_a_reference_stores_no_secret_at_all(
    db: Database, tmp_path: Path, databricks_server: FakeDatabricks
) -> None:
    no_key = make_settings(db, tmp_path, key=None)  # a reference needs no AADAP_SECRET_KEY
    info = await connections.add(
        db, no_key, name="dbx", platform="databricks", config=dbx_config(databricks_server),
        secret_ref="env:AADAP_TEST_DBX_TOKEN",
    )  # fmt: skip
    assert (info.secret_source, info.secret_ref, info.secret_hint) == (
        "env",
        "env:AADAP_TEST_DBX_TOKEN",
        None,
    )
    row = await row_of(db, "dbx")
    assert row.secret_ciphertext is None


async def test_a_local_connection_has_no_secret(
    db: Database, settings: Settings, tmp_path: Path
) -> None:
    info = await connections.add(
        db, settings, name="scratch", platform="LOCAL",
        config={"database_path": str(tmp_path / "x.duckdb")},
    )  # fmt: skip
    assert (info.platform, info.secret_source) == ("local", "none")
    with pytest.raises(InvalidRequestError, match="local connection takes no secret"):
        await connections.add(
            db, settings, name="scratch2", platform="local", config={}, secret=SecretStr("x")
        )
    outcome = await connections.probe(db, settings, name="scratch")
    assert outcome.ok and outcome.status == "OK"


BAD_INPUT: list[tuple[str, dict[str, Any], type[Exception], str, str]] = [
    ("malformed url", {"workspace_url": "https://[::1"}, InvalidConfigurationError,
     "workspace_url", "not a valid URL"),
    ("not a url", {"workspace_url": "adb-1.azuredatabricks.net"}, InvalidConfigurationError,
     "workspace_url", "not an absolute"),
    ("plain http", {"workspace_url": "http://adb-1.azuredatabricks.net"},
     InvalidConfigurationError, "workspace_url", "plain http"),
    ("foreign host", {"workspace_url": "https://evil.example.com"}, InvalidConfigurationError,
     "workspace_url", "not a databricks api host"),
    ("missing catalog", {"catalog": None}, InvalidRequestError, "catalog", "Field required"),
    ("unknown field", {"token": "dapi-in-the-config"}, InvalidRequestError, "token",
     "Extra inputs are not permitted"),
    ("two computes", {"cluster_policy_id": "p-1"}, InvalidRequestError, "config",
     "not both"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("change", "error", "field", "text"),
    [pytest.param(*case[1:], id=case[0]) for case in BAD_INPUT],
)
async def test_bad_settings_are_named_and_nothing_is_written(
    db: Database,
    settings: Settings,
    change: dict[str, Any],
    error: type[Exception],
    field: str,
    text: str,
) -> None:
    config = {
        "workspace_url": "https://adb-1.azuredatabricks.net",
        "catalog": "main",
        "schema": "sales",
        "cluster_id": "c-1",
    }
    config.update(change)
    config = {k: v for k, v in config.items() if v is not None}
    with pytest.raises(error, match=text) as info:
        await connections.add(
            db, settings, name="dbx", platform="databricks", config=config,
            secret=SecretStr("dapi-abcdefgh12345678"),
        )  # fmt: skip
    assert isinstance(info.value, InvalidRequestError | InvalidConfigurationError)
    assert info.value.details["field"] == field
    assert "dapi-abcdefgh12345678" not in str(info.value)
    assert await rows(db, models.PlatformConnection) == []
    assert await rows(db, models.TaskLog) == []


async def test_other_bad_input_is_named_and_nothing_is_written(
    db: Database, tmp_path: Path, databricks_server: FakeDatabricks
) -> None:
    settings = make_settings(db, tmp_path)
    config = dbx_config(databricks_server)
    secret = SecretStr(databricks_server.token)
    with pytest.raises(InvalidRequestError, match="platform='snowflake' is unknown") as info:
        await connections.add(
            db, settings, name="x", platform="snowflake", config={}, secret=secret
        )
    assert info.value.details["allowed"] == "local, databricks, fabric"
    with pytest.raises(InvalidRequestError, match="name="):
        await connections.add(db, settings, name="no spaces", platform="local", config={})
    with pytest.raises(InvalidRequestError, match="needs its token"):
        await connections.add(db, settings, name="dbx", platform="databricks", config=config)
    with pytest.raises(InvalidRequestError, match="not both"):
        await connections.add(
            db, settings, name="dbx", platform="databricks", config=config, secret=secret,
            secret_ref="env:X",
        )  # fmt: skip
    with pytest.raises(MissingConfigurationError, match="AADAP_SECRET_KEY is not set") as missing:
        await connections.add(
            db, make_settings(db, tmp_path, key=None), name="dbx", platform="databricks",
            config=config, secret=secret,
        )  # fmt: skip
    assert missing.value.details["field"] == "AADAP_SECRET_KEY"
    assert await rows(db, models.PlatformConnection) == []
    assert await rows(db, models.TaskLog) == []


async def test_a_duplicate_name_is_refused_by_the_database_and_named(
    db: Database, settings: Settings, databricks_server: FakeDatabricks
) -> None:
    await connections.add(
        db, settings, name="dbx", platform="databricks", config=dbx_config(databricks_server),
        secret=SecretStr("dapi-first-secret-0001"),
    )  # fmt: skip
    with pytest.raises(InvalidRequestError, match="name='dbx' is already used") as info:
        await connections.add(db, settings, name="dbx", platform="local", config={}, default=True)
    assert info.value.details == {"field": "name", "value": "dbx"}
    (row,) = await rows(db, models.PlatformConnection)
    assert (row.platform, row.is_default) == ("databricks", False)
    assert len(await rows(db, models.TaskLog)) == 1  # the first add's audit row only


# --- test (probe) ---------------------------------------------------------------------------


async def test_a_healthy_connection_records_status_latency_and_a_log_row(
    db: Database,
    settings: Settings,
    databricks_server: FakeDatabricks,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    await connections.add(
        db, settings, name="dbx", platform="databricks", config=dbx_config(databricks_server),
        secret=SecretStr(databricks_server.token),
    )  # fmt: skip
    outcome = await connections.probe(db, settings, name="dbx", source="tests")
    assert outcome.ok and outcome.status == "OK" and outcome.error is None
    assert outcome.latency_ms is not None and outcome.latency_ms >= 0
    row = await row_of(db, "dbx")
    assert row.status == ConnectionStatus.OK.value
    assert row.last_latency_ms == outcome.latency_ms
    assert row.last_tested_at == outcome.tested_at
    assert row.last_error is None
    calls = databricks_server.api_requests()
    assert [r.path for r in calls] == [
        "/api/2.0/preview/scim/v2/Me",
        "/api/2.0/sql/warehouses/wh-1",
        "/api/2.1/clusters/get",
    ]
    assert calls[0].headers["authorization"] == f"Bearer {databricks_server.token}"
    log = await last_log(db)
    assert (log.event, log.level, log.source, log.task_id) == (
        "connection.tested",
        "INFO",
        "tests",
        None,
    )
    assert log.details["latency_ms"] == outcome.latency_ms
    await assert_never_stored(db, caplog, databricks_server.token)


async def test_a_refused_token_records_failed_with_the_error_and_a_warning(
    db: Database,
    settings: Settings,
    databricks_server: FakeDatabricks,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    wrong = "dapi-wrong-token-9876543210"
    await connections.add(
        db, settings, name="dbx", platform="databricks", config=dbx_config(databricks_server),
        secret=SecretStr(wrong),
    )  # fmt: skip
    outcome = await connections.probe(db, settings, name="dbx")
    assert not outcome.ok and outcome.status == "FAILED"
    assert outcome.error_code == "PLATFORM_AUTH_FAILED"
    assert "HTTP 401" in (outcome.error or "")
    row = await row_of(db, "dbx")
    assert (row.status, row.last_error) == ("FAILED", outcome.error)
    assert row.last_tested_at is not None and row.last_latency_ms is not None
    log = await last_log(db)
    assert (log.event, log.level, log.error_code, log.task_id) == (
        "connection.unhealthy",
        "WARNING",
        "PLATFORM_AUTH_FAILED",
        None,
    )
    assert len(databricks_server.api_requests()) == 1  # 401 is not retried
    await assert_never_stored(db, caplog, wrong, databricks_server.token)


async def test_fabric_by_env_reference_and_a_missing_variable(
    db: Database,
    settings: Settings,
    fabric_server: FakeFabric,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    await connections.add(
        db, settings, name="fab", platform="fabric", config=fabric_config(fabric_server),
        secret_ref="env:AADAP_TEST_FABRIC_SECRET",
    )  # fmt: skip
    missing = await connections.probe(db, settings, name="fab")
    assert not missing.ok and missing.error_code == "CONFIG_MISSING"
    assert "AADAP_TEST_FABRIC_SECRET" in (missing.error or "")
    assert fabric_server.requests == []  # nothing was sent without a secret
    assert (await row_of(db, "fab")).status == "FAILED"

    monkeypatch.setenv("AADAP_TEST_FABRIC_SECRET", fabric_server.client_secret)
    outcome = await connections.probe(db, settings, name="fab")
    assert outcome.ok, outcome.error
    assert [r.path for r in fabric_server.api_requests()] == [
        f"/v1/workspaces/{fabric_server.workspace_id}",
        f"/v1/workspaces/{fabric_server.workspace_id}/lakehouses/{fabric_server.lakehouse_id}",
    ]
    row = await row_of(db, "fab")
    assert (row.status, row.last_error) == ("OK", None)
    await assert_never_stored(db, caplog, fabric_server.client_secret)


async def test_fabric_encrypted_secret_refused_by_the_authority(
    db: Database,
    settings: Settings,
    fabric_server: FakeFabric,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    wrong = "fabric-wrong-client-secret-42"
    await connections.add(
        db, settings, name="fab", platform="fabric", config=fabric_config(fabric_server),
        secret=SecretStr(wrong),
    )  # fmt: skip
    outcome = await connections.probe(db, settings, name="fab")
    assert not outcome.ok and outcome.error_code == "PLATFORM_AUTH_FAILED"
    assert fabric_server.api_requests() == []  # refused at the token endpoint
    await assert_never_stored(db, caplog, wrong, fabric_server.client_secret)


async def test_probing_an_unknown_name_is_bad_input(db: Database, settings: Settings) -> None:
    with pytest.raises(InvalidRequestError, match="name='ghost' does not exist"):
        await connections.probe(db, settings, name="ghost")


# --- keys: rotation, wrong key, rekey ---------------------------------------------------------


async def test_key_rotation_with_live_connections(
    db: Database,
    tmp_path: Path,
    databricks_server: FakeDatabricks,
    fabric_server: FakeFabric,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    with_a = make_settings(db, tmp_path, key=KEY_A)
    await connections.add(
        db, with_a, name="dbx", platform="databricks", config=dbx_config(databricks_server),
        secret=SecretStr(databricks_server.token),
    )  # fmt: skip
    await connections.add(
        db, with_a, name="fab", platform="fabric", config=fabric_config(fabric_server),
        secret=SecretStr(fabric_server.client_secret),
    )  # fmt: skip
    await connections.add(
        db, with_a, name="by-ref", platform="databricks", config=dbx_config(databricks_server),
        secret_ref="env:AADAP_TEST_UNUSED",
    )  # fmt: skip
    assert (await connections.probe(db, with_a, name="dbx")).ok

    # the new key goes in front; both still decrypt, then rekey moves everything to B
    b_then_a = make_settings(db, tmp_path, key=f"{KEY_B},{KEY_A}")
    assert (await connections.probe(db, b_then_a, name="fab")).ok
    before = {r.name: r.secret_ciphertext for r in await rows(db, models.PlatformConnection)}
    assert await connections.rekey(db, b_then_a) == 2
    after = {r.name: r.secret_ciphertext for r in await rows(db, models.PlatformConnection)}
    assert after["by-ref"] is None and before["by-ref"] is None
    assert after["dbx"] != before["dbx"] and after["fab"] != before["fab"]

    only_b = make_settings(db, tmp_path, key=KEY_B)
    assert (await connections.probe(db, only_b, name="dbx")).ok
    assert (await connections.probe(db, only_b, name="fab")).ok

    only_a = make_settings(db, tmp_path, key=KEY_A)
    untouched = snapshot(await row_of(db, "dbx"))
    requests_before = len(databricks_server.requests)
    with pytest.raises(SecretDecryptionError, match="'dbx'") as info:
        await connections.probe(db, only_a, name="dbx")
    assert KEY_A not in str(info.value) and KEY_B not in str(info.value)
    assert snapshot(await row_of(db, "dbx")) == untouched  # not even the status was rewritten
    assert len(databricks_server.requests) == requests_before
    log = await last_log(db)
    assert (log.event, log.error_code) == ("connection.unhealthy", "SECRET_DECRYPTION_FAILED")
    with pytest.raises(SecretDecryptionError):
        await connections.rekey(db, only_a)
    assert {r.name: r.secret_ciphertext for r in await rows(db, models.PlatformConnection)} == after
    await assert_never_stored(
        db, caplog, databricks_server.token, fabric_server.client_secret, KEY_A, KEY_B
    )


async def test_rekey_is_all_or_nothing(
    db: Database, tmp_path: Path, databricks_server: FakeDatabricks
) -> None:
    config = dbx_config(databricks_server)
    await connections.add(
        db, make_settings(db, tmp_path, key=KEY_A), name="a", platform="databricks",
        config=config, secret=SecretStr("dapi-secret-under-key-a"),
    )  # fmt: skip
    await connections.add(
        db, make_settings(db, tmp_path, key=KEY_B), name="b", platform="databricks",
        config=config, secret=SecretStr("dapi-secret-under-key-b"),
    )  # fmt: skip
    before = {r.name: r.secret_ciphertext for r in await rows(db, models.PlatformConnection)}
    with pytest.raises(SecretDecryptionError, match="connection 'b'"):
        await connections.rekey(db, make_settings(db, tmp_path, key=KEY_A))
    assert {
        r.name: r.secret_ciphertext for r in await rows(db, models.PlatformConnection)
    } == before
    with pytest.raises(MissingConfigurationError):
        await connections.rekey(db, make_settings(db, tmp_path, key=None))


# --- rotate, default, enable, remove ----------------------------------------------------------


async def test_rotate_replaces_the_secret_and_resets_the_status(
    db: Database,
    settings: Settings,
    tmp_path: Path,
    databricks_server: FakeDatabricks,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    old = "dapi-old-token-that-expired-01"
    await connections.add(
        db, settings, name="dbx", platform="databricks", config=dbx_config(databricks_server),
        secret=SecretStr(old),
    )  # fmt: skip
    assert not (await connections.probe(db, settings, name="dbx")).ok
    failed = snapshot(await row_of(db, "dbx"))
    no_key = make_settings(db, tmp_path, key=None)
    with pytest.raises(MissingConfigurationError):
        await connections.rotate(db, no_key, name="dbx", secret=SecretStr("dapi-new-1234567"))
    with pytest.raises(InvalidRequestError, match="secret_ref='env:'"):
        await connections.rotate(db, settings, name="dbx", secret_ref="env:")
    assert snapshot(await row_of(db, "dbx")) == failed  # nothing half-written
    info = await connections.rotate(
        db, settings, name="dbx", secret=SecretStr(databricks_server.token)
    )
    assert info.rotated_at is not None
    assert (info.status, info.last_error) == ("UNTESTED", None)
    assert info.secret_hint == "****" + databricks_server.token[-4:]
    assert (await connections.probe(db, settings, name="dbx")).ok
    moved = await connections.rotate(db, settings, name="dbx", secret_ref="env:DBX_TOKEN")
    assert (moved.secret_source, moved.secret_hint) == ("env", None)
    assert (await row_of(db, "dbx")).secret_ciphertext is None
    events = [r.event for r in await rows(db, models.TaskLog)]
    assert events.count("connection.rotated") == 2
    await assert_never_stored(db, caplog, old, databricks_server.token)


async def test_exactly_one_default(db: Database, settings: Settings, tmp_path: Path) -> None:
    for name in ("one", "two", "three"):
        await connections.add(db, settings, name=name, platform="local", config={})
    await connections.add(db, settings, name="four", platform="local", config={}, default=True)
    await connections.set_default(db, name="two")
    await connections.set_default(db, name="two")
    defaults = [i.name for i in await connections.list_connections(db) if i.is_default]
    assert defaults == ["two"]
    with pytest.raises(InvalidRequestError, match="does not exist"):
        await connections.set_default(db, name="nope")


async def test_remove_refuses_while_an_unfinished_task_uses_it(
    db: Database, settings: Settings
) -> None:
    info = await connections.add(db, settings, name="scratch", platform="local", config={})
    task = builders.task(platform="local", connection_id=uuid.UUID(info.id))
    async with db.transaction() as session:
        session.add(task)
    with pytest.raises(InvalidRequestError, match="unfinished task"):
        await connections.remove(db, name="scratch")
    async with db.transaction() as session:
        row = await session.get(models.Task, task.id)
        assert row is not None
        row.current_state = "CANCELLED"
    await connections.remove(db, name="scratch")
    assert await connections.list_connections(db) == []
    async with db.sessions() as session:
        kept = await session.get(models.Task, task.id)
    assert kept is not None and kept.connection_id is None


# --- the lifecycle: which platform a task gets, and a deployment ---------------------------


async def test_platform_for_uses_the_tasks_connection_or_the_default(
    db: Database,
    tmp_path: Path,
    databricks_server: FakeDatabricks,
    fabric_server: FakeFabric,
) -> None:
    settings = make_settings(db, tmp_path)
    rt = Runtime.build(settings, db, OfflineLLMClient())
    dbx = await connections.add(
        db, settings, name="dbx", platform="databricks", config=dbx_config(databricks_server),
        secret=SecretStr(databricks_server.token),
    )  # fmt: skip
    await connections.add(
        db, settings, name="fab", platform="fabric", config=fabric_config(fabric_server),
        secret=SecretStr(fabric_server.client_secret), default=True,
    )  # fmt: skip
    own = builders.task(platform="databricks", connection_id=uuid.UUID(dbx.id))
    default_fabric = builders.task(platform="fabric")
    no_default = builders.task(platform="databricks")
    removed = builders.task(platform="databricks", metadata_={"connection": "gone"})
    embedded = builders.task(platform="local")
    async with db.transaction() as session:
        session.add_all([own, default_fabric, no_default, removed, embedded])

    async with await rt.platform_for(own) as platform:
        assert isinstance(platform, DatabricksPlatform) and platform.host == databricks_server.url
        assert await platform.test_connection() >= 0
    async with await rt.platform_for(default_fabric) as platform:
        assert isinstance(platform, FabricPlatform)
        assert await platform.list_tables() == ["orders"]
    with pytest.raises(InvalidConfigurationError, match="no default for this platform"):
        await rt.platform_for(no_default)
    with pytest.raises(InvalidConfigurationError, match="'gone' was removed"):
        await rt.platform_for(removed)
    assert isinstance(await rt.platform_for(embedded), LocalPlatform)

    await connections.set_active(db, name="dbx", active=False)
    with pytest.raises(InvalidConfigurationError, match="disabled"):
        await rt.platform_for(own)

    # AADAP_PLATFORMS_DEFAULT_CONNECTION wins over the row marked default
    named = Runtime.build(
        make_settings(db, tmp_path, default_connection="dbx"), db, OfflineLLMClient()
    )
    with pytest.raises(InvalidConfigurationError, match="no default for this platform"):
        await named.platform_for(default_fabric)
    ghost = Runtime.build(
        make_settings(db, tmp_path, default_connection="ghost"), db, OfflineLLMClient()
    )
    with pytest.raises(InvalidConfigurationError, match="AADAP_PLATFORMS_DEFAULT_CONNECTION"):
        await ghost.platform_for(default_fabric)


async def _approved_task(db: Database, connection_id: uuid.UUID, code: str) -> models.Task:
    """A databricks task in state APPROVED whose ``code`` passed review and was approved."""
    digest = artifacts.content_hash(code)
    task = builders.task(
        platform="databricks", connection_id=connection_id, current_state="APPROVED"
    )
    async with db.transaction() as session:
        session.add(task)
        await session.flush()
        await artifacts.store(
            session,
            artifacts.new_row(
                task_id=task.id,
                artifact_type=ArtifactType.REVIEW_REPORT,
                name="review",
                content=json.dumps({"review": {"passed": True}, "code_sha256": digest}),
            ),
        )
        session.add(
            models.ApprovalRequest(
                task_id=task.id, operation_class="write", environment="SANDBOX", risk_level="LOW",
                status="APPROVED", code_hash=digest, requested_by="tests", decided_by="reviewer:tests",
            )
        )  # fmt: skip
    return task


async def test_deploying_to_databricks_links_the_connection_and_records_compute_cost(
    db: Database,
    tmp_path: Path,
    databricks_server: FakeDatabricks,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    settings = make_settings(db, tmp_path)
    info = await connections.add(
        db, settings, name="dbx", platform="databricks", config=dbx_config(databricks_server),
        secret=SecretStr(databricks_server.token),
    )  # fmt: skip
    code = "df = spark.range(10)\ndf.write.saveAsTable('main.sales.numbers')\n"
    task = await _approved_task(db, uuid.UUID(info.id), code)
    databricks_server.run_scripts.append(Script(polls=2, exit_value="10 rows"))
    lc = TaskCursor(Runtime.build(settings, db, OfflineLLMClient()), task.id)

    execution = await deployment.deploy(lc, code, Language.PYSPARK)

    assert execution.status == "SUCCESS"
    (row,) = await rows(db, models.Execution)
    assert row.connection_id == uuid.UUID(info.id)
    assert row.platform == PlatformKind.DATABRICKS.value
    assert row.run_url and row.run_url.startswith(databricks_server.url)
    assert row.duration_ms == 4200
    (submitted,) = databricks_server.api_requests("/jobs/runs/submit")
    assert submitted.body["tasks"][0]["existing_cluster_id"] == "0101-abc"
    (cost,) = [c for c in await rows(db, models.CostRecord) if c.kind == "compute"]
    assert (cost.task_id, cost.provider, cost.latency_ms) == (task.id, "databricks", 4200)
    assert cost.cost_usd == (Decimal(4200) / Decimal(3_600_000) * Decimal("0.70")).quantize(
        Decimal("0.0000000001")
    )
    assert (await lc.state()).value == "COMPLETED"  # a deployment completes the task it deploys
    async with db.sessions() as session:
        count = (await session.execute(select(func.count(models.Execution.id)))).scalar_one()
    assert count == 1
    await assert_never_stored(db, caplog, databricks_server.token)


# --- the auth methods teams use (issue 23.4) ------------------------------------------------


async def test_databricks_oauth_m2m_connection_reports_its_method(
    db: Database,
    settings: Settings,
    databricks_server: FakeDatabricks,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    config = dbx_config(
        databricks_server, auth_method="oauth-m2m", client_id=databricks_server.client_id
    )
    info = await connections.add(
        db, settings, name="dbx-sp", platform="databricks", config=config,
        secret=SecretStr(databricks_server.client_secret),
    )  # fmt: skip
    assert info.secret_source == "encrypted"
    outcome = await connections.probe(db, settings, name="dbx-sp")
    assert outcome.ok, outcome.error
    assert outcome.auth_method == "oauth-m2m"
    assert len(databricks_server.oauth_tokens) == 1
    await assert_never_stored(db, caplog, databricks_server.client_secret)


async def test_an_auth_method_missing_its_ids_is_refused_naming_the_field(
    db: Database, settings: Settings, databricks_server: FakeDatabricks, fabric_server: FakeFabric
) -> None:
    with pytest.raises(InvalidRequestError, match=r"oauth-m2m.*needs client_id"):
        await connections.add(
            db, settings, name="x", platform="databricks",
            config=dbx_config(databricks_server, auth_method="oauth-m2m"), secret=SecretStr("s"),
        )  # fmt: skip
    bad_ws = {**fabric_config(fabric_server), "workspace_id": "ws-0001"}
    with pytest.raises(InvalidRequestError, match="workspace_id='ws-0001'"):
        await connections.add(
            db, settings, name="y", platform="fabric", config=bad_ws, secret=SecretStr("s")
        )


async def test_fabric_managed_identity_takes_no_secret_and_reports_its_method(
    db: Database,
    settings: Settings,
    fabric_server: FakeFabric,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    config = {**fabric_config(fabric_server), "auth_method": "managed-identity"}
    del config["tenant_id"]
    with pytest.raises(InvalidRequestError, match=r"managed-identity'? takes no secret"):
        await connections.add(
            db, settings, name="fab-mi", platform="fabric", config=config, secret=SecretStr("s")
        )
    info = await connections.add(db, settings, name="fab-mi", platform="fabric", config=config)
    assert info.secret_source == "none"
    with FakeAppServiceIdentity(fabric_server, client_id=fabric_server.client_id) as identity:
        monkeypatch.setenv("IDENTITY_ENDPOINT", identity.endpoint)
        monkeypatch.setenv("IDENTITY_HEADER", identity.header)
        outcome = await connections.probe(db, settings, name="fab-mi")
    assert outcome.ok, outcome.error
    assert outcome.auth_method == "managed-identity"
    assert len(identity.requests) == 1
