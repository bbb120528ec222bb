"""Full lifecycles through a real LiteLLM proxy on loopback, as a team runs AADAP behind one.

One proxy process for the module (``litellm --config``), with

* per-agent aliases ``aadap-<agent>`` answering with LiteLLM's ``mock_response`` (the
  answers the offline provider gives for the same request, recorded once), routed to an
  upstream model no price list knows, and
* a wildcard passthrough to the project's fake upstream (:mod:`tests.fakes.openai_server`),
  which then answers with the same recorded texts, or rate-limits with ``Retry-After``.

The proxy is an executable: ``AADAP_TEST_LITELLM`` (a path) or ``litellm`` on ``PATH``.
It is installed apart from the project (the ``gateway`` extra's requirement, into its own
virtualenv, as ``.ci/run`` does) because its pins would move the project's. Without it
these tests skip, except under ``CI=true``, where they fail.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import AsyncIterator, Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import SecretStr
from sqlalchemy import select

from aadap.agents.offline import OfflineLLMClient
from aadap.core.config import BudgetSettings, LLMSettings, PriceOverride, RetrySettings, Settings
from aadap.core.enums import CostStatus
from aadap.db import migrate, models
from aadap.db.session import Database
from aadap.llm.messages import Completion, LLMClient, LLMRequest
from aadap.llm.openai import OpenAICompatibleClient
from aadap.orchestration.bound_runtime import use_runtime
from aadap.services.runtime import Runtime
from flows.task_lifecycle import task_lifecycle
from tests.conftest import IN_CI, settings_for
from tests.fakes.openai_server import ChatReply, FakeOpenAIServer, Fault
from tests.fakes.processes import free_port, stop, wait_http
from tests.llm.conftest import RecordingSleep

pytestmark = [pytest.mark.prefect, pytest.mark.slow]

DATA = Path(__file__).resolve().parents[2] / "examples" / "data"
LOAD = f"load {DATA / 'orders.csv'} into a table called orders_raw"
MASTER_KEY = "sk-gateway-master-0123456789"
UPSTREAM_KEY = "sk-upstream-key-0123456789"
PRICE = PriceOverride(input_per_mtok=Decimal("2"), output_per_mtok=Decimal("8"))


@pytest.fixture(scope="module", params=["sqlite"])
def backend(request: pytest.FixtureRequest) -> str:
    """The gateway does not depend on the database: SQLite only (the rest of the suite
    covers PostgreSQL)."""
    return str(request.param)


@pytest.fixture(scope="module")
def litellm_exe() -> str:
    exe = os.environ.get("AADAP_TEST_LITELLM") or shutil.which("litellm")
    if exe and Path(exe).is_file():
        return exe
    reason = (
        "no LiteLLM proxy: install it apart from the project "
        "(python -m venv .venv-gateway && .venv-gateway/bin/pip install 'litellm[proxy]>=1.108,<2') "
        "and set AADAP_TEST_LITELLM=.venv-gateway/bin/litellm"
    )
    if IN_CI:
        pytest.fail(f"CI=true but {reason}")
    pytest.skip(reason)


class _Recorder:
    """Records what each agent was answered (for the gateway to answer the same)."""

    def __init__(self, inner: LLMClient) -> None:
        self.inner = inner
        self.provider = inner.provider
        self.replies: list[tuple[str, str]] = []

    def model_for(self, agent: str) -> str:
        return self.inner.model_for(agent)

    async def complete(self, request: LLMRequest) -> Completion:
        completion = await self.inner.complete(request)
        self.replies.append((request.agent, completion.text))
        return completion


async def _run(settings: Settings, db: Database, llm: LLMClient) -> Any:
    with use_runtime(Runtime.build(settings, db, llm)):
        return await task_lifecycle(
            request={"text": LOAD, "working_dir": str(DATA.parent)}, return_state=True
        )


@pytest.fixture(scope="module")
async def offline_replies(
    prefect_api: None,
    tmp_path_factory: pytest.TempPathFactory,
) -> list[tuple[str, str]]:
    """The offline provider's answers to ``LOAD``, agent by agent, from one real lifecycle."""
    home = tmp_path_factory.mktemp("offline-home")
    settings = settings_for(f"sqlite+aiosqlite:///{home / 'aadap.db'}", home)
    db = Database(settings)
    try:
        await migrate.upgrade(db.engine)
        recorder = _Recorder(OfflineLLMClient())
        state = await _run(settings, db, recorder)
        assert state.is_completed(), state.message
    finally:
        await db.dispose()
    agents = [agent for agent, _ in recorder.replies]
    assert len(agents) == len(set(agents)), f"an agent was called twice: {agents}"
    return recorder.replies


@pytest.fixture(scope="module")
def upstream() -> Iterator[FakeOpenAIServer]:
    with FakeOpenAIServer(api_key=UPSTREAM_KEY) as server:
        yield server


