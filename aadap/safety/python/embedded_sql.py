"""SQL inside Python: ``spark.sql(...)``, DuckDB and DB-API ``execute(...)``.

A string literal (or a module-level constant, or a concatenation of literals) is
analysed as SQL with the platform's dialect; its findings carry the Python line of
the SQL text. SQL assembled at run time (f-string, ``+`` with a variable,
``.format()``, ``%``) cannot be checked: it is reported ``python.dynamic_sql`` (HIGH),
and the template, with every hole replaced by a placeholder identifier, is analysed
as well, so ``f"DROP TABLE {t}"`` is also a DROP.
"""

from __future__ import annotations

import ast
import re
import textwrap
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from aadap.core.enums import Language, PlatformKind, RiskLevel
from aadap.safety._catalog import PLACEHOLDER, TableCatalog
from aadap.safety.findings import Finding
from aadap.safety.python.names import NameResolver, string_value
from aadap.safety.sql import analyze_sql
from aadap.safety.sql.keywords import scan_keywords
from aadap.safety.sql.script import sql_dialects

_PERCENT = re.compile(r"%(?:\([^)]*\))?[-#0 +]*\d*(?:\.\d+)?[sdifrxXeEgGc]")
_BRACES = re.compile(r"\{[^{}]*\}")
_DB_RECEIVERS = re.compile(
    r"(?:^|[._])(?:con|conn|connection|cur|cursor|db|duckdb|session|engine|warehouse)\d*$", re.I
)
_DB_MODULES = ("duckdb", "sqlite3", "psycopg", "psycopg2", "pyodbc", "sqlalchemy")
_STR_METHODS = frozenset({"strip", "lstrip", "rstrip", "upper", "lower"})
_MAX_DEPTH = 6
_SQL_METHODS = frozenset({"sql", "query", "execute", "executemany", "executescript"})
_PANDAS_SQL = frozenset({"read_sql", "read_sql_query"})  # pandas runs any statement given


def _last(func: ast.Attribute | ast.Name) -> str:
    return func.attr if isinstance(func, ast.Attribute) else func.id


Kind = Literal["literal", "template", "unknown"]


@dataclass(frozen=True, slots=True)
class SqlText:
    kind: Kind
    text: str
    line: int  # line of the first character of ``text`` in the Python file
    how: str  # "f-string", "concatenation", "variable QUERY (line 3)", ...


def _unknown(line: int, how: str) -> SqlText:
    return SqlText("unknown", "", line, how)


def evaluate(node: ast.expr, names: NameResolver, depth: int = 0) -> SqlText:
    """What string ``node`` evaluates to, as far as it can be known statically."""
    line = getattr(node, "lineno", 0)
    if depth > _MAX_DEPTH:
        return _unknown(line, "a deeply nested expression")
    text = string_value(node)
    if text is not None:
        return SqlText("literal", text, line, "a literal")
    if not isinstance(node, ast.Name):
        folded = names.text(node)
        if folded is not None:
            return SqlText("literal", folded, line, "a constant expression")
    if isinstance(node, ast.JoinedStr):
        parts = [
            string_value(v) if isinstance(v, ast.Constant) else PLACEHOLDER for v in node.values
        ]
        return SqlText("template", "".join(p or "" for p in parts), line, "an f-string")
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        left, right = evaluate(node.left, names, depth + 1), evaluate(node.right, names, depth + 1)
        kind: Kind = "literal" if left.kind == right.kind == "literal" else "template"
        joined = (left.text or PLACEHOLDER) + (right.text or PLACEHOLDER)
        return SqlText(kind, joined, line, "string concatenation")
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Mod):
        left = evaluate(node.left, names, depth + 1)
        if left.kind != "unknown":
            return SqlText("template", _PERCENT.sub(PLACEHOLDER, left.text), line, "%-formatting")
    if isinstance(node, ast.Call):
        return _call(node, names, depth)
    if isinstance(node, ast.Name) and node.id in names.constants:
        value, defined = names.constants[node.id]
        inner = evaluate(value, names, depth + 1)
        how = f"variable {node.id} (line {defined}) holding {inner.how}"
        return SqlText(inner.kind, inner.text, inner.line, how)
    return _unknown(line, "an expression whose value is only known at run time")


