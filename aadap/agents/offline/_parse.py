"""Request text → :class:`Requirement`, by the offline grammar (see the package docstring)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import ValidationError

from aadap.agents.offline import _commands
from aadap.agents.offline._clauses import CLAUSE_PARSERS, split_target
from aadap.agents.offline._draft import Draft
from aadap.agents.offline._phrasing import rephrase, tidy
from aadap.agents.offline._request_text import Masked, normalise, safe_name, split_clauses
from aadap.agents.offline._suggest import explain
from aadap.agents.offline._unsupported import unsupported
from aadap.agents.schemas import AggregateOp, DeduplicateOp, FilterOp, Intent, JoinOp, Requirement
from aadap.core.exceptions import LLMUnsupportedRequestError

_STEP_INTENTS: dict[str, Intent] = {
    "load": "load_file",
    "filter": "filter",
    "deduplicate": "deduplicate",
    "aggregate": "aggregate",
    "join": "join",
}
MAX_REQUEST_CHARS = 2000
_SUFFIX = {"filter": "filtered", "deduplicate": "dedup", "join": "enriched"}


def parse_request_text(facts: dict[str, Any]) -> Requirement:
    raw = str(facts.get("request_text", ""))
    try:
        return _parse(raw, facts)
    except ValidationError as exc:  # our grammar built something the schema refuses
        raise unsupported(
            f"the request does not form a valid requirement ({exc.error_count()} errors)"
        ) from exc


def _parse(raw: str, facts: dict[str, Any]) -> Requirement:
    given = _commands.run_sql(raw)
    if given is not None:
        return given
    text = " ".join(raw.split())
    masked = Masked.of(normalise(text[:MAX_REQUEST_CHARS]))
    masked.text = tidy(masked.text)
    if not masked.text:
        raise unsupported("the request is empty")
    draft = Draft(
        masked=masked,
        working_dir=Path(str(facts.get("working_dir") or Path.cwd())),
        schema_hints={
            str(k): [str(c) for c in v] for k, v in dict(facts.get("schema_hints") or {}).items()
        },
    )
    try:
        if len(text) > MAX_REQUEST_CHARS:  # bounded work: longer requests are not read
            tail = text[MAX_REQUEST_CHARS:]
            raise unsupported(
                f"the request is {len(text)} characters long and the offline grammar reads at"
                f" most {MAX_REQUEST_CHARS}; the part from {tail[:40] + '…'!r} on was not read",
                phrase=tail[:40] + "…",
            )
        return _understand(draft)
    except LLMUnsupportedRequestError as exc:
        raise explain(exc, draft, draft.clause_text) from exc


def _understand(draft: Draft) -> Requirement:
    masked = draft.masked
    listed = _commands.list_tables(masked.text) or _commands.list_tables(rephrase(masked.text))
    if listed is not None:
        return listed
    whole, target = split_target(masked.text, draft)
    whole = rephrase(whole)
    draft.replace = False
    if target is None:
        command = _commands.profile(whole, draft) or _commands.preview(whole, draft)
        if command is not None:
            return command
    return _pipeline(draft)


def _pipeline(draft: Draft) -> Requirement:
    clauses = split_clauses(draft.masked.text)
    for index, clause in enumerate(clauses):
        draft.clause_index, draft.clause_text = index, clause
        text, target = split_target(clause, draft)
        text = rephrase(text)
        if target is None:  # a rephrased clause may end with its target ("… into T")
            text, target = split_target(text, draft)
        if target is not None:
            draft.targets.append((index, target))
        if not text:
            if target is None and not draft.replace:
                raise unsupported(f"cannot understand {draft.masked.unmask(clause)!r}")
            continue
        if not any(parse(text, draft) for parse in CLAUSE_PARSERS):
            raise unsupported(f"cannot understand {draft.masked.unmask(text)!r}")
    draft.clause_text = None
    if not draft.steps:
        raise unsupported("the request names no data to load or transform")
    return _requirement(draft)


def _requirement(draft: Draft) -> Requirement:
    target = _final_target(draft)
    data_steps = [step for step in draft.steps if step != "load"]
    intent: Intent = "load_file"
    if len(draft.steps) > 1:
        intent = "transform"
    elif data_steps:
        intent = _STEP_INTENTS[data_steps[0]]
    return Requirement(
        intent=intent,
        summary=_summary(draft, target),
        sources=draft.sources,
        operations=draft.operations,
        target_table=target,
        write_mode="replace" if draft.replace else "create",
        assumptions=draft.assumptions,
    )


def _final_target(draft: Draft) -> str:
    """The target named with or after the last step; earlier names label intermediate steps."""
    named = draft.targets[-1] if draft.targets else None
    final = named[1] if named is not None and named[0] >= draft.last_step_clause else None
    for _, name in draft.targets if final is None else draft.targets[:-1]:
        draft.assumptions.append(
            f"{name} names an intermediate step; only the final result is written to a table."
        )
    if final is not None:
        return final
    base = draft.sources[0].name
    last = draft.steps[-1]
    if draft.default_target is not None:
        name = draft.default_target
    elif last == "load":
        name = base
    elif last == "aggregate":
        op = next(op for op in reversed(draft.operations) if isinstance(op, AggregateOp))
        parts = ([op.time_grain] if op.time_grain else []) + list(op.group_by)
        name = f"{base}_by_{'_'.join(parts)}" if parts else f"{base}_summary"
    else:
        name = f"{base}_{_SUFFIX[last]}"
    name = safe_name(name)
    draft.assumptions.append(f"No target table was named; the result is written to {name}.")
    return name


def _summary(draft: Draft, target: str) -> str:
    first = draft.sources[0]
    origin = f"the file {first.path}" if first.kind == "file" else f"the table {first.name}"
    described = []
    for op in draft.operations:
        if isinstance(op, FilterOp):
            described.append(("exclude" if op.negate else "keep") + " the rows matching a filter")
        elif isinstance(op, DeduplicateOp):
            described.append(
                "deduplicate" + (f" on {', '.join(op.keys)}" if op.keys else " whole rows")
            )
        elif isinstance(op, JoinOp):
            described.append(f"{op.how} join with {op.right}")
        else:
            measures = ", ".join(a.alias for a in op.aggregations)
            described.append(
                f"aggregate {measures}" + (f" by {', '.join(op.group_by)}" if op.group_by else "")
            )
    steps = "; ".join(described) if described else "load it as is"
    return f"Read {origin}, {steps}, and write the result to {target}."