@pytest.fixture(scope="module")
def gateway(
    litellm_exe: str,
    offline_replies: list[tuple[str, str]],
    upstream: FakeOpenAIServer,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[str]:
    """A LiteLLM proxy on a free loopback port; yields its base URL (``…/v1``)."""
    home = tmp_path_factory.mktemp("litellm")
    aliases = [
        {
            "model_name": f"aadap-{agent}",
            "litellm_params": {
                "model": f"openai/house-{agent}-v1",  # an upstream model nobody prices
                "api_key": "unused",
                "mock_response": text,
            },
        }
        for agent, text in offline_replies
    ]
    passthrough = {
        "model_name": "*",
        "litellm_params": {
            "model": "openai/*",
            "api_base": upstream.openai_base_url,
            "api_key": UPSTREAM_KEY,
        },
    }
    wrong_upstream_key = {
        "model_name": "aadap-misconfigured",
        "litellm_params": {
            "model": "openai/gpt-4o-mini",
            "api_base": upstream.openai_base_url,
            "api_key": "sk-not-the-upstream-key",
        },
    }
    config = {
        "model_list": [*aliases, wrong_upstream_key, passthrough],
        # the client retries, not the gateway: relay every failure as it comes
        "litellm_settings": {"num_retries": 0, "request_timeout": 30},
        "router_settings": {"num_retries": 0, "disable_cooldowns": True},
        "general_settings": {"master_key": MASTER_KEY},
    }
    path = home / "config.yaml"
    path.write_text(json.dumps(config, indent=2))  # YAML is a superset of JSON
    port = free_port()
    env = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": str(home),
        "LITELLM_LOCAL_MODEL_COST_MAP": "True",
        "LITELLM_TELEMETRY": "False",
        "NO_PROXY": "127.0.0.1,localhost",
    }
    with (home / "proxy.log").open("wb") as log:
        proc = subprocess.Popen(
            [litellm_exe, "--config", str(path), "--host", "127.0.0.1", "--port", str(port)],
            env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True, cwd=home,
        )  # fmt: skip
        try:
            wait_http(f"http://127.0.0.1:{port}/health/liveliness", proc, 120)
            yield f"http://127.0.0.1:{port}/v1"
        finally:
            stop(proc)


@pytest.fixture
async def run_through(
    gateway: str, db: Database, tmp_path: Path, upstream: FakeOpenAIServer
) -> AsyncIterator[Any]:
    """``await run_through(llm=…, budgets=…)``: one lifecycle through the gateway."""
    clients: list[OpenAICompatibleClient] = []

    class Run:
        def __init__(self, settings: Settings, sleep: RecordingSleep) -> None:
            self.settings = settings
            self.sleep = sleep
            self.state: Any = None

        async def rows(self, model: type[Any]) -> list[Any]:
            async with db.sessions() as session:
                return list((await session.execute(select(model))).scalars())

    async def run(*, budgets: BudgetSettings | None = None, **llm: Any) -> Run:
        values: dict[str, Any] = {
            "provider": "openai",
            "base_url": gateway,
            "api_key": SecretStr(MASTER_KEY),
            "allow_in_tests": True,
            "max_retry_wait_seconds": 30,
        }
        values.update(llm)
        url = db.engine.url.render_as_string(hide_password=False)
        settings = settings_for(
            url, tmp_path / "home", llm=LLMSettings(**values),
            budgets=budgets or BudgetSettings(),
            retries=RetrySettings(task_retries=2, backoff_seconds=0, jitter_factor=0),
        )  # fmt: skip
        sleep = RecordingSleep()
        client = OpenAICompatibleClient(settings.llm, sleep=sleep)
        clients.append(client)
        result = Run(settings, sleep)
        result.state = await _run(settings, db, client)
        return result

    upstream.requests.clear()
    yield run
    for client in clients:
        await client.aclose()


def _aliases(replies: list[tuple[str, str]]) -> dict[str, str]:
    return {agent: f"aadap-{agent}" for agent, _ in replies}


async def test_per_agent_aliases_with_prices_complete_and_are_priced(
    run_through: Any, offline_replies: list[tuple[str, str]]
) -> None:
    models_ = _aliases(offline_replies)
    run = await run_through(models=models_, prices=dict.fromkeys(models_.values(), PRICE))
    assert run.state.is_completed(), run.state.message
    [task] = await run.rows(models.Task)
    assert task.current_state == "COMPLETED"
    llm_rows = [c for c in await run.rows(models.CostRecord) if c.kind == "llm"]
    assert sorted(c.model for c in llm_rows) == sorted(models_.values())
    assert {c.status for c in llm_rows} == {CostStatus.SUCCEEDED.value}
    for row in llm_rows:  # LiteLLM's mock reports its own token counts; priced exactly
        expected = row.tokens_in * PRICE.input_per_mtok + row.tokens_out * PRICE.output_per_mtok
        assert row.cost_usd == expected / 1_000_000
    assert task.cost_usd == sum(c.cost_usd for c in llm_rows)


