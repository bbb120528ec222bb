"""Deterministic syntax checks: Python with :mod:`ast`, SQL with sqlglot.

The reviewer merges these with the LLM's review, and the optimiser refuses code that
fails them, so no LLM can vouch for code that does not even parse. SQL is parsed in
the target platform's dialect: DuckDB locally, Databricks SQL on Databricks, Spark SQL on
Fabric, where SQL runs through ``spark.sql`` in a lakehouse notebook (T-SQL such as
``TOP`` or ``GETDATE()`` would pass a T-SQL check and then fail there).
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from aadap.core.enums import Language, PlatformKind

SQL_DIALECTS: dict[PlatformKind, tuple[str, ...]] = {
    PlatformKind.LOCAL: ("duckdb",),
    PlatformKind.DATABRICKS: ("databricks",),
    PlatformKind.FABRIC: ("spark",),  # executed as Spark SQL in a notebook (platforms/fabric.py)
}


@cache
def _not_statements() -> tuple[type[Any], ...]:
    """Top-level nodes sqlglot accepts leniently but that are expressions, not statements
    ("FOO BAR" parses as an alias, "print('x')" as a function call). sqlglot loads here,
    on the first SQL check, not with the module: it took a tenth of a second to import in
    every lifecycle process."""
    from sqlglot import exp

    return (exp.Condition, exp.Alias, exp.Identifier, exp.Star, exp.Tuple)


@dataclass(frozen=True, slots=True)
class SyntaxIssue:
    message: str
    line: int | None = None


@dataclass(frozen=True, slots=True)
class SyntaxReport:
    """What was checked and what failed; ``checked`` is False when no checker exists."""

    language: Language
    checked: bool
    dialect: str | None = None
    issues: list[SyntaxIssue] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.issues


def check_syntax(code: str, language: Language, platform: PlatformKind) -> SyntaxReport:
    """Check ``code`` parses as ``language`` on ``platform``."""
    if not code.strip():
        return SyntaxReport(language, True, None, [SyntaxIssue("the code is empty")])
    if language in (Language.PYTHON, Language.PYSPARK):
        return SyntaxReport(language, True, None, check_python(code))
    if language is Language.SQL:
        return check_sql(code, platform)
    return SyntaxReport(language, checked=False)


def check_python(code: str) -> list[SyntaxIssue]:
    try:
        ast.parse(code)
    except SyntaxError as exc:
        return [SyntaxIssue(f"Python syntax error: {exc.msg}", exc.lineno)]
    return []


def check_sql(code: str, platform: PlatformKind) -> SyntaxReport:
    """Parse with each of the platform's dialects; the first that accepts the code wins."""
    dialects = SQL_DIALECTS[platform]
    first_failure: list[SyntaxIssue] = []
    for dialect in dialects:
        issues = _sql_issues(code, dialect)
        if not issues:
            return SyntaxReport(Language.SQL, True, dialect)
        if not first_failure:
            first_failure = issues
    return SyntaxReport(Language.SQL, True, "/".join(dialects), first_failure)


def _sql_issues(code: str, dialect: str) -> list[SyntaxIssue]:
    import sqlglot
    from sqlglot.errors import ParseError, TokenError

    not_statements = _not_statements()
    try:
        statements = sqlglot.parse(code, read=dialect)
    except ParseError as exc:
        first = exc.errors[0] if exc.errors else {}
        line = first.get("line")
        description = first.get("description") or str(exc).splitlines()[0]
        return [SyntaxIssue(f"SQL syntax error ({dialect}): {description}", _line(line))]
    except TokenError as exc:
        return [SyntaxIssue(f"SQL syntax error ({dialect}): {exc}")]
    parsed = [statement for statement in statements if statement is not None]
    if not parsed:
        return [SyntaxIssue("the code contains no SQL statement")]
    return [
        SyntaxIssue(
            f"not a SQL statement ({dialect}): {statement.sql(dialect=dialect)[:80]!r}",
            _line(statement.meta.get("line")),
        )
        for statement in parsed
        if isinstance(statement, not_statements)
    ]


def _line(value: object) -> int | None:
    return value if isinstance(value, int) and value >= 1 else None


__all__ = [
    "SQL_DIALECTS",
    "SyntaxIssue",
    "SyntaxReport",
    "check_python",
    "check_sql",
    "check_syntax",
]
