"""Keyword classification for SQL that sqlglot parsed only as a ``Command`` or not at all.

This is the fallback, not the analyser: it only ever adds findings on top of the
``sql.unparseable`` / ``sql.unrecognised`` / ``python.dynamic_sql`` finding the caller
reports, so an unknown construct stays "needs approval" even when no keyword matches.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from aadap.core.enums import Language, OperationClass, RiskLevel
from aadap.safety.findings import Finding

_READ_HEADS = frozenset(
    {
        "SHOW",
        "EXPLAIN",
        "DESCRIBE",
        "DESC",
        "LIST",
        "GO",
        "USE",
        "LOAD",
        "SET",
        "RESET",
        "REFRESH",
        "CACHE",
        "UNCACHE",
        "ANALYZE",
        "PRINT",
        "DECLARE",
        "SELECT",
        "WITH",
        "VALUES",
        "SUMMARIZE",
        "PRAGMA",
        "BEGIN",
        "COMMIT",
        "ROLLBACK",
        "END",
    }
)
_CRITICAL_DROPS = frozenset({"TABLE", "SCHEMA", "DATABASE", "CATALOG"})
_STRINGS = re.compile(r"'(?:[^'\n]|'')*'")
_ANYWHERE = re.compile(
    r"\b(DROP|TRUNCATE|DELETE|UPDATE|ALTER|GRANT|REVOKE|DENY|MERGE|INSERT|CREATE|VACUUM|RESTORE)\b",
    re.IGNORECASE,
)

_DROP_HINT = (
    "Drop only objects this task created, and ask for approval; prefer renaming or a backup."
)
_DELETE_HINT = "Add a WHERE clause that limits the rows; review the row count before running."
_GRANT_HINT = "Permission changes go through the platform's access review, not generated code."

_D = OperationClass.DESTRUCTIVE
_W = OperationClass.WRITE

Rule = Callable[[str, int, Language], list[Finding]]


def _f(
    rule: str,
    severity: RiskLevel,
    line: int,
    language: Language,
    message: str,
    hint: str,
    operation: OperationClass | None,
    *,
    unverified: bool = False,
) -> Finding:
    return Finding(rule, severity, line, message, hint, operation, language, unverified)


def _drop(rest: str, line: int, lang: Language) -> list[Finding]:
    words = rest.split(None, 2)
    kind = words[0] if words else "OBJECT"
    if kind == "MATERIALIZED" and len(words) > 1:
        kind = f"MATERIALIZED {words[1]}"
    severity = RiskLevel.CRITICAL if kind in _CRITICAL_DROPS else RiskLevel.HIGH
    message = f"DROP {kind} removes the object and its data"
    return [_f("sql.drop", severity, line, lang, message, _DROP_HINT, _D)]


def _filtered(verb: str, rule: str, filtered_severity: RiskLevel, op: OperationClass) -> Rule:
    def classify(rest: str, line: int, lang: Language) -> list[Finding]:
        if re.search(r"\bWHERE\b", rest):
            msg = f"{verb} with a WHERE clause changes existing rows"
            return [_f(rule, filtered_severity, line, lang, msg, _DELETE_HINT, op)]
        msg = f"{verb} without a WHERE clause affects every row of the table"
        unfiltered, critical = f"{rule}_without_where", RiskLevel.CRITICAL
        return [_f(unfiltered, critical, line, lang, msg, _DELETE_HINT, _D)]

    return classify


def _alter(rest: str, line: int, lang: Language) -> list[Finding]:
    first = rest.split(None, 1)[0] if rest.split() else ""
    if re.search(r"\bOWNER\b", rest) or first in {"ROLE", "USER", "LOGIN"}:
        msg, op = "ALTER changes ownership or a principal", OperationClass.PERMISSION_CHANGE
        return [_f("sql.alter_owner", RiskLevel.HIGH, line, lang, msg, _GRANT_HINT, op)]
    msg = "ALTER changes the structure of an existing object"
    hint = "Schema changes need approval; add columns in a new version of the table when possible."
    return [_f("sql.alter", RiskLevel.HIGH, line, lang, msg, hint, OperationClass.SCHEMA_CHANGE)]


def _grant(verb: str) -> Rule:
    def classify(rest: str, line: int, lang: Language) -> list[Finding]:
        op = OperationClass.PERMISSION_CHANGE
        if verb == "GRANT" and re.match(r"\s*ALL\b", rest):
            msg = "GRANT ALL gives every privilege on the object"
            return [_f("sql.grant_all", RiskLevel.CRITICAL, line, lang, msg, _GRANT_HINT, op)]
        msg = f"{verb} changes who may access data"
        return [_f(f"sql.{verb.lower()}", RiskLevel.HIGH, line, lang, msg, _GRANT_HINT, op)]

    return classify


def _insert(rest: str, line: int, lang: Language) -> list[Finding]:
    if re.search(r"\bOVERWRITE\b", rest):
        msg = "INSERT OVERWRITE replaces the existing contents of the table"
        hint = "Use INSERT INTO (append) or MERGE, or write to a new table."
        return [_f("sql.insert_overwrite", RiskLevel.HIGH, line, lang, msg, hint, _D)]
    return [_f("sql.insert", RiskLevel.LOW, line, lang, "INSERT adds rows", "", _W)]


def _merge(rest: str, line: int, lang: Language) -> list[Finding]:
    if re.search(r"\bTHEN\s+DELETE\b", rest):
        msg = "MERGE deletes matched rows (WHEN ... THEN DELETE)"
        hint = "Soft-delete (flag rows) instead, or get approval for the delete branch."
        return [_f("sql.merge_delete", RiskLevel.HIGH, line, lang, msg, hint, _D)]
    msg = "MERGE inserts and updates rows of the target"
    return [_f("sql.merge", RiskLevel.MEDIUM, line, lang, msg, "", _W)]


def _create(rest: str, line: int, lang: Language) -> list[Finding]:
    if re.match(r"\s*OR\s+REPLACE\b", rest):
        msg = "CREATE OR REPLACE over a name that cannot be checked may replace existing data"
        hint = "Create a new name, or use CREATE ... IF NOT EXISTS."
        return [_f("sql.create_or_replace_existing", RiskLevel.HIGH, line, lang, msg, hint, _D)]
    return [_f("sql.create", RiskLevel.LOW, line, lang, "CREATE adds a new object", "", _W)]


def _fixed(
    rule: str, severity: RiskLevel, message: str, hint: str, op: OperationClass | None
) -> Rule:
    def classify(rest: str, line: int, lang: Language) -> list[Finding]:
        del rest
        return [_f(rule, severity, line, lang, message, hint, op, unverified=op is None)]

    return classify


_MAINTENANCE = _fixed("sql.maintenance", RiskLevel.LOW, "table maintenance", "", _W)
_PROCEDURE = _fixed(
    "sql.execute_procedure",
    RiskLevel.MEDIUM,
    "a stored procedure runs code that is not shown here",
    "Inline the statements so they can be checked.",
    None,
)
_HEADS: dict[str, Rule] = {
    "DROP": _drop,
    "TRUNCATE": _fixed(
        "sql.truncate",
        RiskLevel.CRITICAL,
        "TRUNCATE removes every row of the table",
        _DELETE_HINT,
        _D,
    ),
    "DELETE": _filtered("DELETE", "sql.delete", RiskLevel.HIGH, _D),
    "UPDATE": _filtered("UPDATE", "sql.update", RiskLevel.MEDIUM, _W),
    "ALTER": _alter,
    "GRANT": _grant("GRANT"),
    "REVOKE": _grant("REVOKE"),
    "DENY": _grant("DENY"),
    "INSERT": _insert,
    "MERGE": _merge,
    "CREATE": _create,
    "VACUUM": _fixed(
        "sql.vacuum",
        RiskLevel.HIGH,
        "VACUUM permanently removes old data files (time travel is lost)",
        "Keep the default retention; run VACUUM from a maintenance job with approval.",
        _D,
    ),
    "RESTORE": _fixed(
        "sql.restore",
        RiskLevel.HIGH,
        "RESTORE rolls the table back and discards later changes",
        "Restore into a clone first and compare.",
        _D,
    ),
    "OPTIMIZE": _MAINTENANCE,
    "MSCK": _MAINTENANCE,
    "FSCK": _MAINTENANCE,
    "REORG": _MAINTENANCE,
    "COPY": _fixed("sql.copy", RiskLevel.LOW, "COPY loads or exports data", "", _W),
    "EXEC": _PROCEDURE,
    "EXECUTE": _PROCEDURE,
    "CALL": _PROCEDURE,
}


def classify_head(head: str, rest: str, line: int, language: Language) -> list[Finding] | None:
    """Findings for a statement starting with keyword ``head``; ``None`` if ``head`` is unknown."""
    head = head.upper()
    rest = rest.upper()
    if head == "EXPLAIN" and re.match(r"\s*ANALY[SZ]E\b", rest):
        inner = re.sub(r"^\s*ANALY[SZ]E\s+", "", rest)
        words = inner.split(None, 1)
        if words:
            return classify_head(words[0], words[1] if len(words) > 1 else "", line, language)
    if head in _READ_HEADS:
        return []
    rule = _HEADS.get(head)
    return None if rule is None else rule(rest, line, language)


def scan_keywords(text: str, line: int, language: Language) -> list[Finding]:
    """Every risky keyword anywhere in ``text`` (string literals ignored), classified."""
    found: list[Finding] = []
    seen: set[str] = set()
    stripped = _STRINGS.sub("''", text)
    for match in _ANYWHERE.finditer(stripped):
        head = match.group(1).upper()
        if head in seen:
            continue
        seen.add(head)
        found.extend(classify_head(head, stripped[match.end() :], line, language) or [])
    return found
