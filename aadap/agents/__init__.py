"""The agents: prompts in, validated pydantic models out.

Each agent is one async function taking an :class:`~aadap.llm.messages.LLMClient` and an
:class:`AgentContext`; all share the bounded self-correction loop in :mod:`.base`.
"""

from aadap.agents.developer import develop_code
from aadap.agents.examples import Example, load_examples
from aadap.agents.optimiser import optimise_code
from aadap.agents.parser import parse_request
from aadap.agents.planner import plan_work
from aadap.agents.reviewer import review_code
from aadap.agents.router import route_work
from aadap.agents.schemas import (
    AggregateOp,
    Aggregation,
    Change,
    Condition,
    DeduplicateOp,
    FilterOp,
    Finding,
    GeneratedCode,
    JoinKey,
    JoinOp,
    Operation,
    Optimisation,
    Plan,
    Requirement,
    Review,
    Route,
    Source,
)
from aadap.agents.self_correction import MAX_OUTPUT_ATTEMPTS, AgentContext
from aadap.agents.syntax import SyntaxIssue, SyntaxReport, check_syntax

__all__ = [
    "MAX_OUTPUT_ATTEMPTS",
    "AgentContext",
    "AggregateOp",
    "Aggregation",
    "Change",
    "Condition",
    "DeduplicateOp",
    "Example",
    "FilterOp",
    "Finding",
    "GeneratedCode",
    "JoinKey",
    "JoinOp",
    "Operation",
    "Optimisation",
    "Plan",
    "Requirement",
    "Review",
    "Route",
    "Source",
    "SyntaxIssue",
    "SyntaxReport",
    "check_syntax",
    "develop_code",
    "load_examples",
    "optimise_code",
    "parse_request",
    "plan_work",
    "review_code",
    "route_work",
]
