"""The agents' output models: what each agent returns once its JSON validated.

Every model forbids unknown keys and checks types, so an LLM answer that has the
right keys but the wrong shapes is sent back for correction instead of flowing on.
The JSON schema rendered into each prompt's OUTPUT FORMAT section comes from these
classes (``model_json_schema``), so prompt and validation cannot drift apart.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from aadap.core.enums import Language

Intent = Literal[
    "load_file",
    "filter",
    "deduplicate",
    "aggregate",
    "join",
    "run_sql",
    "list_tables",
    "preview",
    "profile",
    "transform",
    "other",
]
FileFormat = Literal["csv", "parquet", "json"]
Scalar = str | int | float | bool
Severity = Literal["info", "warning", "error", "critical"]
BLOCKING_SEVERITIES: frozenset[str] = frozenset({"error", "critical"})

_Name = Annotated[str, Field(min_length=1, max_length=256)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# --- requirement ----------------------------------------------------------------


class Source(_Model):
    """An input: a table on the target platform or a file to read."""

    kind: Literal["file", "table"]
    name: _Name = Field(description="table name, or the file name as the user wrote it")
    path: str | None = Field(default=None, description="absolute file path (files only)")
    format: FileFormat | None = Field(default=None, description="file format (files only)")
    columns: list[str] = Field(default_factory=list, description="known column names, if any")

    @model_validator(mode="after")
    def _file_fields(self) -> Source:
        if self.kind == "file" and (self.path is None or self.format is None):
            raise ValueError("a file source needs both 'path' and 'format'")
        if self.kind == "table" and (self.path is not None or self.format is not None):
            raise ValueError("a table source has no 'path' or 'format'")
        return self


Operator = Literal[
    "=", "!=", ">", ">=", "<", "<=", "in", "not in", "is null", "is not null", "like"
]


class Condition(_Model):
    column: _Name
    op: Operator
    value: Scalar | list[Scalar] | None = None

    @model_validator(mode="after")
    def _value_matches_op(self) -> Condition:
        if self.op in ("is null", "is not null"):
            if self.value is not None:
                raise ValueError(f"operator {self.op!r} takes no value")
        elif self.op in ("in", "not in"):
            if not isinstance(self.value, list) or not self.value:
                raise ValueError(f"operator {self.op!r} needs a non-empty list value")
        elif self.value is None or isinstance(self.value, list):
            raise ValueError(f"operator {self.op!r} needs a single scalar value")
        return self


class FilterOp(_Model):
    """Keep the rows matching every condition (or, with ``negate``, drop them)."""

    kind: Literal["filter"] = "filter"
    conditions: list[Condition] = Field(min_length=1)
    negate: bool = False


class DeduplicateOp(_Model):
    """One row per key (the whole row when ``keys`` is empty)."""

    kind: Literal["deduplicate"] = "deduplicate"
    keys: list[str] = Field(default_factory=list)
    order_by: str | None = Field(default=None, description="which duplicate to keep is decided by")
    keep: Literal["latest", "earliest"] = "latest"


class Aggregation(_Model):
    function: Literal["sum", "count", "avg", "min", "max", "count_distinct"]
    column: str | None = Field(default=None, description="None only for count(*)")
    alias: _Name

    @model_validator(mode="after")
    def _column_needed(self) -> Aggregation:
        if self.column is None and self.function != "count":
            raise ValueError(f"aggregation {self.function!r} needs a column")
        return self


TimeGrain = Literal["hour", "day", "week", "month", "quarter", "year"]


class AggregateOp(_Model):
    kind: Literal["aggregate"] = "aggregate"
    group_by: list[str] = Field(default_factory=list)
    time_column: str | None = None
    time_grain: TimeGrain | None = None
    aggregations: list[Aggregation] = Field(min_length=1)

    @model_validator(mode="after")
    def _grain_pairs(self) -> AggregateOp:
        if (self.time_column is None) != (self.time_grain is None):
            raise ValueError("'time_column' and 'time_grain' go together")
        return self


class JoinKey(_Model):
    left: _Name
    right: _Name


class JoinOp(_Model):
    """Join the current rows with another source (named in ``Requirement.sources``)."""

    kind: Literal["join"] = "join"
    right: _Name = Field(description="the name of the source to join with")
    on: list[JoinKey] = Field(min_length=1)
    how: Literal["inner", "left", "right", "full"] = "inner"


Operation = Annotated[FilterOp | DeduplicateOp | AggregateOp | JoinOp, Field(discriminator="kind")]

_NEEDS_SOURCE: frozenset[str] = frozenset(
    {"load_file", "filter", "deduplicate", "aggregate", "join", "preview", "profile", "transform"}
)


class Requirement(_Model):
    """A request, understood: inputs, a pipeline of operations and where the result goes.

    The operations apply in order to the first source; a ``join`` brings in another
    source by name. ``target_table`` receives the final result; ``None`` means the
    result is only read (preview, profile, list tables, a given SQL statement).
    """

    intent: Intent
    summary: str = Field(min_length=1)
    sources: list[Source] = Field(default_factory=list)
    operations: list[Operation] = Field(default_factory=list)
    target_table: str | None = None
    write_mode: Literal["create", "replace"] = "create"
    sql: str | None = Field(default=None, description="the statement to run (intent run_sql)")
    limit: int | None = Field(default=None, ge=1, le=100_000, description="rows to preview")
    language: Language | None = Field(default=None, description="a language the user asked for")
    assumptions: list[str] = Field(default_factory=list)

    @model_validator(mode="after")
    def _intent_fields(self) -> Requirement:
        if self.intent == "run_sql" and not (self.sql and self.sql.strip()):
            raise ValueError("intent 'run_sql' needs the statement in 'sql'")
        if self.intent in _NEEDS_SOURCE and not self.sources:
            raise ValueError(f"intent {self.intent!r} needs at least one source")
        names = {source.name for source in self.sources}
        for op in self.operations:
            if isinstance(op, JoinOp) and op.right not in names:
                raise ValueError(f"join source {op.right!r} is not listed in 'sources'")
        return self


# --- plan and route -------------------------------------------------------------


class Plan(_Model):
    steps: list[Annotated[str, Field(min_length=1)]] = Field(min_length=1)
    target_tables: list[str] = Field(default_factory=list)
    reads: list[str] = Field(default_factory=list)
    optimise: bool = Field(description="whether an optimisation pass is worth its cost")
    rationale: str = Field(min_length=1)


DeveloperKind = Literal["sql", "pyspark", "ingestion", "pipeline"]


class Route(_Model):
    developer: DeveloperKind
    language: Language
    reason: str = Field(min_length=1)


# --- code, review, optimisation -----------------------------------------------


class GeneratedCode(_Model):
    code: str = Field(min_length=1)
    language: Language
    explanation: str = Field(min_length=1)
    target_tables: list[str] = Field(default_factory=list)
    reads: list[str] = Field(default_factory=list)


class DraftFinding(_Model):
    """A finding as the LLM reports it (the reviewer adds ``source``)."""

    severity: Severity
    message: str = Field(min_length=1)
    line: int | None = Field(default=None, ge=1)


class ReviewDraft(_Model):
    """The reviewer LLM's answer, before the deterministic syntax check is merged in."""

    passed: bool
    findings: list[DraftFinding] = Field(default_factory=list)
    summary: str = Field(min_length=1)


