"""Python call rules that depend on arguments or on the receiver's type.

* conditional entries of the danger table (``yaml.load`` with a safe Loader is fine,
  ``subprocess`` with ``shell=True`` is CRITICAL, ``dbutils.fs.put(..., True)`` overwrites);
* ``getattr(os, name)`` with a computed name hides what is called;
* ``open(path, "w")`` writes a local file;
* Delta Lake table operations (``DeltaTable.forName(...).delete()``, ``.vacuum()``...).
"""

from __future__ import annotations

import ast

from aadap.core.enums import Language, OperationClass, RiskLevel
from aadap.safety.findings import Finding
from aadap.safety.python.dangers import DANGEROUS_MODULES, Danger, lookup, worth_resolving
from aadap.safety.python.names import NameResolver, string_value

_SAFE_LOADERS = ("SafeLoader", "CSafeLoader", "BaseLoader", "CBaseLoader")
_D = OperationClass.DESTRUCTIVE
_W = OperationClass.WRITE
_DELTA = ("DeltaTable.forName()", "DeltaTable.forPath()")
_DELTA_HINT = (
    "Soft-delete or write a new version of the table; destructive Delta operations need approval."
)
_METHOD_RULES: dict[str, tuple[str, RiskLevel, str]] = {
    "vacuum": ("delta.vacuum", RiskLevel.HIGH, "vacuum() permanently removes old data files"),
    "restoreToVersion": (
        "delta.restore",
        RiskLevel.HIGH,
        "restoreToVersion() discards later changes",
    ),
    "restoreToTimestamp": (
        "delta.restore",
        RiskLevel.HIGH,
        "restoreToTimestamp() discards later changes",
    ),
    "whenMatchedDelete": ("delta.merge_delete", RiskLevel.HIGH, "the merge deletes matched rows"),
    "whenNotMatchedBySourceDelete": (
        "delta.merge_delete",
        RiskLevel.HIGH,
        "the merge deletes rows missing from the source",
    ),
}


def _finding(
    danger: Danger,
    line: int,
    *,
    severity: RiskLevel | None = None,
    op: OperationClass | None = None,
    message: str | None = None,
) -> Finding:
    return Finding(
        danger.rule,
        severity or danger.severity,
        line,
        message or danger.message,
        danger.hint,
        op if op is not None else danger.operation,
        Language.PYTHON,
        danger.unverified,
    )


def _argument(node: ast.Call, position: int, keyword: str) -> ast.expr | None:
    for item in node.keywords:
        if item.arg == keyword:
            return item.value
    return node.args[position] if len(node.args) > position else None


def _is_true(node: ast.expr | None) -> bool:
    return isinstance(node, ast.Constant) and node.value is True


def conditional(node: ast.Call, name: str, danger: Danger, names: NameResolver) -> Finding | None:
    """Judge a conditional danger at its call; ``None`` means the call is safe."""
    line = node.lineno
    if danger.rule == "python.unsafe_deserialisation":  # yaml.load / load_all
        loader = _argument(node, 1, "Loader")
        if loader is not None and any(n.endswith(_SAFE_LOADERS) for n in names.resolve(loader)):
            return None
        return _finding(danger, line)
    if danger.rule == "python.subprocess":
        shell = _argument(node, 99, "shell")
        if _is_true(shell) or name.endswith(("getoutput", "getstatusoutput")):
            return _finding(
                danger, line, severity=RiskLevel.CRITICAL, message=f"{name} runs a shell command"
            )
        return _finding(danger, line, message=f"{name} starts a program")
    if danger.rule == "python.fs_put":
        if _is_true(_argument(node, 2, "overwrite")):
            msg = f"{name}(..., overwrite=True) replaces an existing file"
            return _finding(danger, line, severity=RiskLevel.HIGH, op=_D, message=msg)
        return _finding(danger, line)
    return _finding(danger, line)


def call_findings(node: ast.Call, names: NameResolver, handled: set[int]) -> list[Finding]:
    """Argument- or receiver-dependent findings for one call; marks ``node.func`` handled."""
    func = node.func
    found: list[Finding] = []
    candidates = (
        names.resolve(func)
        if worth_resolving(func, names.aliases, bool(names.star_modules))
        else ()
    )
    for name in sorted(candidates):
        danger = lookup(name)
        if danger is not None and danger.conditional:
            handled.add(id(func))
            result = conditional(node, name, danger, names)
            if result is not None:
                found.append(result)
        elif name == "builtins.open":
            found.extend(_open(node))
        elif (
            name == "builtins.getattr" and len(node.args) >= 2 and names.text(node.args[1]) is None
        ):
            found.extend(_getattr(node, names))
    if isinstance(func, ast.Attribute):
        found.extend(_delta(node, func, names))
    return found


