"""The offline rules' inputs, read from the prompt: what any model is given, nothing more.

Each agent renders its facts into the TASK section of its prompt template
(``aadap/agents/prompts/<agent>.md``, rendered by :mod:`aadap.agents._prompt_inputs`); this
module reads them back with the template and the renderers' inverses.
"""

from __future__ import annotations

from typing import Any

from aadap.agents._prompt import load_prompt
from aadap.agents._prompt_inputs import read_feedback, read_hints, read_model, read_syntax
from aadap.agents.offline._unsupported import unsupported
from aadap.llm.messages import LLMRequest

_READERS = {
    "schema_hints": read_hints,
    "feedback": read_feedback,
    "requirement": read_model,
    "plan": read_model,
    "route": read_model,
    "syntax": read_syntax,
}


def read_facts(request: LLMRequest) -> dict[str, Any]:
    """The values the agent filled into its TASK section, decoded (``schema_hints`` a dict,
    ``requirement`` the JSON object, …); the last user message is the TASK."""
    users = [message.content for message in request.messages if message.role == "user"]
    values = load_prompt(request.agent).read_user(users[-1]) if users else None
    if values is None:
        raise unsupported(
            f"the prompt is not the {request.agent} agent's TASK; the offline provider reads"
            " only the agents' own prompts",
            agent=request.agent,
        )
    try:
        return {name: _READERS.get(name, str)(value) for name, value in values.items()}
    except ValueError as exc:  # a JSON part that is not JSON: not an agent's own prompt
        raise unsupported(
            f"the {request.agent} agent's prompt does not parse ({exc})", agent=request.agent
        ) from exc
