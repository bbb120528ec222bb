"""What every agent shares: its context and the bounded self-correction loop.

An agent renders its prompt, asks the LLM for one JSON object, validates it with a
pydantic model (types, not just keys) plus optional agent-specific checks, and on
failure re-prompts with a CORRECTION section listing the errors and the bad output.
After :data:`MAX_OUTPUT_ATTEMPTS` failures it raises :class:`AgentOutputInvalidError`.
LLM errors are never caught here: the lifecycle's retry predicate decides about them.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

from pydantic import BaseModel, ValidationError

from aadap.agents._prompt import correction_section, load_prompt
from aadap.core.enums import AgentType, Environment, PlatformKind
from aadap.core.exceptions import AgentOutputInvalidError
from aadap.llm.messages import LLMClient, LLMRequest, Message

MAX_OUTPUT_ATTEMPTS = 3

M = TypeVar("M", bound=BaseModel)
Check = Callable[[M], list[str]]

_FENCE = re.compile(r"^\s*```[\w-]*\s*\n(?P<body>.*?)\n?\s*```\s*$", re.DOTALL)


@dataclass
class AgentContext:
    """What an agent knows besides its structured inputs."""

    request_text: str
    environment: Environment = Environment.SANDBOX
    platform: PlatformKind = PlatformKind.LOCAL
    working_dir: Path = field(default_factory=Path.cwd)
    schema_hints: dict[str, list[str]] = field(default_factory=dict)
    feedback: list[str] = field(default_factory=list)
    task_id: str | None = None
    correlation_id: str | None = None


def strip_fences(text: str) -> str:
    """Remove one surrounding markdown code fence, if present."""
    match = _FENCE.match(text)
    return match.group("body") if match else text.strip()


def validate_output(text: str, output: type[M]) -> tuple[M | None, list[str]]:
    """Parse and validate ``text``: the model, or ``None`` and the list of what is wrong."""
    body = strip_fences(text)
    try:
        data = json.loads(body)
    except json.JSONDecodeError as exc:
        return None, [f"not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"]
    if not isinstance(data, dict):
        return None, [f"expected a JSON object, got {type(data).__name__}"]
    try:
        return output.model_validate(data), []
    except ValidationError as exc:
        return None, _describe(exc)


def _describe(exc: ValidationError) -> list[str]:
    described = []
    for error in exc.errors(include_url=False):
        where = ".".join(str(part) for part in error["loc"]) or "(root)"
        got = repr(error.get("input"))
        got = got if len(got) <= 120 else got[:117] + "..."
        described.append(f"{where}: {error['msg']} (got {got})")
    return described


async def run_agent(
    client: LLMClient,
    ctx: AgentContext,
    *,
    agent: AgentType,
    output: type[M],
    task_values: Mapping[str, str],
    check: Check[M] | None = None,
) -> M:
    """Ask ``client`` for an ``output`` until it validates, at most three times.

    ``task_values`` fill the prompt's TASK placeholders: every fact the model gets goes
    there, for a real model and the offline rules alike. ``check`` adds agent-specific
    errors (an empty list means the answer is acceptable).
    """
    template = load_prompt(agent.value)
    system = Message("system", template.system(output))
    task = template.user(dict(task_values))
    errors: list[str] = []
    bad_output = ""
    for attempt in range(1, MAX_OUTPUT_ATTEMPTS + 1):
        user = task if attempt == 1 else f"{task}\n\n{correction_section(errors, bad_output)}"
        request = LLMRequest(
            agent=agent.value,
            messages=(system, Message("user", user)),
            json_output=True,
        )
        completion = await client.complete(request)
        result, errors = validate_output(completion.text, output)
        if result is not None and check is not None:
            errors = check(result)
        if result is not None and not errors:
            return result
        bad_output = completion.text
    raise AgentOutputInvalidError(
        f"the {agent.value} agent's output failed validation {MAX_OUTPUT_ATTEMPTS} times: "
        + "; ".join(errors),
        task_id=ctx.task_id,
        agent_id=agent.value,
        correlation_id=ctx.correlation_id,
        details={
            "agent": agent.value,
            "attempts": MAX_OUTPUT_ATTEMPTS,
            "errors": errors,
            "last_output": bad_output[:2000],
        },
    )


__all__ = ["MAX_OUTPUT_ATTEMPTS", "AgentContext", "run_agent", "strip_fences", "validate_output"]
