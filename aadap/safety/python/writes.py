"""DataFrame writes (PySpark; pandas ``to_sql``, ``to_csv``...): what they write and replace.

A writer chain is read back from its terminal call (``saveAsTable``, ``insertInto``,
``save``, ``parquet``, ``toTable``, ``writeTo(...).createOrReplace()``, ...) through
``.mode(...)``, ``.format(...)`` and ``.option(...)`` to ``.write``/``.writeStream``/
``.writeTo``. Overwriting an existing table, a path, or a target that cannot be
named statically is destructive (HIGH); writing a new table is a write (LOW).
A ``.mode("overwrite")`` that is not part of a recognised chain (a writer kept in a
variable) is reported on its own.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, field

from aadap.core.enums import Language, OperationClass, RiskLevel
from aadap.safety._catalog import TableCatalog
from aadap.safety._spark import (
    HINT,
    TABLE_TERMINALS,
    V1_TERMINALS,
    V2_TERMINALS,
    loose_overwrite,
    v1_write,
    v2_write,
)
from aadap.safety.findings import Finding
from aadap.safety.python.embedded_sql import evaluate
from aadap.safety.python.names import NameResolver

_MAX_CHAIN = 200
_FILE_WRITERS = frozenset(
    {"to_csv", "to_parquet", "to_json", "to_excel", "to_feather", "to_orc", "to_hdf"}
)
_SPARK = Language.PYSPARK


@dataclass(slots=True)
class WriteCheck:
    catalog: TableCatalog
    names: NameResolver
    consumed: set[int] = field(default_factory=set)

    def _string(self, node: ast.expr | None) -> str | None:
        if node is None:
            return None
        value = evaluate(node, self.names)
        if value.kind == "literal":
            return value.text
        if isinstance(node, ast.Attribute) and node.attr in {
            "Overwrite",
            "Append",
            "Ignore",
            "ErrorIfExists",
        }:
            return node.attr
        return None

    def _mode(self, terminal: ast.Call, chain: list[tuple[str, ast.Call | None]]) -> str:
        for keyword in terminal.keywords:
            if keyword.arg == "mode":
                return (self._string(keyword.value) or "unknown").lower()
        for attr, call in chain:
            if attr == "mode" and call is not None:
                self.consumed.add(id(call))
                return (self._string(call.args[0] if call.args else None) or "unknown").lower()
        return "errorifexists"

    def check(self, node: ast.Call) -> list[Finding] | None:
        """Findings for a writer terminal call; ``None`` when ``node`` is not a DataFrame write."""
        if not isinstance(node.func, ast.Attribute):
            return None
        terminal = node.func.attr
        if terminal == "to_sql":
            return self._pandas(node)
        if terminal in _FILE_WRITERS and (node.args or any(k.arg == "path" for k in node.keywords)):
            msg = f".{terminal}(...) writes a file"
            return [
                Finding(
                    "python.file_write",
                    RiskLevel.LOW,
                    node.lineno,
                    msg,
                    "",
                    OperationClass.WRITE,
                    Language.PYTHON,
                )
            ]
        if terminal not in V1_TERMINALS and terminal not in V2_TERMINALS:
            return None
        chain = _chain(node)
        attrs = {attr for attr, _ in chain[1:]}
        if terminal in V1_TERMINALS and attrs & {"write", "writeStream"}:
            return self._v1(node, terminal, chain)
        if terminal in V2_TERMINALS and "writeTo" in attrs:
            return self._v2(node, terminal, chain)
        return None

    def _target(self, node: ast.Call, keywords: tuple[str, ...]) -> str | None:
        argument = node.args[0] if node.args else None
        for keyword in node.keywords:
            if keyword.arg in keywords:
                argument = keyword.value
        return self._string(argument)

    def _v1(
        self, node: ast.Call, terminal: str, chain: list[tuple[str, ast.Call | None]]
    ) -> list[Finding]:
        mode = self._mode(node, chain)
        is_table = terminal in TABLE_TERMINALS
        name = self._target(node, ("name", "tableName")) if is_table else None
        if terminal == "insertInto":
            flag = next((k.value for k in node.keywords if k.arg == "overwrite"), None)
            flag = flag if flag is not None else (node.args[1] if len(node.args) > 1 else None)
            if isinstance(flag, ast.Constant):
                mode = "overwrite" if flag.value is True else mode
            elif flag is not None:
                mode = "unknown"
        return [
            v1_write(
                terminal=terminal,
                mode=mode,
                name=name,
                catalog=self.catalog,
                line=node.lineno,
                language=_SPARK,
            )
        ]

    def _v2(
        self, node: ast.Call, terminal: str, chain: list[tuple[str, ast.Call | None]]
    ) -> list[Finding]:
        writer = next(call for attr, call in chain if attr == "writeTo" and call is not None)
        name = self._target(writer, ("table",))
        return [
            v2_write(
                terminal=terminal,
                name=name,
                catalog=self.catalog,
                line=node.lineno,
                language=_SPARK,
            )
        ]

    def _pandas(self, node: ast.Call) -> list[Finding]:
        name = self._target(node, ("name",))
        if_exists = next((k.value for k in node.keywords if k.arg == "if_exists"), None)
        mode = (self._string(if_exists) or "unknown").lower() if if_exists is not None else "fail"
        line = node.lineno
        if mode in {"replace", "unknown"} and (name is None or self.catalog.may_exist(name)):
            shown = name or "a table named at run time"
            msg = f"to_sql({shown}, if_exists={mode!r}) drops and recreates the table"
            return [
                Finding(
                    "python.to_sql_replace",
                    RiskLevel.HIGH,
                    line,
                    msg,
                    HINT,
                    OperationClass.DESTRUCTIVE,
                    Language.PYTHON,
                )
            ]
        return [
            Finding(
                "python.to_sql",
                RiskLevel.LOW,
                line,
                f"to_sql({name}) writes rows",
                "",
                OperationClass.WRITE,
                Language.PYTHON,
            )
        ]

    def leftover_mode(self, node: ast.Call) -> Finding | None:
        """A ``.mode("overwrite")`` that no recognised write consumed."""
        if (
            id(node) in self.consumed
            or not isinstance(node.func, ast.Attribute)
            or node.func.attr != "mode"
        ):
            return None
        value = self._string(node.args[0]) if len(node.args) == 1 else None
        attrs = {attr for attr, _ in _chain(node)[1:]}
        writer = bool(attrs & {"write", "writeStream"})
        if (value or "").lower() == "overwrite" or (value is None and writer and node.args):
            return loose_overwrite(node.lineno, _SPARK)
        return None


def _chain(call: ast.Call) -> list[tuple[str, ast.Call | None]]:
    """``df.write.mode("x").saveAsTable("t")`` -> ``[(saveAsTable, c), (mode, c), (write, _)]``."""
    out: list[tuple[str, ast.Call | None]] = []
    current: ast.expr = call
    while len(out) < _MAX_CHAIN:
        if isinstance(current, ast.Call) and isinstance(current.func, ast.Attribute):
            out.append((current.func.attr, current))
            current = current.func.value
        elif isinstance(current, ast.Attribute):
            out.append((current.attr, None))
            current = current.value
        else:
            break
    return out
