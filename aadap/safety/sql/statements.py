"""SQL analysis over sqlglot syntax trees.

Every statement is parsed (see :mod:`aadap.safety.sql.script`) and its tree walked for
statement nodes, so statements nested in T-SQL ``IF`` blocks or CTEs are seen too.
A statement sqlglot cannot parse is reported ``sql.unparseable`` (MEDIUM, unverified)
plus whatever its keywords suggest; it is never read as safe.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlglot import exp

from aadap.core.enums import Language, RiskLevel
from aadap.safety._catalog import TableCatalog
from aadap.safety.findings import Finding
from aadap.safety.sql.handlers import HANDLERS, READ_ROOTS, Ctx, with_origin
from aadap.safety.sql.keywords import classify_head, scan_keywords
from aadap.safety.sql.script import Statement, parse_script
from aadap.safety.sql.side_doors import side_doors


def _statement(st: Statement, c: Ctx) -> list[Finding]:
    doors = side_doors(st.text, c.line, c.language, duckdb=c.duckdb, allowed_hosts=c.allowed_hosts)
    return _parsed(st, c) + [with_origin(item, c) for item in doors]


def _parsed(st: Statement, c: Ctx) -> list[Finding]:
    if st.expression is None:
        msg = f"the statement starting {st.text.strip()[:40]!r} cannot be parsed ({st.error})"
        hint = "Fix the syntax for the target dialect; unparseable SQL is never auto-approved."
        found = [c.f("sql.unparseable", RiskLevel.MEDIUM, msg, hint, None, unverified=True)]
        extra = classify_head(st.head, st.text.split(None, 1)[-1], c.line, c.language)
        extra = extra if extra else scan_keywords(st.text, c.line, c.language)
        return found + [with_origin(item, c) for item in extra]
    root = st.expression
    if isinstance(root, exp.Command) and str(root.this).upper() == "GO":
        return []
    found = []
    recognised = isinstance(root, READ_ROOTS)
    for node in root.walk(prune=lambda n: type(n) in HANDLERS):
        handler = HANDLERS.get(type(node))
        if handler is not None:
            recognised = True
            found.extend(handler(node, c))
    if not recognised:
        msg = f"{st.text.strip()[:40]!r} does not look like a SQL statement"
        hint = "Generate a complete statement; fragments are never auto-approved."
        found.append(c.f("sql.unrecognised", RiskLevel.MEDIUM, msg, hint, None, unverified=True))
    return found


def analyze_sql(
    sql: str,
    *,
    dialects: Sequence[str],
    catalog: TableCatalog,
    line_offset: int = 0,
    language: Language = Language.SQL,
    origin: str = "",
    allowed_hosts: Sequence[str] = (),
) -> tuple[list[Finding], int]:
    """Findings for a SQL script and the number of statements in it.

    ``line_offset`` is added to every line (SQL embedded in another file);
    ``origin`` is appended to messages (e.g. `` in spark.sql(...)``);
    ``allowed_hosts`` may be read from without a finding (see :mod:`aadap.safety.sql.side_doors`).
    """
    script = parse_script(sql, dialects)
    statements = [st for st in script.statements if not _is_go(st)]
    findings: list[Finding] = []
    if len(statements) > 1:
        first = statements[0].line + line_offset
        msg = (
            f"script of {len(statements)} statements{origin}; each is checked, they run in sequence"
        )
        hint = "Split independent steps; wrap dependent ones in a transaction where supported."
        findings.append(
            Finding("sql.multi_statement", RiskLevel.MEDIUM, first, msg, hint, None, language)
        )
    for st in statements:
        ctx = Ctx(
            catalog,
            st.line + line_offset,
            language,
            origin,
            duckdb=script.dialect == "duckdb",
            allowed_hosts=tuple(allowed_hosts),
        )
        findings.extend(_statement(st, ctx))
    return findings, len(statements)


def _is_go(st: Statement) -> bool:
    return isinstance(st.expression, exp.Command) and str(st.expression.this).upper() == "GO"
