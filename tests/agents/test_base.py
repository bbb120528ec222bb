"""The self-correction loop every agent shares (exercised through the parser and planner)."""

from __future__ import annotations

import json
import pickle

import pytest

from aadap.agents import MAX_OUTPUT_ATTEMPTS, parse_request, plan_work
from aadap.agents._prompt import load_prompt
from aadap.agents._prompt_inputs import read_feedback, read_hints, read_model
from aadap.agents.schemas import Requirement
from aadap.agents.self_correction import strip_fences, validate_output
from aadap.core.enums import AgentType
from aadap.core.exceptions import (
    AgentOutputInvalidError,
    InvalidRequestError,
    LLMRateLimitError,
    LLMUnsupportedRequestError,
)
from aadap.llm.testing import ScriptedLLMClient
from tests.agents import payloads

VALID = json.dumps(payloads.requirement_json())
WRONG_TYPE = json.dumps(payloads.requirement_json(intent="teleport", limit="many"))


async def test_valid_output_is_returned_after_one_call() -> None:
    client = ScriptedLLMClient([VALID])

    requirement = await parse_request(client, payloads.ctx())

    assert requirement == Requirement.model_validate(payloads.requirement_json())
    assert len(client.requests) == 1
    assert client.remaining == 0


async def test_request_carries_system_and_user_messages_with_every_fact_in_the_task() -> None:
    client = ScriptedLLMClient([VALID])
    ctx = payloads.ctx(feedback=["fix the join"])

    await parse_request(client, ctx)

    request = client.requests[0]
    assert request.agent == "parser"
    assert request.json_output is True
    assert [m.role for m in request.messages] == ["system", "user"]
    system, user = (m.content for m in request.messages)
    for section in ("ROLE", "CONSTRAINTS", "OUTPUT FORMAT"):
        assert section in system
    assert '"intent"' in system  # the JSON schema of the output model
    assert user.startswith("TASK")
    assert ctx.request_text in user
    assert "fix the join" in user
    values = load_prompt("parser").read_user(user)  # what any model can read off the prompt
    assert values is not None
    assert values["request_text"] == ctx.request_text
    assert values["working_dir"] == "/data"
    assert read_hints(values["schema_hints"]) == {"customers": ["customer_id", "name"]}
    assert values["platform"] == "local"
    assert values["environment"] == "SANDBOX"
    assert read_feedback(values["feedback"]) == ["fix the join"]


async def test_invalid_twice_then_valid_makes_three_requests_with_corrections() -> None:
    client = ScriptedLLMClient(["this is not JSON", WRONG_TYPE, VALID])

    requirement = await parse_request(client, payloads.ctx())

    assert requirement.intent == "load_file"
    assert len(client.requests) == 3
    template = load_prompt("parser")
    tasks = [template.read_user(r.messages[1].content) for r in client.requests]
    assert tasks[0] is not None
    assert tasks == [tasks[0]] * 3  # the TASK reads the same under a CORRECTION section
    first_user = client.requests[0].messages[1].content
    assert "CORRECTION REQUIRED" not in first_user
    second_user = client.requests[1].messages[1].content
    assert "CORRECTION REQUIRED" in second_user
    assert "not valid JSON" in second_user
    assert "this is not JSON" in second_user  # the bad output is shown back
    third_user = client.requests[2].messages[1].content
    assert "intent: Input should be" in third_user  # a type error, not a missing key
    assert "limit: Input should be a valid integer" in third_user
    assert "teleport" in third_user


async def test_three_invalid_outputs_raise_agent_output_invalid() -> None:
    client = ScriptedLLMClient(["[1, 2]", "{}", WRONG_TYPE])

    with pytest.raises(AgentOutputInvalidError) as caught:
        await parse_request(client, payloads.ctx())

    error = caught.value
    assert MAX_OUTPUT_ATTEMPTS == 3
    assert len(client.requests) == 3
    assert error.details["agent"] == "parser"
    assert error.details["attempts"] == 3
    assert any("intent" in e for e in error.details["errors"])
    assert error.details["last_output"] == WRONG_TYPE
    assert error.task_id == "task-1"
    assert error.correlation_id == "corr-1"
    assert error.agent_id == "parser"
    assert pickle.loads(pickle.dumps(error)).details == error.details


@pytest.mark.parametrize(
    "error",
    [LLMRateLimitError("slow down", details={"retry_after": 3}), LLMUnsupportedRequestError("no")],
)
async def test_llm_errors_propagate_unchanged(error: Exception) -> None:
    client = ScriptedLLMClient([error, VALID])

    with pytest.raises(type(error)) as caught:
        await parse_request(client, payloads.ctx())

    assert caught.value is error
    assert client.remaining == 1  # no retry inside the agent


async def test_empty_request_is_refused_without_a_call() -> None:
    client = ScriptedLLMClient([])

    with pytest.raises(InvalidRequestError):
        await parse_request(client, payloads.ctx(request_text="   "))

    assert client.requests == []


async def test_planner_receives_the_requirement_in_the_prompt() -> None:
    client = ScriptedLLMClient([json.dumps(payloads.plan_json())])
    requirement = payloads.requirement()

    plan = await plan_work(client, payloads.ctx(), requirement)

    assert plan.optimise is True
    request = client.requests[0]
    assert request.agent == "planner"
    values = load_prompt("planner").read_user(request.messages[1].content)
    assert values is not None
    assert read_model(values["requirement"]) == requirement.model_dump(mode="json")
    assert "/data/orders.csv" in request.messages[1].content


@pytest.mark.parametrize(
    "text",
    [
        '```json\n{"a": 1}\n```',
        '```\n{"a": 1}\n```',
        '  {"a": 1}  ',
    ],
)
def test_strip_fences(text: str) -> None:
    assert json.loads(strip_fences(text)) == {"a": 1}


def test_validate_output_reports_extra_keys() -> None:
    body = json.dumps({**payloads.requirement_json(), "surprise": 1})

    model, errors = validate_output(body, Requirement)

    assert model is None
    assert errors == ["surprise: Extra inputs are not permitted (got 1)"]


@pytest.mark.parametrize("agent", list(AgentType))
def test_every_agent_has_a_complete_prompt(agent: AgentType) -> None:
    template = load_prompt(agent.value)

    system = template.system(Requirement)
    assert system.index("ROLE") < system.index("CONSTRAINTS") < system.index("OUTPUT FORMAT")
    assert template.role and template.constraints and "$" in template.task