class Finding(DraftFinding):
    source: Literal["syntax", "llm"]


class Review(_Model):
    passed: bool
    findings: list[Finding] = Field(default_factory=list)
    summary: str = Field(min_length=1)

    @model_validator(mode="after")
    def _blocking_fails(self) -> Review:
        if self.passed and any(f.severity in BLOCKING_SEVERITIES for f in self.findings):
            raise ValueError("a review with an error or critical finding cannot pass")
        return self

    @property
    def blocking(self) -> list[Finding]:
        return [f for f in self.findings if f.severity in BLOCKING_SEVERITIES]


class Change(_Model):
    description: str = Field(min_length=1)
    rationale: str = Field(min_length=1)


class OptimisationDraft(_Model):
    """The optimiser LLM's answer, before its code is syntax-checked."""

    code: str = Field(min_length=1)
    changes: list[Change] = Field(default_factory=list)
    expected_improvement: str = Field(min_length=1)


class Optimisation(_Model):
    code: str = Field(min_length=1)
    changed: bool
    changes: list[Change] = Field(default_factory=list)
    expected_improvement: str = Field(min_length=1)
    reverted_reason: str | None = Field(
        default=None, description="why the optimiser's code was discarded, if it was"
    )


__all__ = [
    "BLOCKING_SEVERITIES",
    "AggregateOp",
    "Aggregation",
    "Change",
    "Condition",
    "DeduplicateOp",
    "DeveloperKind",
    "DraftFinding",
    "FileFormat",
    "FilterOp",
    "Finding",
    "GeneratedCode",
    "Intent",
    "JoinKey",
    "JoinOp",
    "Operation",
    "Optimisation",
    "OptimisationDraft",
    "Plan",
    "Requirement",
    "Review",
    "ReviewDraft",
    "Route",
    "Severity",
    "Source",
    "TimeGrain",
]
