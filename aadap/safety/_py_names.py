"""Resolve Python expressions to dotted names, through imports and simple aliases.

``import os as o; o.system`` → ``os.system``; ``from subprocess import run as r; r`` →
``subprocess.run``; ``s = os.system; s`` → ``os.system``; ``getattr(os, "system")`` →
``os.system``; ``__import__("os").system`` → ``os.system``; ``__builtins__["eval"]`` →
``builtins.eval``. A call adds ``()``: ``Path("x").unlink`` → ``pathlib.Path().unlink``.

The analysis is flow-insensitive on purpose: a name that is *ever* bound to something
dangerous resolves to it everywhere (it may over-report, it never under-reports).
Resolution is iterative and memoised per node, so long method chains stay linear.
"""

from __future__ import annotations

import ast
import builtins

_MAX_NAMES = 8
_MAX_LEN = 256
_BUILTINS = frozenset(dir(builtins))
# Calls whose result is worth tracking through an assignment (``dt = DeltaTable.forName(...)``).
_TRACKED_CALLS = ("DeltaTable.forName", "DeltaTable.forPath", "pathlib.Path", "duckdb.connect")
_ALIAS_CALLS = frozenset(
    {"forName", "forPath", "Path", "connect", "getattr", "__import__", "import_module"}
)
_MODULE_LOADERS = frozenset({"builtins.__import__", "importlib.import_module"})
_RENAMES = {"posix": "os", "nt": "os", "__builtins__": "builtins", "_pickle": "pickle"}

Names = frozenset[str]
_EMPTY: Names = frozenset()


def _clean(name: str) -> str | None:
    if len(name) > _MAX_LEN:
        return None
    head, dot, tail = name.partition(".")
    head = _RENAMES.get(head, head)
    name = head + dot + tail
    return name.replace(".__dict__", "")


def _join(bases: Names, suffix: str) -> Names:
    out = {_clean(base + suffix) for base in bases}
    return frozenset(sorted(n for n in out if n)[:_MAX_NAMES])


def string_value(node: ast.expr | None) -> str | None:
    return node.value if isinstance(node, ast.Constant) and isinstance(node.value, str) else None