def _call(node: ast.Call, names: NameResolver, depth: int) -> SqlText:
    line = node.lineno
    func = node.func
    if isinstance(func, ast.Attribute) and func.attr == "format":
        base = evaluate(func.value, names, depth + 1)
        if base.kind != "unknown":
            return SqlText("template", _BRACES.sub(PLACEHOLDER, base.text), line, ".format()")
    if isinstance(func, ast.Attribute) and func.attr in _STR_METHODS and not node.args:
        base = evaluate(func.value, names, depth + 1)
        return SqlText(base.kind, base.text, base.line, base.how)
    wrappers = names.resolve(func) if node.args else frozenset()
    if any(n.endswith("dedent") for n in wrappers):
        base = evaluate(node.args[0], names, depth + 1)
        return SqlText(base.kind, textwrap.dedent(base.text), base.line, base.how)
    if any(n == "text" or n.endswith("sqlalchemy.text") for n in wrappers):
        return evaluate(node.args[0], names, depth + 1)  # sqlalchemy.text("...")
    return _unknown(line, "the result of a call")


def sql_call(node: ast.Call, names: NameResolver) -> tuple[str, tuple[str, ...]] | None:
    """``(description, dialect kind)`` when ``node`` runs SQL: ``("spark.sql", ("spark",))``.

    The callee may be reached through an alias (``run = spark.sql; run(...)``), a
    getattr with a folded name or an attribute set with ``setattr``.
    """
    func = node.func
    if (
        isinstance(func, ast.Attribute | ast.Name)
        and _last(func) in _PANDAS_SQL
        and any(n.startswith(("pandas.", "pd.")) for n in names.resolve(func))
    ):
        return f"pandas.{_last(func)}", ("db",)
    if isinstance(func, ast.Attribute) and func.attr in _SQL_METHODS:
        receivers = names.resolve(func.value)
        receiver_text = ast.unparse(func.value) if len(receivers) == 0 else min(receivers)
        if _opened_connection(func.value, names):  # with engine.connect() as c: c.execute(...)
            receiver_text = f"{receiver_text}.connection"
        return _sql_kind(func.attr, receiver_text, receivers)
    if not (
        (type(func) is ast.Name and func.id in names.aliases)
        or type(func) is ast.Call
        or type(func) is ast.Subscript
        or (type(func) is ast.Attribute and names.has_attribute_aliases)
    ):
        return None
    for name in sorted(names.resolve(func)):
        receiver_text, _, method = name.rpartition(".")
        if method in _SQL_METHODS and receiver_text:
            found = _sql_kind(method, receiver_text, frozenset({receiver_text}))
            if found is not None:
                return found
    return None


def _opened_connection(receiver: ast.expr, names: NameResolver) -> bool:
    """``receiver`` is a name bound once to ``<x>.connect()``/``.cursor()``/``.begin()``."""
    if not isinstance(receiver, ast.Name) or receiver.id not in names.constants:
        return False
    value = names.constants[receiver.id][0]
    return (
        isinstance(value, ast.Call)
        and isinstance(value.func, ast.Attribute)
        and value.func.attr in {"connect", "cursor", "begin", "raw_connection"}
    )


def _sql_kind(
    method: str, receiver_text: str, receivers: frozenset[str]
) -> tuple[str, tuple[str, ...]] | None:
    is_duckdb = any(r.startswith("duckdb") for r in receivers)
    if method == "sql" or (method == "query" and is_duckdb):
        return f"{receiver_text}.{method}", ("duckdb" if is_duckdb else "spark",)
    if method in {"execute", "executemany", "executescript"}:
        known = any(r.split(".")[0] in _DB_MODULES for r in receivers)
        if known or _DB_RECEIVERS.search(receiver_text):
            return f"{receiver_text}.{method}", ("duckdb" if is_duckdb else "db",)
    return None


_SQL_KEYWORDS = ("sqlQuery", "query", "sql", "operation")


def _sql_argument(node: ast.Call) -> ast.expr | None:
    if node.args:
        return node.args[0]  # a *splat is an expression only known at run time
    for keyword in node.keywords:
        if keyword.arg in _SQL_KEYWORDS:
            return keyword.value
    for keyword in node.keywords:
        if keyword.arg is None:  # spark.sql(**{"sqlQuery": ...})
            value = keyword.value
            if isinstance(value, ast.Dict):
                for key, item in zip(value.keys, value.values, strict=True):
                    if isinstance(key, ast.Constant) and key.value in _SQL_KEYWORDS:
                        return item
            return value
    return None