def _open(node: ast.Call) -> list[Finding]:
    mode = string_value(_argument(node, 1, "mode")) or "r"
    if not any(ch in mode for ch in "wax+"):
        return []
    msg = f"open(..., {mode!r}) writes a local file"
    return [Finding("python.file_write", RiskLevel.LOW, node.lineno, msg, "", _W, Language.PYTHON)]


def _getattr(node: ast.Call, names: NameResolver) -> list[Finding]:
    target = names.resolve(node.args[0])
    if not target & DANGEROUS_MODULES:
        return []
    msg = f"getattr on {min(target & DANGEROUS_MODULES)} with a computed name hides what is called"
    hint = "Call the function by name so it can be checked."
    return [
        Finding(
            "python.dynamic_attribute",
            RiskLevel.HIGH,
            node.lineno,
            msg,
            hint,
            _D,
            Language.PYTHON,
            True,
        )
    ]


def _delta(node: ast.Call, func: ast.Attribute, names: NameResolver) -> list[Finding]:
    line = node.lineno
    rule = _METHOD_RULES.get(func.attr)
    if rule is not None:
        return [Finding(rule[0], rule[1], line, rule[2], _DELTA_HINT, _D, Language.PYSPARK)]
    if func.attr not in {"delete", "update", "merge"}:
        return []
    receivers = {n.replace(".alias()", "") for n in names.resolve(func.value)}
    if not any(r.endswith(_DELTA) for r in receivers):
        return []
    if func.attr == "merge":
        msg = "DeltaTable.merge inserts and updates rows"
        return [Finding("delta.merge", RiskLevel.MEDIUM, line, msg, "", _W, Language.PYSPARK)]
    condition = _argument(node, 0, "condition")
    verb = "deletes" if func.attr == "delete" else "rewrites"
    if condition is None:
        msg = f"DeltaTable.{func.attr}() without a condition {verb} every row"
        rule_id = f"delta.{func.attr}_without_condition"
        return [Finding(rule_id, RiskLevel.CRITICAL, line, msg, _DELTA_HINT, _D, Language.PYSPARK)]
    if func.attr == "delete":
        msg = "DeltaTable.delete(condition) removes rows"
        return [
            Finding("delta.delete", RiskLevel.HIGH, line, msg, _DELTA_HINT, _D, Language.PYSPARK)
        ]
    msg = "DeltaTable.update(condition, ...) changes rows"
    return [Finding("delta.update", RiskLevel.MEDIUM, line, msg, "", _W, Language.PYSPARK)]


def unresolved_call(node: ast.Call, names: NameResolver) -> Finding | None:
    """A call whose target cannot be named statically: the policy fails closed (HIGH).

    ``getattr(obj, name)(...)`` with a name that does not fold, a callable taken from
    ``globals()``/``vars(m)``/``m.__dict__`` with a computed key or from a mapping that
    is not written in the snippet, or a name bound to one of those.
    """
    func = node.func
    if isinstance(func, ast.Attribute) and not func.attr.startswith("__"):
        if not names.dynamic_names:
            return None  # the common case (``df.select(...)``): nothing was bound dynamically
    elif isinstance(func, ast.Name) and func.id not in names.dynamic_names:
        return None
    dynamic = names.dynamic_value(func)
    if not dynamic and isinstance(func, ast.Call):
        parts = names.getattr_parts(node)  # methodcaller(name)(obj) calls obj.<name>()
        dynamic = parts is not None and names.text(parts[1]) is None
    if not dynamic:
        return None
    shown = ast.unparse(func)
    shown = shown if len(shown) <= 60 else shown[:57] + "..."
    msg = f"unresolved dynamic call: {shown}(...) calls a target that cannot be named statically"
    hint = "Call the function by its name so it can be checked; dispatch tables must be literal."
    return Finding(
        "python.unresolved_call",
        RiskLevel.HIGH,
        node.lineno,
        msg,
        hint,
        None,
        Language.PYTHON,
        True,
    )
