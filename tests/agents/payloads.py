"""Valid agent inputs and LLM answers, as builders (one place to change when a schema does)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from aadap.agents import AgentContext, GeneratedCode, Plan, Requirement, Route
from aadap.core.enums import Language, PlatformKind


def ctx(**overrides: Any) -> AgentContext:
    values: dict[str, Any] = {
        "request_text": "load orders.csv into orders",
        "working_dir": Path("/data"),
        "schema_hints": {"customers": ["customer_id", "name"]},
        "task_id": "task-1",
        "correlation_id": "corr-1",
    }
    values.update(overrides)
    return AgentContext(**values)


def requirement_json(**overrides: Any) -> dict[str, Any]:
    values: dict[str, Any] = {
        "intent": "load_file",
        "summary": "Load orders.csv into orders.",
        "sources": [
            {"kind": "file", "name": "orders", "path": "/data/orders.csv", "format": "csv"}
        ],
        "target_table": "orders",
    }
    values.update(overrides)
    return values


def requirement(**overrides: Any) -> Requirement:
    return Requirement.model_validate(requirement_json(**overrides))


def plan_json(**overrides: Any) -> dict[str, Any]:
    values: dict[str, Any] = {
        "steps": ["Read /data/orders.csv", "Create the table orders"],
        "target_tables": ["orders"],
        "reads": ["/data/orders.csv"],
        "optimise": True,
        "rationale": "A load.",
    }
    values.update(overrides)
    return values


def plan(**overrides: Any) -> Plan:
    return Plan.model_validate(plan_json(**overrides))


def route(language: Language = Language.SQL, developer: str = "sql") -> Route:
    return Route.model_validate({"developer": developer, "language": language, "reason": "r"})


def code(text: str = "SELECT 1", language: Language = Language.SQL) -> GeneratedCode:
    return GeneratedCode(code=text, language=language, explanation="e")


def code_json(text: str = "CREATE TABLE orders AS SELECT 1 AS a", **overrides: Any) -> str:
    values: dict[str, Any] = {
        "code": text,
        "language": "sql",
        "explanation": "Creates orders.",
        "target_tables": ["orders"],
        "reads": [],
    }
    values.update(overrides)
    return json.dumps(values)


def review_json(passed: bool = True, findings: list[dict[str, Any]] | None = None) -> str:
    return json.dumps({"passed": passed, "findings": findings or [], "summary": "Looks fine."})


def optimisation_json(text: str, changes: int = 1) -> str:
    return json.dumps(
        {
            "code": text,
            "changes": [{"description": "pruned columns", "rationale": "less I/O"}] * changes,
            "expected_improvement": "faster",
        }
    )


PLATFORMS = list(PlatformKind)
