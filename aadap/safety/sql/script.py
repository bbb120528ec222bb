"""SQL parsing with sqlglot: dialect choice, statement splitting with line numbers, fallbacks.

The script is tokenised once, split at semicolons (as sqlglot itself does) and each
statement parsed on its own, so one broken statement does not hide the others and
every statement keeps the line it starts on. sqlglot's "falling back to parsing as a
Command" warning is suppressed in a parser subclass (built once per dialect) instead
of by touching the global ``sqlglot`` logger: a Command is handled explicitly by the
rules.
"""

from __future__ import annotations

import functools
import logging
import re
import threading
from collections.abc import Sequence
from dataclasses import dataclass

from sqlglot import exp
from sqlglot.dialects.dialect import Dialect
from sqlglot.errors import SqlglotError
from sqlglot.parser import Parser
from sqlglot.tokenizer_core import Token, TokenType
from sqlglot.tokens import Tokenizer

from aadap.core.enums import PlatformKind

# A generated statement is a few hundred tokens; past this, parsing time explodes on
# pathological input (``a.a.a...``), so the statement is reported unparseable instead.
MAX_STATEMENT_TOKENS = 20_000


def sql_dialects(platform: PlatformKind, *, spark: bool = False) -> tuple[str, ...]:
    """Dialects to try, in order, for SQL run on ``platform``.

    ``spark`` is for SQL passed to ``spark.sql(...)``: Spark SQL everywhere, with
    T-SQL as Fabric's fallback. Plain SQL: DuckDB locally, Databricks SQL on
    Databricks, T-SQL on Fabric with Spark SQL as the fallback (lakehouses run Spark).
    """
    if platform is PlatformKind.DATABRICKS:
        return ("databricks",)
    if platform is PlatformKind.FABRIC:
        return ("spark", "tsql") if spark else ("tsql", "spark")
    return ("spark",) if spark else ("duckdb",)


@dataclass(frozen=True, slots=True)
class Statement:
    """One statement of a script: its expression, or the reason it could not be parsed."""

    line: int
    text: str
    head: str
    expression: exp.Expr | None
    error: str | None


# The compiled parser cannot be subclassed to silence its "falling back to a Command" warning;
# those statements are classified explicitly, so the warning is noise in every log.
class _DropCommandFallbackNotice(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return "Falling back to parsing as a 'Command'" not in record.getMessage()


logging.getLogger("sqlglot").addFilter(_DropCommandFallbackNotice())


@dataclass(frozen=True, slots=True)
class ParsedScript:
    statements: tuple[Statement, ...]
    dialect: str

    @property
    def failures(self) -> int:
        return sum(1 for item in self.statements if item.error is not None)


def _no_warning(self: Parser) -> None:
    del self  # a Command is classified explicitly by the analyser; no log noise


def quiet_parser(base: type[Parser]) -> type[Parser]:
    """``base`` without the "falling back to a Command" warning, when it can be subclassed.

    The mypyc-compiled parsers of ``sqlglot[c]`` refuse run-time subclasses: then the
    base class is used as is, and the CLI keeps the ``sqlglot`` logger at ERROR.
    """
    try:
        quiet = type(f"Quiet{base.__name__}", (base,), {"_warn_unsupported": _no_warning})
        quiet()  # compiled bases may only refuse at instantiation
    except TypeError:
        return base
    return quiet


@functools.cache
def _dialect(name: str) -> tuple[Dialect, type[Parser]]:
    """The dialect and its parser class, built once per dialect name (not per call)."""
    dialect = Dialect.get_or_raise(name)
    return dialect, quiet_parser(dialect.parser_class)


# A tokenizer and a parser keep the text they work on, so they are not shared between
# threads; building them costs more than tokenizing a short statement, so each thread
# keeps one pair per dialect (both reset their state at every call).
_per_thread = threading.local()


def _tools(name: str) -> tuple[Tokenizer, Parser]:
    tools: dict[str, tuple[Tokenizer, Parser]] | None = getattr(_per_thread, "tools", None)
    if tools is None:
        tools = _per_thread.tools = {}
    pair = tools.get(name)
    if pair is None:
        dialect, parser_class = _dialect(name)
        pair = tools[name] = (dialect.tokenizer(), parser_class(dialect=dialect))
    return pair


def _split(tokens: list[Token]) -> list[list[Token]]:
    chunks: list[list[Token]] = [[]]
    for token in tokens:
        if token.token_type == TokenType.SEMICOLON:
            chunks.append([])
        else:
            chunks[-1].append(token)
    return [chunk for chunk in chunks if chunk]


def _parse_with(sql: str, name: str) -> ParsedScript:
    tokenizer, parser = _tools(name)
    try:
        tokens = tokenizer.tokenize(sql)
    except (SqlglotError, RecursionError) as exc:
        text = sql.strip()
        head = text.split(None, 1)[0].upper() if text else ""
        return ParsedScript((Statement(1, sql, head, None, _short(exc)),), name)
    statements: list[Statement] = []
    for chunk in _split(tokens):
        text = sql[chunk[0].start : chunk[-1].end + 1]
        head = chunk[0].text.upper()
        if len(chunk) > MAX_STATEMENT_TOKENS:
            error = (
                f"{len(chunk):,} tokens; statements over {MAX_STATEMENT_TOKENS:,} are not parsed"
            )
            statements.append(Statement(chunk[0].line, text, head, None, error))
            continue
        try:
            parsed = [item for item in parser.parse(chunk, sql) if item is not None]
        except (SqlglotError, RecursionError) as exc:
            statements.append(Statement(chunk[0].line, text, head, None, _short(exc)))
            continue
        for expression in parsed:
            if not isinstance(expression, exp.Semicolon):
                statements.append(Statement(chunk[0].line, text, head, expression, None))
    return ParsedScript(tuple(statements), name)


def parse_script(sql: str, dialects: Sequence[str]) -> ParsedScript:
    """Parse with the first dialect; on any failure try the next ones and keep the best."""
    best: ParsedScript | None = None
    for name in dialects:
        result = _parse_with(sql, name)
        if result.failures == 0:
            return result
        if best is None or result.failures < best.failures:
            best = result
    if best is None:
        raise ValueError("parse_script needs at least one dialect")
    return best


_TOKEN_REPR = re.compile(r"<Token token_type: TokenType\.\w+, text: (.*?), line: .*?>")
_ANSI = re.compile(r"\x1b\[[0-9;]*m")


def _short(exc: BaseException) -> str:
    if isinstance(exc, RecursionError):
        return "nested too deeply to parse"
    first = _ANSI.sub("", str(exc)).strip().splitlines()
    return _TOKEN_REPR.sub(r"'\1'", first[0])[:160] if first else type(exc).__name__