def embedded_sql(
    node: ast.Call,
    call: tuple[str, tuple[str, ...]],
    *,
    names: NameResolver,
    platform: PlatformKind,
    catalog: TableCatalog,
    allowed_hosts: Sequence[str] = (),
) -> list[Finding]:
    """Findings for the SQL run by ``node`` (a call recognised by :func:`sql_call`)."""
    description, (flavour,) = call
    argument = _sql_argument(node)
    if argument is None:
        return []
    if flavour == "duckdb":
        dialects: tuple[str, ...] = ("duckdb",)
    else:
        dialects = sql_dialects(platform, spark=flavour == "spark")
    source = evaluate(argument, names)
    origin = f" (in {description}(...) on line {node.lineno})"
    if source.kind == "literal":
        found, _ = analyze_sql(
            source.text,
            dialects=dialects,
            catalog=catalog,
            line_offset=source.line - 1,
            language=Language.SQL,
            origin=origin,
            allowed_hosts=allowed_hosts,
        )
        return found
    message = (
        f"{description}() runs SQL built from {source.how}; it cannot be checked before it runs"
    )
    hint = (
        "Use a constant statement with parameter markers, e.g. "
        "spark.sql('SELECT * FROM t WHERE id = :id', args={'id': value})."
    )
    dynamic = _dynamic_sql(node.lineno, message, hint)
    if source.kind == "unknown":
        if flavour == "db" and isinstance(argument, ast.Call):
            return []  # session.execute(select(...)): an ORM statement object, not SQL text
        return [dynamic]
    found, _ = analyze_sql(
        source.text,
        dialects=dialects,
        catalog=catalog,
        line_offset=source.line - 1,
        language=Language.SQL,
        origin=f" (template{origin})",
        allowed_hosts=allowed_hosts,
    )
    checked = [f for f in found if f.rule not in {"sql.unparseable", "sql.unrecognised"}]
    if len(checked) < len(found):
        checked.extend(scan_keywords(source.text, node.lineno, Language.SQL))
    return [dynamic, *checked]


def sql_runner_passed(node: ast.Call, names: NameResolver) -> Finding | None:
    """A SQL runner handed over instead of called: ``map(spark.sql, stmts)``,
    ``functools.partial(spark.sql, "...")``, ``operator.methodcaller("sql", "...")``.

    The statement it will run is not at a call site the analysis sees, so it cannot be
    checked (HIGH, ``python.dynamic_sql``): the policy fails closed.
    """
    runner: str | None = None
    func = node.func
    if type(func) is ast.Name and func.id == "setattr":
        return None  # setattr(ns, "go", spark.sql) binds an alias, resolved at ns.go(...)
    for value in [*node.args, *(keyword.value for keyword in node.keywords)]:
        kind = type(value)
        if (kind is ast.Attribute and value.attr in _SQL_METHODS | _PANDAS_SQL) or (  # type: ignore[attr-defined]
            kind is ast.Name and value.id in names.aliases  # type: ignore[attr-defined]
        ):
            found = sql_call(ast.Call(func=value, args=[], keywords=[]), names)
            if found is not None:
                runner = found[0]
                break
    if (
        runner is None
        and node.args
        and isinstance(func, ast.Attribute | ast.Name)
        and _last(func) == "methodcaller"
        and "operator.methodcaller" in names.resolve(func)
        and names.text(node.args[0]) in _SQL_METHODS
    ):
        runner = f"<object>.{names.text(node.args[0])}"
    if runner is None:
        return None
    message = f"{runner} is passed on as a value; the SQL it runs cannot be checked before it runs"
    hint = "Call it directly with a constant statement: spark.sql('SELECT ...')."
    return _dynamic_sql(node.lineno, message, hint)


def _dynamic_sql(line: int, message: str, hint: str) -> Finding:
    """SQL the analysis cannot see before it runs: HIGH, so the policy fails closed."""
    return Finding(
        "python.dynamic_sql", RiskLevel.HIGH, line, message, hint, None, Language.PYTHON, True
    )
