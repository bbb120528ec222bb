"""One deterministic responder per agent: the facts read from its prompt in, its JSON out."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import sqlglot
from pydantic import BaseModel, ValidationError
from sqlglot import exp
from sqlglot.errors import SqlglotError

from aadap.agents.offline._parse import parse_request_text
from aadap.agents.offline._sql import render
from aadap.agents.offline._unsupported import unsupported
from aadap.agents.schemas import (
    AggregateOp,
    Change,
    DeduplicateOp,
    DraftFinding,
    FilterOp,
    GeneratedCode,
    OptimisationDraft,
    Plan,
    Requirement,
    ReviewDraft,
    Route,
)
from aadap.core.enums import Language

_DESTRUCTIVE = (exp.Drop, exp.Delete, exp.TruncateTable, exp.Alter, exp.Update)


def _requirement(facts: dict[str, Any], agent: str) -> Requirement:
    try:
        return Requirement.model_validate(facts.get("requirement"))
    except ValidationError as exc:
        raise unsupported("the prompt carries no valid requirement", agent=agent) from exc


def _local_only(facts: dict[str, Any], agent: str) -> None:
    if facts.get("platform", "local") != "local":
        raise unsupported(
            f"it targets the {facts.get('platform')} platform, and the offline provider writes"
            " DuckDB SQL for the local platform only",
            agent=agent,
        )


def parser(facts: dict[str, Any]) -> BaseModel:
    return parse_request_text(facts)


def planner(facts: dict[str, Any]) -> BaseModel:
    requirement = _requirement(facts, "planner")
    reads = [s.path or s.name for s in requirement.sources]
    steps = [
        f"Read {s.path} with DuckDB's {s.format} reader"
        if s.kind == "file"
        else f"Read the table {s.name}"
        for s in requirement.sources
    ]
    for op in requirement.operations:
        if isinstance(op, FilterOp):
            steps.append(
                ("Drop" if op.negate else "Keep")
                + f" the rows matching {len(op.conditions)} condition(s)"
            )
        elif isinstance(op, DeduplicateOp):
            keys = ", ".join(op.keys) or "whole rows"
            keep = f", keeping the {op.keep} by {op.order_by}" if op.order_by else ""
            steps.append(f"Deduplicate on {keys}{keep}")
        elif isinstance(op, AggregateOp):
            by = ([f"{op.time_grain} of {op.time_column}"] if op.time_grain else []) + list(
                op.group_by
            )
            measures = ", ".join(f"{a.function}({a.column or '*'})" for a in op.aggregations)
            steps.append(f"Aggregate {measures}" + (f" by {', '.join(by)}" if by else ""))
        else:
            steps.append(
                f"{op.how.capitalize()} join with {op.right} on {', '.join(k.left for k in op.on)}"
            )
    steps += _closing_steps(requirement)
    multi_step = len(requirement.operations) >= 2
    local = facts.get("platform", "local") == "local"
    optimise = multi_step or (
        not local and any(op.kind in ("join", "aggregate") for op in requirement.operations)
    )
    rationale = (
        "A multi-step pipeline chained in one statement: a formatting and simplification pass"
        " is worth it."
        if optimise
        else "A single simple statement on the local DuckDB engine: optimisation is not worth it."
    )
    return Plan(
        steps=steps,
        target_tables=[requirement.target_table] if requirement.target_table else [],
        reads=reads,
        optimise=optimise,
        rationale=rationale,
    )


def _closing_steps(requirement: Requirement) -> list[str]:
    if requirement.intent == "run_sql":
        return ["Run the given statement unchanged"]
    if requirement.intent == "list_tables":
        return ["List the tables in the catalog"]
    if requirement.intent == "profile":
        return ["Compute per-column statistics with SUMMARIZE"]
    if requirement.intent == "preview" or requirement.target_table is None:
        return [f"Return the first {requirement.limit or 10} rows"]
    verb = "Create or replace" if requirement.write_mode == "replace" else "Create"
    return [f"{verb} the table {requirement.target_table} with the result"]


def router(facts: dict[str, Any]) -> BaseModel:
    _requirement(facts, "router")
    return Route(
        developer="sql", language=Language.SQL, reason="The offline provider writes SQL only."
    )


def developer(facts: dict[str, Any]) -> BaseModel:
    requirement = _requirement(facts, "developer")
    feedback = [str(item) for item in facts.get("feedback") or []]
    if requirement.intent != "run_sql":
        _local_only(facts, "developer")
    elif feedback:
        raise unsupported(
            "the given SQL statement was rejected (" + "; ".join(feedback)[:300] + ") and the"
            " offline provider does not rewrite user SQL",
            agent="developer",
        )
    code = render(requirement)
    notes = [requirement.summary, *requirement.assumptions]
    if feedback:
        notes.append(
            "Regenerated from the requirement after feedback: " + "; ".join(feedback)[:500]
        )
    return GeneratedCode(
        code=code,
        language=Language.SQL,
        explanation=" ".join(notes),
        target_tables=[requirement.target_table] if requirement.target_table else [],
        reads=[s.path or s.name for s in requirement.sources],
    )


def reviewer(facts: dict[str, Any]) -> BaseModel:
    requirement = _requirement(facts, "reviewer")
    code = str(facts.get("code", ""))
    findings: list[DraftFinding] = []
    syntax = [str(issue) for issue in facts.get("syntax") or []]
    if facts.get("language", "sql") == "sql" and not syntax:
        findings += _sql_findings(code, requirement, facts)
    blocking = [f for f in findings if f.severity in ("error", "critical")]
    passed = not syntax and not blocking
    summary = (
        "The code parses and matches the requirement." if passed
        else f"{len(syntax) + len(blocking)} problem(s) must be fixed."
    )  # fmt: skip
    return ReviewDraft(passed=passed, findings=findings, summary=summary)


def _sql_findings(code: str, requirement: Requirement, facts: dict[str, Any]) -> list[DraftFinding]:
    findings: list[DraftFinding] = []
    try:
        statements = [s for s in sqlglot.parse(code, read="duckdb") if s is not None]
    except SqlglotError:
        return findings  # the syntax check reports it
    created = {
        t.name.lower()
        for s in statements
        if isinstance(s, exp.Create)
        for t in s.find_all(exp.Table)
    }
    target = requirement.target_table
    if target and requirement.intent != "run_sql" and target.split(".")[-1].lower() not in created:
        findings.append(
            DraftFinding(
                severity="error", message=f"the code does not create the target table {target}"
            )
        )
    hints = {str(k).lower() for k in facts.get("schema_hints") or {}}
    if target and requirement.write_mode == "create" and target.lower() in hints:
        findings.append(
            DraftFinding(
                severity="warning",
                message=f"{target} already exists, so CREATE TABLE will fail; ask to replace it"
                " or pick another name",
            )
        )
    for statement in statements:
        if isinstance(statement, _DESTRUCTIVE):
            findings.append(
                DraftFinding(
                    severity="warning",
                    message=f"{statement.key.upper()} changes or removes existing data;"
                    " it needs approval",
                )
            )
        if isinstance(statement, exp.Create) and statement.args.get("replace"):
            findings.append(
                DraftFinding(
                    severity="warning", message="CREATE OR REPLACE overwrites the existing table"
                )
            )
        if (
            isinstance(statement, exp.Select)
            and statement.is_star
            and not statement.args.get("limit")
        ):
            findings.append(
                DraftFinding(severity="info", message="SELECT * without LIMIT returns every row")
            )
    for source in requirement.sources:
        if source.path and source.path not in code:
            findings.append(
                DraftFinding(severity="warning", message=f"the code does not read {source.path}")
            )
    return findings


def optimiser(facts: dict[str, Any]) -> BaseModel:
    code = str(facts.get("code", ""))
    if facts.get("language") != "sql" or facts.get("platform", "local") != "local":
        return OptimisationDraft(
            code=code, expected_improvement="none: the offline provider only formats local SQL"
        )
    try:
        pretty = ";\n".join(sqlglot.transpile(code, read="duckdb", write="duckdb", pretty=True))
    except SqlglotError as exc:
        return OptimisationDraft(
            code=code, expected_improvement=f"none: the code could not be parsed ({exc})"
        )
    if pretty.strip() == code.strip():
        return OptimisationDraft(
            code=code, expected_improvement="none: the statement is already in canonical form"
        )
    change = Change(
        description="Rewrote the statement in sqlglot's canonical DuckDB form (one clause"
        " per line, redundant defaults removed)",
        rationale="Same semantics; easier to review and to diff between versions",
    )
    return OptimisationDraft(
        code=pretty,
        changes=[change],
        expected_improvement="none at run time; clearer code for review",
    )


RESPONDERS: dict[str, Callable[[dict[str, Any]], BaseModel]] = {
    "parser": parser,
    "planner": planner,
    "router": router,
    "developer": developer,
    "reviewer": reviewer,
    "optimiser": optimiser,
}
