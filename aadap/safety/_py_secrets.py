"""Hard-coded secrets in strings built from constants (secrets after folding).

The source-text scan (:mod:`aadap.safety.secrets`) sees ``password = "hunter22"``; it
cannot see ``password = "hun" + "ter22"``, ``{"pass" + "word": "..."}``,
``.option("password", "".join([...]))`` or ``"dapi" + "0123..."``. Here each such
expression is folded and the scan runs on the value, written back as the literal
``key = "value"`` it stands for. Plain literals are left to the source scan.
"""

from __future__ import annotations

import ast

from aadap.core.enums import Language
from aadap.safety._py_names import NameResolver
from aadap.safety.findings import Finding
from aadap.safety.secrets import KEY_MARKERS, find_secrets

_BUILDERS = frozenset({"join", "format", "decode", "replace", "b64decode", "fromhex", "unhexlify"})


def _keyed(key: str | None, value: ast.expr, names: NameResolver, line: int) -> str | None:
    """``key = "value"`` when ``key`` looks like a credential and ``value`` folds."""
    if key is None or not any(marker in key.lower() for marker in KEY_MARKERS):
        return None
    text = names.text(value)
    return None if text is None else f'{key} = "{text}"'


def _pairs(node: ast.AST, names: NameResolver) -> list[tuple[str | None, ast.expr, bool]]:
    """``(key, value, key_was_literal)`` pairs of ``node`` worth folding."""
    kind = type(node)
    if kind is ast.Assign or kind is ast.AnnAssign:
        value = node.value  # type: ignore[attr-defined]
        if value is None or type(value) is ast.Constant:
            return []
        targets = node.targets if kind is ast.Assign else [node.target]  # type: ignore[attr-defined]
        out: list[tuple[str | None, ast.expr, bool]] = []
        for target in targets:
            key = target.id if isinstance(target, ast.Name) else getattr(target, "attr", None)
            out.append((key, value, True))
        return out
    if kind is ast.keyword:
        value = node.value  # type: ignore[attr-defined]
        return [] if type(value) is ast.Constant else [(node.arg, value, True)]  # type: ignore[attr-defined]
    if kind is ast.Dict:
        return [
            (names.text(key), value, type(key) is ast.Constant)
            for key, value in zip(node.keys, node.values, strict=True)  # type: ignore[attr-defined]
            if key is not None
            and (type(key) is not ast.Constant or type(value) is not ast.Constant)
        ]
    if kind is ast.Call and len(node.args) >= 2:  # type: ignore[attr-defined]
        key_node, value = node.args[0], node.args[1]  # type: ignore[attr-defined]
        if type(key_node) is ast.Constant and type(value) is ast.Constant:
            return []
        return [(names.text(key_node), value, False)]
    return []


def folded_secrets(node: ast.AST, names: NameResolver, language: Language) -> list[Finding]:
    """Secret findings for the folded strings of ``node`` (an assignment, call, dict, ...)."""
    line = getattr(node, "lineno", 1)
    texts: list[str] = []
    for key, value, _ in _pairs(node, names):
        keyed = _keyed(key, value, names, line)
        if keyed is not None:
            texts.append(keyed)
    if _builds_string(node):
        text = names.text(node)  # type: ignore[arg-type]
        if text is not None:
            texts.append(text)
    found: list[Finding] = []
    for text in texts:
        found.extend(find_secrets(text, lambda _offset: line, language))
    return found


def _builds_string(node: ast.AST) -> bool:
    kind = type(node)
    if kind is ast.BinOp:
        return isinstance(node.op, ast.Add | ast.Mod)  # type: ignore[attr-defined]
    if kind is ast.JoinedStr:
        return True
    if kind is ast.Call:
        func = node.func  # type: ignore[attr-defined]
        last = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
        return last in _BUILDERS
    return False
