"""Hard-coded secrets in strings built from constants (secrets after folding).

The source-text scan (:mod:`aadap.safety.secret_scan`) sees ``password = "hunter22"``; it
cannot see ``password = "hun" + "ter22"``, ``{"pass" + "word": "..."}``,
``.option("password", "".join([...]))`` or ``"dapi" + "0123..."``. Here each such
expression is folded and the scan runs on the value, written back as the literal
``key = "value"`` it stands for. Plain literals are left to the source scan; a value
is only folded when its key looks like a credential or when it is built from parts.
"""

from __future__ import annotations

import ast

from aadap.core.enums import Language
from aadap.safety.findings import Finding
from aadap.safety.python.names import NameResolver
from aadap.safety.secret_scan import KEY_MARKERS, find_secrets, may_hold_secret

_BUILDERS = frozenset({"join", "format", "decode", "replace", "b64decode", "fromhex", "unhexlify"})
_STRINGISH = (ast.BinOp, ast.JoinedStr, ast.Call, ast.Name, ast.Subscript)


def _credential(key: str | None) -> bool:
    if not key:
        return False
    lowered = key.lower()
    return any(marker in lowered for marker in KEY_MARKERS)


def _key_text(node: ast.expr | None, names: NameResolver) -> str | None:
    if node is None:
        return None
    if type(node) is ast.Constant:
        return node.value if isinstance(node.value, str) else None
    return names.text(node) if isinstance(node, ast.BinOp | ast.JoinedStr) else None


def _pairs(node: ast.AST, names: NameResolver) -> list[tuple[str, ast.expr]]:
    """``(credential-like key, value)`` pairs of ``node`` whose value is not a plain literal."""
    kind = type(node)
    out: list[tuple[str, ast.expr]] = []
    if kind is ast.Assign or kind is ast.AnnAssign:
        value = node.value  # type: ignore[attr-defined]
        if value is None or type(value) is ast.Constant:
            return out
        targets = node.targets if kind is ast.Assign else [node.target]  # type: ignore[attr-defined]
        for target in targets:
            key = target.id if isinstance(target, ast.Name) else getattr(target, "attr", None)
            if isinstance(key, str) and _credential(key):
                out.append((key, value))
    elif kind is ast.keyword:
        value, key = node.value, node.arg  # type: ignore[attr-defined]
        if type(value) is not ast.Constant and _credential(key):
            out.append((key, value))
    elif kind is ast.Dict:
        for key_node, value in zip(node.keys, node.values, strict=True):  # type: ignore[attr-defined]
            if type(key_node) is ast.Constant and type(value) is ast.Constant:
                continue
            key = _key_text(key_node, names)
            if _credential(key):
                out.append((key, value))  # type: ignore[arg-type]
    elif kind is ast.Call and len(node.args) >= 2:  # type: ignore[attr-defined]
        key_node, value = node.args[0], node.args[1]  # type: ignore[attr-defined]
        if type(key_node) is ast.Constant and type(value) is ast.Constant:
            return out
        key = _key_text(key_node, names)
        if _credential(key):
            out.append((key, value))  # type: ignore[arg-type]
    return out


def folded_secrets(
    node: ast.AST, names: NameResolver, language: Language, inner: set[int]
) -> list[Finding]:
    """Secret findings for the folded strings of ``node`` (an assignment, call, dict, ...).

    ``inner`` collects the ids of string parts already folded with their outer
    expression (``a + b + c`` is one string, not three).
    """
    texts: list[str] = []
    for key, value in _pairs(node, names):
        if isinstance(value, _STRINGISH) or type(value) is ast.Constant:
            text = names.text(value)
            if text is not None:
                texts.append(f'{key} = "{text}"')
    if id(node) not in inner and _builds_string(node):
        if isinstance(node, ast.BinOp):
            inner.add(id(node.left))
            inner.add(id(node.right))
        text = names.text(node)  # type: ignore[arg-type]
        if text is not None:
            texts.append(text)
    found: list[Finding] = []
    line = getattr(node, "lineno", 1)
    for text in texts:
        if may_hold_secret(text):
            found.extend(find_secrets(text, lambda _offset: line, language))
    return found


def _builds_string(node: ast.AST) -> bool:
    kind = type(node)
    if kind is ast.BinOp:
        return isinstance(node.op, ast.Add | ast.Mod)  # type: ignore[attr-defined]
    if kind is ast.JoinedStr:
        return any(type(part) is ast.FormattedValue for part in node.values)  # type: ignore[attr-defined]
    if kind is ast.Call:
        func = node.func  # type: ignore[attr-defined]
        last = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
        return last in _BUILDERS
    return False
