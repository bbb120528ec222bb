"""Idempotency keys mean what they say: the same key with the same request is the same
task; the same key with a different request is a conflict naming the existing task."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from aadap.core.exceptions import IdempotencyConflictError, InvalidRequestError
from aadap.core.requests import TaskRequest
from aadap.core.states import TaskState
from aadap.db import models
from aadap.db.session import Database
from aadap.services import tasks
from tests.conftest import settings_for

KEY = "nightly-2026-11-28"


def request(**fields: Any) -> TaskRequest:
    values: dict[str, Any] = {
        "text": "load data/orders.csv into raw_orders",
        "idempotency_key": KEY,
        "working_dir": "srv/aadap",  # under the data root (the directory tests run in)
    }
    values.update(fields)
    return TaskRequest.parse(values)


async def task_count(db: Database) -> int:
    async with db.sessions() as session:
        return int((await session.execute(select(func.count(models.Task.id)))).scalar_one())


async def test_the_same_key_with_the_same_request_returns_the_existing_task(
    db: Database, tmp_path: Path
) -> None:
    settings = settings_for(db.engine.url.render_as_string(hide_password=False), tmp_path)
    first, created = await tasks.create(db, settings, request(usd_budget="0.50"))
    # budgets left out take the stored ones; an equal decimal written differently is equal
    again, created_again = await tasks.create(db, settings, request(usd_budget="0.5"))
    plain, created_plain = await tasks.create(db, settings, request())

    assert created and not created_again and not created_plain
    assert again.id == plain.id == first.id
    assert await task_count(db) == 1


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"text": "load data/orders.csv into other_table"}, "text"),
        ({"environment": "PRODUCTION"}, "environment"),
        ({"working_dir": "elsewhere"}, "working_dir"),
        ({"token_budget": 7}, "token_budget"),
    ],
)
async def test_the_same_key_with_a_different_request_is_a_conflict_naming_the_task(
    db: Database, tmp_path: Path, change: dict[str, Any], field: str
) -> None:
    settings = settings_for(db.engine.url.render_as_string(hide_password=False), tmp_path)
    first, _ = await tasks.create(db, settings, request())

    with pytest.raises(IdempotencyConflictError) as refused:
        await tasks.create(db, settings, request(**change))

    error = refused.value
    assert isinstance(error, InvalidRequestError)  # bad input: exit 2 from the CLI
    assert error.error_code == "IDEMPOTENCY_CONFLICT"
    assert str(first.id) in error.message and KEY in error.message
    assert field in error.message
    assert error.details["existing_task_id"] == str(first.id)
    assert error.details["differs_in"] == [field]
    assert error.task_id == str(first.id)
    assert await task_count(db) == 1


@pytest.mark.postgres
@pytest.mark.parametrize("backend", ["postgres"])
async def test_two_concurrent_creations_with_one_key_make_one_task(
    db: Database, tmp_path: Path
) -> None:
    settings = settings_for(db.engine.url.render_as_string(hide_password=False), tmp_path)
    first_step = (TaskState.PARSING, "parser")
    for round_no in range(3):  # the loser may meet the winner at the lookup or at the INSERT
        key = f"{KEY}-{round_no}"
        made = await asyncio.gather(
            *(
                tasks.create(db, settings, request(idempotency_key=key), first_step=first_step)
                for _ in range(2)
            )
        )
        assert sorted(created for _, created in made) == [False, True]
        assert made[0][0].id == made[1][0].id
    assert await task_count(db) == 3


@pytest.mark.postgres
@pytest.mark.parametrize("backend", ["postgres"])
async def test_two_concurrent_creations_with_one_key_and_different_requests_conflict(
    db: Database, tmp_path: Path
) -> None:
    settings = settings_for(db.engine.url.render_as_string(hide_password=False), tmp_path)
    made = await asyncio.gather(
        tasks.create(db, settings, request()),
        tasks.create(db, settings, request(text="profile the orders table")),
        return_exceptions=True,
    )

    winners = [m for m in made if isinstance(m, tuple)]
    refused = [m for m in made if isinstance(m, BaseException)]
    assert len(winners) == 1 and winners[0][1] is True
    assert len(refused) == 1 and isinstance(refused[0], IdempotencyConflictError)
    assert refused[0].details["existing_task_id"] == str(winners[0][0].id)
    assert await task_count(db) == 1
