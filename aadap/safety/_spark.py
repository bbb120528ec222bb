"""What a Spark DataFrame write does, shared by the Python and Scala analysers.

The language front ends find the terminal call, the save mode and the target name;
these functions decide. Overwriting (or replacing) an existing table, a path, or a
target that cannot be named statically is destructive (HIGH); a computed save mode is
treated as overwrite; a write to a new table is a write (LOW).
"""

from __future__ import annotations

from aadap.core.enums import Language, OperationClass, RiskLevel
from aadap.safety._catalog import TableCatalog
from aadap.safety.findings import Finding

V1_TERMINALS = frozenset(
    {
        "saveAsTable",
        "insertInto",
        "save",
        "parquet",
        "csv",
        "json",
        "orc",
        "text",
        "jdbc",
        "toTable",
        "start",
    }
)
V2_TERMINALS = frozenset(
    {"create", "createOrReplace", "replace", "append", "overwrite", "overwritePartitions"}
)
TABLE_TERMINALS = frozenset({"saveAsTable", "insertInto", "toTable"})
HINT = "Append, MERGE, or write to a new table; overwrite only tables this task created."
_D = OperationClass.DESTRUCTIVE
_W = OperationClass.WRITE


def _f(
    rule: str,
    severity: RiskLevel,
    line: int,
    message: str,
    op: OperationClass,
    language: Language,
    hint: str = "",
) -> Finding:
    return Finding(rule, severity, line, message, hint, op, language)


def v1_write(
    *,
    terminal: str,
    mode: str,
    name: str | None,
    catalog: TableCatalog,
    line: int,
    language: Language,
) -> Finding:
    """``df.write[.mode(mode)].<terminal>(name or path)``; ``mode`` lower-case or ``"unknown"``."""
    is_table = terminal in TABLE_TERMINALS
    shown = name or ("a table named at run time" if is_table else "a path")
    if terminal == "insertInto":
        if mode in {"overwrite", "unknown"}:
            msg = f"insertInto({shown}) with overwrite replaces the table's contents"
            return _f("spark.insert_overwrite", RiskLevel.HIGH, line, msg, _D, language, HINT)
        return _f(
            "spark.write", RiskLevel.LOW, line, f"insertInto({shown}) appends rows", _W, language
        )
    exists = name is None or catalog.may_exist(name)
    if mode == "unknown":
        msg = f".{terminal}({shown}) uses a save mode computed at run time; treated as overwrite"
        return _f("spark.overwrite", RiskLevel.HIGH, line, msg, _D, language, HINT)
    if mode == "overwrite" and exists:
        what = f"existing table {name}" if name and is_table and catalog.exists(name) else shown
        msg = f"mode overwrite: .{terminal}(...) replaces {what}"
        if name is None or not catalog.exists(name):
            msg += " (the target may exist: it is treated as existing)"
        return _f("spark.overwrite", RiskLevel.HIGH, line, msg, _D, language, HINT)
    if is_table and name and catalog.exists(name) and mode in {"error", "errorifexists", "default"}:
        msg = f"saveAsTable({name}) targets an existing table (mode {mode})"
        hint = "Use mode('append') to add rows, or a new table name."
        return _f("spark.save_existing_table", RiskLevel.HIGH, line, msg, _W, language, hint)
    return _f(
        "spark.write",
        RiskLevel.LOW,
        line,
        f".{terminal}({shown}) writes data (mode {mode})",
        _W,
        language,
    )


def v2_write(
    *, terminal: str, name: str | None, catalog: TableCatalog, line: int, language: Language
) -> Finding:
    """``df.writeTo(name).<terminal>()``."""
    shown = name or "a table named at run time"
    replaces = terminal in {"replace", "overwrite", "overwritePartitions"}
    if replaces or (terminal == "createOrReplace" and (name is None or catalog.may_exist(name))):
        msg = f"writeTo({shown}).{terminal}() replaces existing data"
        return _f("spark.replace_table", RiskLevel.HIGH, line, msg, _D, language, HINT)
    return _f(
        "spark.write",
        RiskLevel.LOW,
        line,
        f"writeTo({shown}).{terminal}() writes data",
        _W,
        language,
    )


def loose_overwrite(line: int, language: Language) -> Finding:
    """A writer set to overwrite whose terminal call could not be followed."""
    msg = (
        "a DataFrame writer is set to overwrite (or a computed mode); its target cannot be checked"
    )
    return _f("spark.overwrite", RiskLevel.HIGH, line, msg, _D, language, HINT)
