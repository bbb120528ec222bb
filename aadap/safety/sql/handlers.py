"""The SQL rules: one handler per statement node type, applied while walking a tree.

``_READ_ROOTS`` are statement types that read (or only set session state); any other
root type with no handler is reported ``sql.unrecognised`` by :mod:`aadap.safety.sql`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from sqlglot import exp

from aadap.core.enums import Language, OperationClass, RiskLevel
from aadap.safety._catalog import TableCatalog
from aadap.safety.findings import Finding
from aadap.safety.sql.keywords import classify_head

_W = OperationClass.WRITE
_D = OperationClass.DESTRUCTIVE
_CRITICAL_DROPS = frozenset({"TABLE", "SCHEMA", "DATABASE", "CATALOG"})
READ_ROOTS: tuple[type[exp.Expr], ...] = (
    exp.Query,
    exp.Values,
    exp.Describe,
    exp.Summarize,
    exp.Show,
    exp.Use,
    exp.Transaction,
    exp.Commit,
    exp.Rollback,
    exp.Cache,
    exp.Uncache,
    exp.Refresh,
    exp.Analyze,
    exp.Pragma,
    exp.Set,
    exp.Install,
    exp.Detach,
    exp.IfBlock,
    exp.Block,
    exp.WhileBlock,
)


@dataclass(frozen=True, slots=True)
class Ctx:
    catalog: TableCatalog
    line: int
    language: Language
    origin: str
    duckdb: bool = False  # the statement runs on DuckDB (remote schemes such as s3:// count)
    allowed_hosts: tuple[str, ...] = ()

    def f(
        self,
        rule: str,
        severity: RiskLevel,
        message: str,
        hint: str,
        op: OperationClass | None,
        *,
        unverified: bool = False,
    ) -> Finding:
        text = f"{message}{self.origin}"
        return Finding(rule, severity, self.line, text, hint, op, self.language, unverified)


def _name(node: exp.Expr | None) -> str:
    if isinstance(node, exp.Schema):
        node = node.this
    if isinstance(node, exp.Table):
        parts = [part.name for part in node.parts]
        return ".".join(parts) if parts else node.sql()
    return node.sql() if isinstance(node, exp.Expr) else "?"


def _trivial(where: exp.Expr | None) -> bool:
    """No WHERE, or one that is always true (``WHERE 1=1``, ``WHERE TRUE``)."""
    if where is None:
        return True
    cond = where.this if isinstance(where, exp.Where) else where
    if isinstance(cond, exp.Boolean):
        return bool(cond.this)
    if isinstance(cond, exp.EQ):
        left, right = cond.this, cond.expression
        return isinstance(left, exp.Literal) and isinstance(right, exp.Literal) and left == right
    return isinstance(cond, exp.Literal) and cond.name not in ("0", "")


def _drop(node: exp.Expr, c: Ctx) -> list[Finding]:
    kind = str(node.args.get("kind") or "OBJECT").upper()
    if node.args.get("materialized"):
        kind = f"MATERIALIZED {kind}"
    tables = node.args.get("tables") or [node.this]
    names = ", ".join(_name(t) for t in tables if t is not None)
    sev = RiskLevel.CRITICAL if kind in _CRITICAL_DROPS else RiskLevel.HIGH
    hint = "Drop only objects this task created, and ask for approval; prefer a rename or backup."
    return [c.f("sql.drop", sev, f"DROP {kind} {names} removes it and its data", hint, _D)]


def _truncate(node: exp.Expr, c: Ctx) -> list[Finding]:
    names = ", ".join(_name(t) for t in node.expressions)
    msg = f"TRUNCATE {names} removes every row"
    return [c.f("sql.truncate", RiskLevel.CRITICAL, msg, "Delete only the rows you mean to.", _D)]


def _delete(node: exp.Expr, c: Ctx) -> list[Finding]:
    target = _name(node.this or (node.args.get("tables") or [None])[0])
    hint = "Add a WHERE clause that limits the rows; check the row count first."
    if _trivial(node.args.get("where")):
        msg = f"DELETE FROM {target} without a (restrictive) WHERE clause removes every row"
        return [c.f("sql.delete_without_where", RiskLevel.CRITICAL, msg, hint, _D)]
    return [c.f("sql.delete", RiskLevel.HIGH, f"DELETE removes rows from {target}", hint, _D)]


def _update(node: exp.Expr, c: Ctx) -> list[Finding]:
    target = _name(node.this)
    hint = "Add a WHERE clause that limits the rows."
    if _trivial(node.args.get("where")) and node.args.get("from_") is None:
        msg = f"UPDATE {target} without a (restrictive) WHERE clause rewrites every row"
        return [c.f("sql.update_without_where", RiskLevel.CRITICAL, msg, hint, _D)]
    return [c.f("sql.update", RiskLevel.MEDIUM, f"UPDATE changes rows of {target}", "", _W)]


def _alter(node: exp.Expr, c: Ctx) -> list[Finding]:
    target = _name(node.this)
    actions = node.args.get("actions") or []
    if any(isinstance(a, exp.Drop) for a in actions):
        msg = f"ALTER {target} drops a column or constraint (its data is lost)"
        return [c.f("sql.alter_drop", RiskLevel.HIGH, msg, "Keep the column; stop writing it.", _D)]
    hint = "Schema changes need approval; prefer additive changes."
    msg = f"ALTER changes the structure of {target}"
    return [c.f("sql.alter", RiskLevel.HIGH, msg, hint, OperationClass.SCHEMA_CHANGE)]


def _grant(node: exp.Expr, c: Ctx) -> list[Finding]:
    verb = "GRANT" if isinstance(node, exp.Grant) else "REVOKE"
    privileges = [p.sql().upper() for p in node.args.get("privileges") or []]
    hint = "Permission changes go through the platform's access review, not generated code."
    op = OperationClass.PERMISSION_CHANGE
    if verb == "GRANT" and any(p.startswith("ALL") for p in privileges):
        msg = f"GRANT ALL on {_name(node.args.get('securable'))} gives every privilege"
        return [c.f("sql.grant_all", RiskLevel.CRITICAL, msg, hint, op)]
    msg = f"{verb} {', '.join(privileges) or ''} changes who may access data".replace("  ", " ")
    return [c.f(f"sql.{verb.lower()}", RiskLevel.HIGH, msg, hint, op)]


def _insert(node: exp.Expr, c: Ctx) -> list[Finding]:
    target = _name(node.this)
    if node.args.get("overwrite"):
        msg = f"INSERT OVERWRITE replaces the contents of {target}"
        hint = "Use INSERT INTO (append) or MERGE, or write to a new table."
        return [c.f("sql.insert_overwrite", RiskLevel.HIGH, msg, hint, _D)]
    if node.args.get("where") is not None:
        msg = f"INSERT ... REPLACE WHERE deletes the matching rows of {target} first"
        return [c.f("sql.insert_replace_where", RiskLevel.HIGH, msg, "Use MERGE.", _D)]
    if str(node.args.get("alternative") or "").upper() == "REPLACE":
        msg = f"INSERT OR REPLACE overwrites conflicting rows of {target}"
        return [c.f("sql.upsert", RiskLevel.MEDIUM, msg, "", _W)]
    return [c.f("sql.insert", RiskLevel.LOW, f"INSERT adds rows to {target}", "", _W)]


def _merge(node: exp.Expr, c: Ctx) -> list[Finding]:
    target = _name(node.this)
    whens = node.args.get("whens")
    for when in whens.expressions if whens is not None else []:
        then = when.args.get("then")
        if isinstance(then, exp.Var) and then.name.upper() == "DELETE":
            msg = f"MERGE into {target} deletes rows (WHEN ... THEN DELETE)"
            hint = "Soft-delete (flag rows) instead, or get approval for the delete branch."
            return [c.f("sql.merge_delete", RiskLevel.HIGH, msg, hint, _D)]
    return [c.f("sql.merge", RiskLevel.MEDIUM, f"MERGE inserts and updates {target}", "", _W)]


def _create(node: exp.Expr, c: Ctx) -> list[Finding]:
    kind = str(node.args.get("kind") or "OBJECT").upper()
    properties = node.args.get("properties")
    if properties is not None and properties.find(exp.TemporaryProperty) is not None:
        return []  # session-scoped: nothing persistent is created or replaced
    target = node.this
    if isinstance(target, exp.Schema):
        target = target.this
    name = _name(target)
    if node.args.get("replace"):
        if isinstance(target, exp.Table) and c.catalog.may_exist(
            tuple(p.name for p in target.parts)
        ):
            known = (
                "an existing"
                if c.catalog.exists(name)
                else "a possibly existing (catalog not given)"
            )
            msg = f"CREATE OR REPLACE {kind} {name} replaces {known} object and its data"
            hint = "Write to a new name, or MERGE into the existing table."
            return [c.f("sql.create_or_replace_existing", RiskLevel.HIGH, msg, hint, _D)]
        msg = f"CREATE OR REPLACE {kind} {name} (a new name)"
        return [c.f("sql.create_or_replace", RiskLevel.LOW, msg, "", _W)]
    return [c.f("sql.create", RiskLevel.LOW, f"CREATE {kind} {name}", "", _W)]


def _command(node: exp.Expr, c: Ctx) -> list[Finding]:
    words = str(node.this or "").split()
    tail = node.args.get("expression")
    if isinstance(tail, exp.Literal):
        tail = tail.name
    elif isinstance(tail, exp.Expr):
        tail = tail.sql()
    rest = " ".join([*words[1:], str(tail or "")])
    found = classify_head(words[0] if words else "", rest, c.line, c.language)
    if found is None:
        msg = f"{node.sql()[:60]!r} is not a statement the analyser understands"
        hint = "Use standard statements, or ask for a manual review."
        return [c.f("sql.unrecognised", RiskLevel.MEDIUM, msg, hint, None, unverified=True)]
    return [with_origin(item, c) for item in found]


def with_origin(item: Finding, c: Ctx) -> Finding:
    if not c.origin:
        return item
    return c.f(
        item.rule,
        item.severity,
        item.message,
        item.fix_hint,
        item.operation,
        unverified=item.unverified,
    )


def _low(rule: str, message: str) -> Callable[[exp.Expr, Ctx], list[Finding]]:
    def handler(node: exp.Expr, c: Ctx) -> list[Finding]:
        del node
        return [c.f(rule, RiskLevel.LOW, message, "", _W)]

    return handler


def _execute(node: exp.Expr, c: Ctx) -> list[Finding]:
    msg = f"EXEC {_name(node.this)} runs a procedure whose statements are not shown"
    hint = "Inline the statements so they can be checked."
    return [c.f("sql.execute_procedure", RiskLevel.MEDIUM, msg, hint, None, unverified=True)]


HANDLERS: dict[type[exp.Expr], Callable[[exp.Expr, Ctx], list[Finding]]] = {
    exp.Drop: _drop,
    exp.TruncateTable: _truncate,
    exp.Delete: _delete,
    exp.Update: _update,
    exp.Alter: _alter,
    exp.Grant: _grant,
    exp.Revoke: _grant,
    exp.Insert: _insert,
    exp.Merge: _merge,
    exp.Create: _create,
    exp.Command: _command,
    exp.Copy: _low("sql.copy", "COPY loads or exports data"),
    exp.Attach: _low("sql.attach", "ATTACH opens (and may create) a database file"),
    exp.Into: _low("sql.select_into", "SELECT ... INTO creates a table"),
    exp.Execute: _execute,
}
