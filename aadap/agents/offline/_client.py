"""The offline client: the :class:`~aadap.llm.messages.LLMClient` protocol, rule-based."""

from __future__ import annotations

import time

from aadap.agents.offline._reading import read_facts
from aadap.agents.offline._responders import RESPONDERS
from aadap.core.exceptions import LLMResponseError
from aadap.llm.messages import Completion, LLMRequest, Usage

MODEL = "offline-rules-v1"


class OfflineLLMClient:
    """Answers every agent from its prompt with deterministic rules; costs nothing.

    It never calls the network and never invents code: a request outside its grammar
    raises :class:`~aadap.core.exceptions.LLMUnsupportedRequestError`.
    """

    provider = "offline"

    def model_for(self, agent: str) -> str:
        del agent
        return MODEL

    async def complete(self, request: LLMRequest) -> Completion:
        started = time.perf_counter()
        responder = RESPONDERS.get(request.agent)
        if responder is None:
            raise LLMResponseError(
                f"the offline provider has no rules for the agent {request.agent!r}",
                agent_id=request.agent,
                details={"provider": self.provider, "known_agents": sorted(RESPONDERS)},
            )
        text = responder(read_facts(request)).model_dump_json(exclude_none=False)
        prompt_chars = sum(len(message.content) for message in request.messages)
        return Completion(
            text=text,
            model=MODEL,
            provider=self.provider,
            usage=Usage(tokens_in=prompt_chars // 4, tokens_out=len(text) // 4),
            latency_ms=round((time.perf_counter() - started) * 1000),
        )
