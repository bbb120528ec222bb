"""The metered LLM client over a real database and real HTTP: every client-side retry
leaves a WARNING ``task_logs`` row (attempt, status, wait), and an unpriced call under a
USD budget stops the task with ``MODEL_UNPRICED`` naming the model and the fix."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from decimal import Decimal
from typing import Any

import httpx
import pytest
from pydantic import SecretStr
from sqlalchemy import select

from aadap.core.config import LLMSettings
from aadap.core.exceptions import UnpricedModelError
from aadap.db import models
from aadap.db.session import Database
from aadap.llm.messages import LLMRequest, Message
from aadap.llm.openai import OpenAICompatibleClient
from aadap.services import context
from aadap.services.metering import MeteredLLMClient
from tests import builders
from tests.fakes.openai_server import ChatReply, FakeOpenAIServer, Fault

REQUEST = LLMRequest(agent="developer", messages=(Message("user", "dedupe orders"),))


class _NoSleep:
    def __init__(self) -> None:
        self.calls: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)


@pytest.fixture
def upstream() -> Iterator[FakeOpenAIServer]:
    with FakeOpenAIServer() as server:
        yield server


@pytest.fixture
async def metered(
    db: Database, upstream: FakeOpenAIServer
) -> AsyncIterator[tuple[MeteredLLMClient, _NoSleep]]:
    settings = LLMSettings(
        provider="openai",
        base_url=upstream.openai_base_url,
        api_key=SecretStr(upstream.api_key),
        default_model="aadap-developer",
        max_retry_wait_seconds=30,
        allow_in_tests=True,
    )
    sleep = _NoSleep()
    async with httpx.AsyncClient() as http:
        client = OpenAICompatibleClient(settings, http_client=http, sleep=sleep)
        yield MeteredLLMClient(client, db), sleep


async def _task(db: Database, **fields: Any) -> models.Task:
    async with db.transaction() as session:
        task = builders.task(**fields)
        session.add(task)
    return task


def _bind(task: models.Task) -> Any:
    ctx = context.RunContext(task.id, task.correlation_id, "flow-1", "task-run-1", "develop", 2)
    return context.bind(ctx)


async def _rows(db: Database, model: type[Any], task: models.Task) -> list[Any]:
    async with db.sessions() as session:
        stmt = select(model).where(model.task_id == task.id)
        return list((await session.execute(stmt)).scalars())


async def test_each_retry_leaves_a_warning_row_with_attempt_status_and_wait(
    db: Database, upstream: FakeOpenAIServer, metered: tuple[MeteredLLMClient, _NoSleep]
) -> None:
    client, sleep = metered
    task = await _task(db, cost_budget_usd=None)
    upstream.fail_next(
        Fault(status=429, headers={"llm_provider-retry-after": "7"}), Fault.server_error(503)
    )
    with _bind(task):
        await client.complete(REQUEST)

    assert sleep.calls == [7.0, 1.0]
    rows = sorted(
        (r for r in await _rows(db, models.TaskLog, task) if r.event == "llm.retry"),
        key=lambda r: r.details["attempt"],
    )
    assert [(r.level, r.details["attempt"], r.details["status"]) for r in rows] == [
        ("WARNING", 1, 429),
        ("WARNING", 2, 503),
    ]
    assert [r.details["wait_seconds"] for r in rows] == [7.0, 1.0]
    first = rows[0]
    assert first.message == (
        "LLM call of developer failed on attempt 1 of 4 (LLM_RATE_LIMIT, HTTP 429); retrying "
        "in 7s; the endpoint asked for 7s (llm_provider-retry-after)"
    )
    assert (first.task_run_id, first.attempt, first.source) == ("task-run-1", 2, "llm:developer")
    assert len(await _rows(db, models.CostRecord, task)) == 1  # one call, however many tries


async def test_an_unpriced_alias_under_a_usd_budget_names_the_model_and_the_fix(
    db: Database, upstream: FakeOpenAIServer, metered: tuple[MeteredLLMClient, _NoSleep]
) -> None:
    client, _ = metered
    task = await _task(db, cost_budget_usd=Decimal("1.00"))
    with _bind(task), pytest.raises(UnpricedModelError) as caught:
        await client.complete(REQUEST)

    message = str(caught.value)
    assert caught.value.error_code == "MODEL_UNPRICED"
    assert "model 'aadap-developer' has no known price" in message
    assert (
        'AADAP_LLM_PRICES=\'{"aadap-developer": {"input_per_mtok": "0.15", '
        '"output_per_mtok": "0.60"}}\'' in message
    )
    assert "AADAP_BUDGETS_TASK_USD=off" in message
    [row] = await _rows(db, models.CostRecord, task)
    assert row.cost_usd is None  # recorded as unpriced, never as free


async def test_an_unpriced_alias_without_a_usd_budget_runs(
    db: Database, upstream: FakeOpenAIServer, metered: tuple[MeteredLLMClient, _NoSleep]
) -> None:
    client, _ = metered
    upstream.reply_with(ChatReply(content='{"done": true}'))
    task = await _task(db, cost_budget_usd=None)
    with _bind(task):
        completion = await client.complete(REQUEST)
    assert completion.text == '{"done": true}'
    assert completion.usage.cost_usd is None