async def test_aliases_without_prices_fail_clearly_under_the_default_budget(
    run_through: Any, offline_replies: list[tuple[str, str]]
) -> None:
    run = await run_through(models=_aliases(offline_replies))
    assert run.state.is_failed()
    first_agent = offline_replies[0][0]
    logs = await run.rows(models.TaskLog)
    [failed] = [log for log in logs if log.event == "flow.failed"]
    assert failed.error_code == "MODEL_UNPRICED"
    message = failed.message
    assert f"model 'aadap-{first_agent}'" in message
    assert f"openai/house-{first_agent}-v1" in message  # what the gateway said it routed to
    assert f'AADAP_LLM_PRICES=\'{{"aadap-{first_agent}": ' in message
    assert "AADAP_BUDGETS_TASK_USD=off" in message
    steps = [log for log in logs if log.event == "step.attempt"]
    assert len(steps) == 1  # a configuration error is not retried
    [row] = [c for c in await run.rows(models.CostRecord) if c.kind == "llm"]
    assert row.cost_usd is None  # the call happened and is on the ledger, unpriced


async def test_the_budget_switched_off_the_documented_way_runs_unpriced_aliases(
    run_through: Any, offline_replies: list[tuple[str, str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AADAP_BUDGETS_TASK_USD", "off")
    run = await run_through(models=_aliases(offline_replies), budgets=BudgetSettings())
    assert run.state.is_completed(), run.state.message
    [task] = await run.rows(models.Task)
    assert task.cost_budget_usd is None
    llm_rows = [c for c in await run.rows(models.CostRecord) if c.kind == "llm"]
    assert len(llm_rows) == len(offline_replies)
    assert all(c.cost_usd is None and c.details["priced"] is False for c in llm_rows)


async def test_passthrough_is_priced_and_a_relayed_retry_after_is_honoured_and_logged(
    run_through: Any, offline_replies: list[tuple[str, str]], upstream: FakeOpenAIServer
) -> None:
    upstream.fail_next(
        Fault(
            status=429,
            body='{"error": {"message": "Rate limit reached", "type": "rate_limit_exceeded"}}',
            headers={"Retry-After": "7"},
        )
    )
    upstream.reply_with(
        *(ChatReply(content=text, prompt_tokens=1000, completion_tokens=500) for _, text in offline_replies)
    )  # fmt: skip
    run = await run_through(default_model="gpt-4o-mini")
    assert run.state.is_completed(), run.state.message
    assert run.sleep.calls == [7.0]  # the upstream's Retry-After, relayed by LiteLLM
    assert len(upstream.requests) == len(offline_replies) + 1
    assert {r.headers["authorization"] for r in upstream.requests} == {f"Bearer {UPSTREAM_KEY}"}

    logs = await run.rows(models.TaskLog)
    [retry] = [log for log in logs if log.event == "llm.retry"]
    assert retry.level == "WARNING"
    assert (retry.details["attempt"], retry.details["status"]) == (1, 429)
    assert retry.details["wait_seconds"] == 7.0
    assert retry.details["hint_header"] == "llm_provider-retry-after"
    llm_rows = [c for c in await run.rows(models.CostRecord) if c.kind == "llm"]
    # gpt-4o-mini: $0.15 in, $0.60 out per million tokens
    assert {c.cost_usd for c in llm_rows} == {Decimal("0.00045")}


async def test_a_wrong_key_at_the_gateway_is_an_auth_failure_never_retried(
    run_through: Any, offline_replies: list[tuple[str, str]]
) -> None:
    run = await run_through(models=_aliases(offline_replies), api_key=SecretStr("sk-wrong"))
    assert run.state.is_failed()
    assert "LLM_AUTH_FAILED" in (run.state.message or "")
    logs = await run.rows(models.TaskLog)
    assert len([log for log in logs if log.event == "step.attempt"]) == 1
    assert [log for log in logs if log.event == "llm.retry"] == []
    [failed] = [log for log in logs if log.event == "flow.failed"]
    assert failed.error_code == "LLM_AUTH_FAILED"
    assert "check AADAP_LLM_API_KEY" in failed.message
    assert run.sleep.calls == []


async def test_a_wrong_upstream_key_in_the_gateway_is_reported_as_the_gateways(
    gateway: str, upstream: FakeOpenAIServer
) -> None:
    from aadap.core.exceptions import LLMAuthenticationError
    from aadap.llm.messages import Message

    settings = LLMSettings(
        provider="openai",
        base_url=gateway,
        api_key=SecretStr(MASTER_KEY),
        default_model="aadap-misconfigured",
        allow_in_tests=True,
    )
    request = LLMRequest(agent="parser", messages=(Message("user", "hi"),))
    async with httpx.AsyncClient() as http:
        client = OpenAICompatibleClient(settings, http_client=http, sleep=RecordingSleep())
        with pytest.raises(LLMAuthenticationError) as caught:
            await client.complete(request)
    assert "upstream provider rejected the gateway's own credentials" in str(caught.value)