class NameResolver:
    """Aliases from imports and assignments, module-level constants, and resolution."""

    def __init__(self, tree: ast.Module, nodes: list[ast.AST]) -> None:
        self.aliases: dict[str, Names] = {}
        self.star_modules: list[str] = []
        self._memo: dict[int, Names] = {}
        assignments: list[tuple[list[str], ast.expr]] = []
        bindings: dict[str, int] = {}  # how often each name is bound (parameters count double)
        for node in nodes:
            if type(node) is ast.Name:  # the commonest node first, tested cheaply
                if type(node.ctx) is not ast.Load:
                    bindings[node.id] = bindings.get(node.id, 0) + 1
            elif type(node) is ast.arg:
                bindings[node.arg] = bindings.get(node.arg, 0) + 2
            elif isinstance(node, ast.Global | ast.Nonlocal):
                for global_name in node.names:
                    bindings[global_name] = bindings.get(global_name, 0) + 2
            elif isinstance(node, ast.Import):
                for alias in node.names:
                    bound = alias.asname or alias.name.split(".")[0]
                    self._bind(bound, frozenset({alias.name if alias.asname else bound}))
            elif isinstance(node, ast.ImportFrom):
                module = node.module or ""
                for alias in node.names:
                    if alias.name == "*":
                        self.star_modules.append(_RENAMES.get(module, module))
                    else:
                        full = _clean(f"{module}.{alias.name}") or alias.name
                        self._bind(alias.asname or alias.name, frozenset({full}))
            elif isinstance(node, ast.Assign | ast.AnnAssign | ast.NamedExpr) and node.value:
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                names = [t.id for t in targets if isinstance(t, ast.Name)]
                if names:
                    assignments.append((names, node.value))
        for _ in range(2):  # twice, so aliases of aliases defined later resolve too
            before = dict(self.aliases)
            for names, value in assignments:
                resolved = self._alias_value(value)
                for name in names:
                    if resolved:
                        self._bind(name, resolved)
            self._memo.clear()
            if self.aliases == before:
                break
        self.constants = _module_constants(tree, bindings)

    def _bind(self, name: str, value: Names) -> None:
        merged = self.aliases.get(name, _EMPTY) | value
        self.aliases[name] = frozenset(sorted(merged)[:_MAX_NAMES])

    def _alias_value(self, value: ast.expr) -> Names:
        if isinstance(value, ast.Name | ast.Attribute | ast.Subscript):
            return self.resolve(value)
        if isinstance(value, ast.Call):
            func = value.func
            last = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            if last not in _ALIAS_CALLS and last not in self.aliases:
                return _EMPTY  # cheap exit: not a call whose result is tracked
            resolved = self.resolve(value)
            if self._is_getattr(value) or self._module_loaded(value):
                return resolved
            if any(
                name.endswith(tracked + "()") for name in resolved for tracked in _TRACKED_CALLS
            ):
                return resolved
        return _EMPTY

    def _base(self, node: ast.expr) -> Names:
        if isinstance(node, ast.Name):
            if node.id in self.aliases:
                return self.aliases[node.id]
            if node.id in _BUILTINS or node.id == "__builtins__":
                return frozenset(
                    {"builtins" if node.id == "__builtins__" else f"builtins.{node.id}"}
                )
            extra = {f"{module}.{node.id}" for module in self.star_modules}
            return frozenset({node.id, *extra})
        if isinstance(node, ast.Call):
            loaded = self._module_loaded(node)
            if loaded:
                return loaded
        return _EMPTY

    def _is_getattr(self, node: ast.Call) -> bool:
        return (
            isinstance(node.func, ast.Name)
            and "builtins.getattr" in self._base(node.func)
            and len(node.args) >= 2
        )

    def _module_loaded(self, node: ast.Call) -> Names:
        if not isinstance(node.func, ast.Name | ast.Attribute) or not node.args:
            return _EMPTY
        module = string_value(node.args[0])
        if module is None or not (self.resolve(node.func) & _MODULE_LOADERS):
            return _EMPTY
        return frozenset({_RENAMES.get(module, module)})

    def _inner(self, node: ast.expr) -> ast.expr | None:
        if isinstance(node, ast.Attribute | ast.Subscript):
            return node.value
        if isinstance(node, ast.Call) and not self._module_loaded(node):
            return node.args[0] if self._is_getattr(node) else node.func
        return None

    def _step(self, node: ast.expr, inner: Names) -> Names:
        if isinstance(node, ast.Attribute):
            return _join(inner, f".{node.attr}")
        if isinstance(node, ast.Subscript):
            key = string_value(node.slice)
            return _join(inner, f".{key}") if key is not None else _EMPTY
        if isinstance(node, ast.Call) and self._is_getattr(node):
            key = string_value(node.args[1])
            return _join(inner, f".{key}") if key is not None else _EMPTY
        return _join(inner, "()")

    def resolve(self, node: ast.expr) -> Names:
        """Every dotted name ``node`` may stand for (empty when unknown)."""
        memo = self._memo
        chain: list[tuple[ast.expr, ast.expr]] = []
        current: ast.expr | None = node
        while current is not None and id(current) not in memo:
            inner = self._inner(current)
            if inner is None:
                memo[id(current)] = self._base(current)
                break
            chain.append((current, inner))
            current = inner
        for outer, inner in reversed(chain):
            memo[id(outer)] = self._step(outer, memo.get(id(inner), _EMPTY))
        return memo[id(node)]

    def is_getattr_call(self, node: ast.Call) -> bool:
        return self._is_getattr(node)


def all_nodes(tree: ast.AST) -> list[ast.AST]:
    """Every node, breadth first (parents before children), like ``ast.walk`` but faster."""
    out: list[ast.AST] = [tree]
    index = 0
    node_type = ast.AST
    while index < len(out):
        node = out[index]
        index += 1
        for field in node._fields:
            value = getattr(node, field, None)
            if isinstance(value, list):
                out.extend(item for item in value if isinstance(item, node_type))
            elif isinstance(value, node_type):
                out.append(value)
    return out


def _module_constants(tree: ast.Module, bound: dict[str, int]) -> dict[str, tuple[ast.expr, int]]:
    """Names bound exactly once in the file, by a module-level ``NAME = value``."""
    constants: dict[str, tuple[ast.expr, int]] = {}
    for stmt in tree.body:
        if isinstance(stmt, ast.Assign) and len(stmt.targets) == 1:
            target, value = stmt.targets[0], stmt.value
        elif isinstance(stmt, ast.AnnAssign) and stmt.value is not None:
            target, value = stmt.target, stmt.value
        else:
            continue
        if isinstance(target, ast.Name) and bound.get(target.id) == 1:
            constants[target.id] = (value, stmt.lineno)
    return constants
