"""The data model on both databases (the `backend` fixture parametrises every test)."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.exc import InvalidRequestError as SAInvalidRequestError

from aadap.db import models
from aadap.db.session import Database
from tests import builders


async def test_json_metadata_round_trips(db: Database) -> None:
    payload = {
        "sources": ["orders.csv"],
        "nested": {"n": 3, "ok": True, "none": None},
        "unicode": "Zürich ✓",
    }
    async with db.transaction() as s:
        task = builders.task(metadata_=payload)
        s.add(task)
    async with db.sessions() as s:
        loaded = await s.get(models.Task, task.id)
        assert loaded is not None
        assert loaded.metadata_ == payload


async def test_timestamps_are_timezone_aware_utc(db: Database) -> None:
    paris = dt.timezone(dt.timedelta(hours=1))
    moment = dt.datetime(2026, 3, 1, 12, 30, tzinfo=paris)
    async with db.transaction() as s:
        task = builders.task()
        s.add(task)
        await s.flush()
        s.add(builders.log(task.id, created_at=moment))
    async with db.sessions() as s:
        row = (await s.execute(select(models.TaskLog))).scalar_one()
        loaded_task = await s.get(models.Task, task.id)
    assert row.created_at.tzinfo is not None
    assert row.created_at.utcoffset() == dt.timedelta(0)
    assert row.created_at == moment  # same instant
    assert row.created_at.hour == 11
    assert loaded_task is not None and loaded_task.created_at.tzinfo is not None


async def test_naive_datetimes_are_refused(db: Database) -> None:
    with pytest.raises(Exception, match="naive datetime"):
        async with db.transaction() as s:
            s.add(builders.log(None, created_at=dt.datetime(2026, 1, 1)))  # noqa: DTZ001


async def test_cost_is_an_exact_decimal(db: Database) -> None:
    async with db.transaction() as s:
        task = builders.task(cost_usd=Decimal("0.1"))
        s.add(task)
        await s.flush()
        for _ in range(3):
            s.add(builders.cost(task.id, cost_usd=Decimal("0.1000000001")))
    async with db.sessions() as s:
        costs = (await s.execute(select(models.CostRecord.cost_usd))).scalars().all()
        loaded = await s.get(models.Task, task.id)
    assert sum(costs, Decimal(0)) == Decimal("0.3000000003")
    assert all(isinstance(c, Decimal) for c in costs)
    assert loaded is not None and loaded.cost_usd == Decimal("0.1")


async def test_call_id_is_unique(db: Database) -> None:
    async with db.transaction() as s:
        task = builders.task()
        s.add(task)
        await s.flush()
        s.add(builders.cost(task.id, call_id="call-1"))
    with pytest.raises(IntegrityError):
        async with db.transaction() as s:
            s.add(builders.cost(task.id, call_id="call-1"))
    async with db.sessions() as s:
        assert (await s.execute(select(func.count(models.CostRecord.id)))).scalar_one() == 1


async def test_sequence_numbers_are_unique_per_task(db: Database) -> None:
    async with db.transaction() as s:
        a, b = builders.task(), builders.task()
        s.add_all([a, b])
        await s.flush()
        s.add(builders.transition(a.id, 1, "SUBMITTED", "PARSING"))
        s.add(builders.transition(b.id, 1, "SUBMITTED", "PARSING"))  # same number, other task: fine
    with pytest.raises(
        IntegrityError,
        match=r"uq_state_transitions_task_id|state_transitions\.task_id, state_transitions\.sequence_num",
    ):
        async with db.transaction() as s:
            s.add(builders.transition(a.id, 1, "PARSING", "PARSED"))


async def test_deleting_a_task_cascades_to_its_trail(db: Database) -> None:
    async with db.transaction() as s:
        task = builders.task()
        s.add(task)
        await s.flush()
        s.add(builders.transition(task.id, 1, "SUBMITTED", "PARSING"))
        s.add(builders.log(task.id))
        s.add(builders.cost(task.id))
        s.add(
            models.Artifact(
                task_id=task.id,
                artifact_type="generated_code",
                name="code",
                content="SELECT 1",
                content_hash="x",
            )
        )
    async with db.transaction() as s:
        loaded = await s.get(models.Task, task.id)
        await s.delete(loaded)
    async with db.sessions() as s:
        for model in (models.StateTransition, models.TaskLog, models.Artifact):
            assert (await s.execute(select(func.count()).select_from(model))).scalar_one() == 0
        # the cost ledger outlives the task: spend reports must not change when a task is deleted
        ledger = (await s.execute(select(models.CostRecord))).scalar_one()
        assert ledger.task_id is None


@pytest.mark.parametrize(
    ("field", "value", "constraint"),
    [
        ("environment", "STAGING", "ck_tasks_environment"),
        ("current_state", "RUNNING", "ck_tasks_current_state"),
        ("platform", "snowflake", "ck_tasks_platform"),
        ("priority", 11, "ck_tasks_priority_range"),
    ],
)
async def test_check_violations_name_the_constraint(
    db: Database, field: str, value: object, constraint: str
) -> None:
    with pytest.raises(IntegrityError) as info:
        async with db.transaction() as s:
            s.add(builders.task(**{field: value}))
    text = str(info.value.orig).lower()
    # PostgreSQL names the constraint; SQLite names it too ("CHECK constraint failed: <name>")
    assert constraint in text
    async with db.sessions() as s:
        assert (await s.execute(select(func.count(models.Task.id)))).scalar_one() == 0


async def test_log_level_and_cost_kind_are_checked(db: Database) -> None:
    with pytest.raises(IntegrityError, match="ck_task_logs_level"):
        async with db.transaction() as s:
            s.add(builders.log(None, level="LOUD"))
    with pytest.raises(IntegrityError, match="ck_cost_records_kind"):
        async with db.transaction() as s:
            s.add(builders.cost(None, kind="gpu"))


async def test_connection_names_are_unique_and_secret_has_one_source(db: Database) -> None:
    async with db.transaction() as s:
        s.add(
            models.PlatformConnection(
                name="dbx", platform="databricks", config={"workspace_url": "https://x"}
            )
        )
    with pytest.raises(
        IntegrityError, match=r"uq_platform_connections_name|platform_connections\.name"
    ):
        async with db.transaction() as s:
            s.add(models.PlatformConnection(name="dbx", platform="databricks"))
    with pytest.raises(IntegrityError, match="ck_platform_connections_one_secret_source"):
        async with db.transaction() as s:
            s.add(
                models.PlatformConnection(
                    name="both",
                    platform="fabric",
                    secret_ciphertext="gAAA",
                    secret_ref="env:FABRIC_SECRET",
                )
            )


async def test_idempotency_key_is_unique(db: Database) -> None:
    async with db.transaction() as s:
        s.add(builders.task(idempotency_key="req-1"))
    with pytest.raises(IntegrityError, match=r"uq_tasks_idempotency_key|tasks\.idempotency_key"):
        async with db.transaction() as s:
            s.add(builders.task(idempotency_key="req-1"))


async def test_relationships_refuse_lazy_io(db: Database) -> None:
    async with db.transaction() as s:
        task = builders.task()
        s.add(task)
    async with db.sessions() as s:
        loaded = await s.get(models.Task, task.id)
        assert loaded is not None
        with pytest.raises(SAInvalidRequestError, match="lazy='raise'"):
            _ = loaded.transitions


async def test_uuid_primary_keys(db: Database) -> None:
    async with db.transaction() as s:
        task = builders.task()
        s.add(task)
    assert isinstance(task.id, uuid.UUID)
