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

from aadap.safety.python.fold import Folder

_MAX_NAMES = 8
_MAX_LEN = 256
_BUILTINS = frozenset(dir(builtins))
# Calls whose result is worth tracking through an assignment (``dt = DeltaTable.forName(...)``).
_TRACKED_CALLS = (
    "DeltaTable.forName",
    "DeltaTable.forPath",
    "pathlib.Path",
    "duckdb.connect",
    # network clients, judged at each request they make (see egress_calls)
    "requests.Session",
    "requests.session",
    "httpx.Client",
    "httpx.AsyncClient",
    "aiohttp.ClientSession",
    "urllib3.PoolManager",
    "urllib.request.build_opener",
    "paramiko.SSHClient",
    "socket.socket",
)
_ALIAS_CALLS = frozenset(
    {"forName", "forPath", "Path", "connect", "getattr", "__import__", "import_module"}
    | {"__getattribute__"}
    | {name.rsplit(".", 1)[-1] for name in _TRACKED_CALLS}
)
_MODULE_LOADERS = frozenset({"builtins.__import__", "importlib.import_module"})
_RENAMES = {"posix": "os", "nt": "os", "__builtins__": "builtins", "_pickle": "pickle"}
# Mappings whose items are a module's names: ``globals()["eval"]`` is ``eval``.
_NAMESPACE_CALLS = frozenset({"builtins.globals()", "builtins.locals()", "builtins.vars()"})
_NAMESPACES = _NAMESPACE_CALLS | {"sys.modules", "builtins"}
_ATTRGETTERS = frozenset({"operator.attrgetter", "operator.methodcaller"})

Names = frozenset[str]
NodeGroups = dict[type[ast.AST], list[ast.AST]]
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
    """Aliases from imports and assignments, names bound once to a value, and resolution."""

    def __init__(self, nodes: NodeGroups) -> None:
        self.aliases: dict[str, Names] = {}
        self.star_modules: list[str] = []
        self._memo: dict[int, Names] = {}
        self.folder = Folder(self)
        # Names bound exactly once in the snippet (any scope), with their value.
        self.constants: dict[str, tuple[ast.expr, int]] = {}
        # Names (and ``obj.attr`` paths) bound to a callable that cannot be resolved.
        self.dynamic_names: set[str] = set()
        self._containers: set[str] = set()  # names bound to a dict/list/tuple literal
        self._attributes: dict[str, Names] = {}  # ``ns.run = spark.sql`` and setattr
        self._members: dict[str, Names] = {}  # names bound in class bodies: ``run = spark.sql``
        assignments: list[tuple[list[str], ast.expr]] = []
        setattrs: list[ast.Call] = []
        bindings: dict[str, int] = {}  # how often each name is bound (parameters count double)
        group = nodes.get
        for node in group(ast.Name, ()):
            if type(node.ctx) is not ast.Load:  # type: ignore[attr-defined]
                name_id = node.id  # type: ignore[attr-defined]
                bindings[name_id] = bindings.get(name_id, 0) + 1
        for node in group(ast.arg, ()):
            bindings[node.arg] = bindings.get(node.arg, 0) + 2  # type: ignore[attr-defined]
        for node in [*group(ast.Global, ()), *group(ast.Nonlocal, ())]:
            for global_name in node.names:
                bindings[global_name] = bindings.get(global_name, 0) + 2
        for node in group(ast.Import, ()):
            for alias in node.names:  # type: ignore[attr-defined]
                bound = alias.asname or alias.name.split(".")[0]
                self._bind(bound, frozenset({alias.name if alias.asname else bound}))
        for node in group(ast.ImportFrom, ()):
            module = node.module or ""  # type: ignore[attr-defined]
            for alias in node.names:  # type: ignore[attr-defined]
                if alias.name == "*":
                    self.star_modules.append(_RENAMES.get(module, module))
                else:
                    full = _clean(f"{module}.{alias.name}") or alias.name
                    self._bind(alias.asname or alias.name, frozenset({full}))
        for node in [*group(ast.Assign, ()), *group(ast.AnnAssign, ()), *group(ast.NamedExpr, ())]:
            if isinstance(node, ast.Assign | ast.AnnAssign | ast.NamedExpr) and node.value:
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                names = [_dotted(t) for t in targets if isinstance(t, ast.Name | ast.Attribute)]
                if any(names):
                    assignments.append(([n for n in names if n], node.value))
        members = {
            target.id
            for node in group(ast.ClassDef, ())
            for stmt in node.body  # type: ignore[attr-defined]
            if isinstance(stmt, ast.Assign)
            for target in stmt.targets
            if isinstance(target, ast.Name)
        }
        for node in group(ast.withitem, ()):
            if isinstance(node, ast.withitem) and isinstance(node.optional_vars, ast.Name):
                assignments.append(([node.optional_vars.id], node.context_expr))
        for node in group(ast.Call, ()):
            if isinstance(node, ast.Call) and len(node.args) == 3:
                func = node.func
                if type(func) is ast.Name and func.id == "setattr":
                    setattrs.append(node)
        for names, value in assignments:
            for name in names:
                if bindings.get(name) == 1:
                    self.constants[name] = (value, getattr(value, "lineno", 0))
                if isinstance(value, ast.Dict | ast.List | ast.Tuple | ast.Set):
                    self._containers.add(name)
        assignments.extend(_items(assignments))
        for _ in range(2):  # twice, so aliases of aliases defined later resolve too
            before = dict(self.aliases), dict(self._attributes)
            for names, value in assignments:
                self._assign(names, value)
            for call in setattrs:
                key, owner = self.folder.text(call.args[1]), _dotted(call.args[0])
                if owner:
                    self._assign([f"{owner}.{key}" if key else f"{owner}.?"], call.args[2])
            self._members = {name: self.aliases[name] for name in members if name in self.aliases}
            self._memo.clear()
            if (self.aliases, self._attributes) == before:
                break

    def _assign(self, names: list[str], value: ast.expr) -> None:
        resolved = self._alias_value(value)
        dynamic = self.dynamic_value(value)
        for name in names:
            if dynamic:
                self.dynamic_names.add(name)
            if not resolved:
                continue
            if "." in name:
                merged = self._attributes.get(name, _EMPTY) | resolved
                self._attributes[name] = frozenset(sorted(merged)[:_MAX_NAMES])
            else:
                self._bind(name, resolved)

    def _bind(self, name: str, value: Names) -> None:
        merged = self.aliases.get(name, _EMPTY) | value
        self.aliases[name] = frozenset(sorted(merged)[:_MAX_NAMES])

    def text(self, node: ast.expr | None) -> str | None:
        """The string ``node`` folds to (see :mod:`aadap.safety.python.fold`), or ``None``."""
        return self.folder.text(node)

    def _alias_value(self, value: ast.expr) -> Names:
        if isinstance(value, ast.Name | ast.Attribute | ast.Subscript):
            return self.resolve(value)
        if isinstance(value, ast.Call):
            func = value.func
            last = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            if (
                last not in _ALIAS_CALLS
                and last not in self.aliases
                and not isinstance(func, ast.Call | ast.Subscript)
                and not _namespace_get(value)
            ):
                return _EMPTY  # cheap exit: not a call whose result is tracked
            resolved = self.resolve(value)
            if self._getattr_parts(value) is not None or self._module_loaded(value):
                return resolved
            if _namespace_get(value):
                return resolved
            if any(
                name.endswith(tracked + "()") for name in resolved for tracked in _TRACKED_CALLS
            ):
                return resolved
        return _EMPTY

    def _base(self, node: ast.expr) -> Names:
        if isinstance(node, ast.Name):
            return self._name(node.id)
        if isinstance(node, ast.Call):
            loaded = self._module_loaded(node)
            if loaded:
                return loaded
        return _EMPTY

    def _name(self, name: str) -> Names:
        if name in self.aliases:
            return self.aliases[name]
        if name in _BUILTINS or name == "__builtins__":
            return frozenset({"builtins" if name == "__builtins__" else f"builtins.{name}"})
        extra = {f"{module}.{name}" for module in self.star_modules}
        return frozenset({name, *extra})

    def _getattr_parts(self, node: ast.Call) -> tuple[ast.expr, ast.expr] | None:
        """``(object, name)`` of a getattr-like call: ``getattr(o, n)``, ``o.__getattribute__(n)``,
        ``object.__getattribute__(o, n)`` (or ``type(o).__getattribute__(o, n)``),
        ``operator.attrgetter(n)(o)``, ``methodcaller(n)(o)``.
        """
        func = node.func
        if type(func) is ast.Name:
            if (
                len(node.args) >= 2
                and (func.id == "getattr" or func.id in self.aliases)
                and "builtins.getattr" in self._name(func.id)
            ):
                return node.args[0], node.args[1]
            bound = self.constants.get(func.id)  # call = operator.methodcaller("system")
            if bound is None or type(bound[0]) is not ast.Call:
                return None
            func = bound[0]
        if type(func) is ast.Subscript:  # h = {"get": getattr}; h["get"](os, "system")
            if len(node.args) >= 2 and "builtins.getattr" in self.resolve(func):
                return node.args[0], node.args[1]
            return None
        if type(func) is ast.Attribute:
            if func.attr != "__getattribute__" or not node.args:
                return None
            if len(node.args) >= 2:  # unbound: object/type(o)/cls.__getattribute__(o, n)
                return node.args[0], node.args[1]
            return func.value, node.args[0]
        if type(func) is ast.Call and func.args and node.args:
            inner = func.func
            last = inner.attr if isinstance(inner, ast.Attribute) else getattr(inner, "id", "")
            if (last in {"attrgetter", "methodcaller"} or last in self.aliases) and (
                self.resolve(inner) & _ATTRGETTERS
            ):
                return node.args[0], func.args[0]
        return None

    def _module_loaded(self, node: ast.Call) -> Names:
        if not isinstance(node.func, ast.Name | ast.Attribute) or not node.args:
            return _EMPTY
        func = node.func
        last = func.attr if isinstance(func, ast.Attribute) else func.id
        if last not in {"__import__", "import_module"} and last not in self.aliases:
            return _EMPTY
        if not (self.resolve(func) & _MODULE_LOADERS):
            return _EMPTY
        module = self.text(node.args[0])
        if module is None:
            return _EMPTY
        return frozenset({_RENAMES.get(module, module)})

    def _inner(self, node: ast.expr) -> ast.expr | None:
        if isinstance(node, ast.Attribute | ast.Subscript):
            return node.value
        if isinstance(node, ast.Call) and not self._module_loaded(node):
            parts = self._getattr_parts(node)
            if parts is not None:
                return parts[0]
            if _namespace_get(node) or _is_vars_of(node):
                return node.func.value if _namespace_get(node) else node.args[0]  # type: ignore[attr-defined]
            return node.func
        return None

    def _step(self, node: ast.expr, inner: Names) -> Names:
        if isinstance(node, ast.Attribute):
            joined = self._attribute(_join(inner, f".{node.attr}"))
            member = self._members.get(node.attr)
            if member:  # class X: run = spark.sql ... X.run / self.run
                return frozenset(sorted(joined | member)[:_MAX_NAMES])
            return joined
        if isinstance(node, ast.Subscript):
            index = node.slice
            if type(index) is ast.Constant and type(index.value) is int:
                return self._item(inner, str(index.value))  # ops[0]
            return self._item(inner, self.text(index))
        if isinstance(node, ast.Call):
            parts = self._getattr_parts(node)
            if parts is not None:
                key = self.text(parts[1])
                return self._attribute(_join(inner, f".{key}")) if key is not None else _EMPTY
            if _is_vars_of(node) and "builtins.vars" in self.resolve(node.func):
                return inner
            if _namespace_get(node):
                return self._item(inner, self.text(node.args[0]))
        return _join(inner, "()")

    def _item(self, mapping: Names, key: str | None) -> Names:
        """``mapping[key]``: a namespace's name, or ``mapping.key`` (``os.__dict__["system"]``)."""
        if key is None:
            return _EMPTY
        if mapping & _NAMESPACE_CALLS:
            return self._name(key)
        if "sys.modules" in mapping:
            return frozenset({_RENAMES.get(key, key)})
        return self._attribute(_join(mapping, f".{key}"))

    def _attribute(self, names: Names) -> Names:
        if not self._attributes:
            return names
        extra = [self._attributes[name] for name in names if name in self._attributes]
        return frozenset(sorted(names.union(*extra))[:_MAX_NAMES]) if extra else names

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

    @property
    def has_attribute_aliases(self) -> bool:
        return bool(self._attributes) or bool(self._members)

    def is_getattr_call(self, node: ast.Call) -> bool:
        """A call that *looks up* a name: getattr-like, or ``.get`` on a namespace."""
        return self._getattr_parts(node) is not None or _namespace_get(node)

    def getattr_parts(self, node: ast.Call) -> tuple[ast.expr, ast.expr] | None:
        return self._getattr_parts(node)

    def dynamic_value(self, node: ast.expr) -> bool:
        """True when ``node`` is a callable that cannot be named statically.

        A getattr-like call with a name that does not fold, an item of a namespace
        (``globals()``, ``vars(m)``, ``m.__dict__``, ``sys.modules``) whose key does not
        fold, or an item of a mapping that is not a literal written in the snippet.
        """
        kind = type(node)
        if kind is ast.Name:
            return node.id in self.dynamic_names  # type: ignore[attr-defined]
        if kind is ast.Attribute:
            dotted = _dotted(node)
            return bool(dotted) and dotted in self.dynamic_names
        if kind is ast.Call:
            parts = self._getattr_parts(node)  # type: ignore[arg-type]
            if parts is not None:
                return self.text(parts[1]) is None
            if _namespace_get(node):  # type: ignore[arg-type]
                return not self.resolve(node)
            return False
        if kind is ast.Subscript:
            base = node.value  # type: ignore[attr-defined]
            if isinstance(base, ast.Name) and base.id in self._containers:
                return False  # the items are written in the snippet and checked there
            if self.text(node.slice) is None:  # type: ignore[attr-defined]
                return True
            namespace = (isinstance(base, ast.Attribute) and base.attr == "__dict__") or (
                isinstance(base, ast.Call)
                and isinstance(base.func, ast.Name)
                and base.func.id in {"vars", "globals", "locals"}
            )
            return not namespace and not (self.resolve(base) & _NAMESPACES)
        return False


_CALLABLE_ITEMS = (ast.Name, ast.Attribute, ast.Subscript, ast.Call)
_MAX_ITEMS = 64  # items of one literal bound as aliases; later ones are still checked in place


def _items(assignments: list[tuple[list[str], ast.expr]]) -> list[tuple[list[str], ast.expr]]:
    """``h = {"run": os.system}`` binds ``h.run`` (and ``ops = [os.system]`` ``ops.0``), so
    ``h["run"](...)`` resolves to ``os.system``; only callables' items, nested once."""
    out: list[tuple[list[str], ast.expr]] = []
    for names, value in assignments:
        if isinstance(value, ast.Dict):
            pairs = [
                (key.value, item)
                for key, item in zip(
                    value.keys[:_MAX_ITEMS], value.values[:_MAX_ITEMS], strict=True
                )
                if type(key) is ast.Constant and isinstance(key.value, str | int)
            ]
        elif isinstance(value, ast.List | ast.Tuple):
            pairs = list(enumerate(value.elts[:_MAX_ITEMS]))
        else:
            continue
        for key, item in pairs:
            if isinstance(item, _CALLABLE_ITEMS):
                out.append(([f"{name}.{key}" for name in names], item))
    return out


def all_nodes(tree: ast.AST) -> NodeGroups:
    """Every node grouped by type; within a type breadth first (parents before children).

    Like ``ast.walk`` but faster (one pass that groups as it goes, no generators); the
    groups let each rule visit only the node types it judges (a call is still seen
    before the calls and names inside it).
    """
    out: list[ast.AST] = [tree]
    append = out.append
    node_type = ast.AST
    groups: NodeGroups = {}
    for node in out:  # the list grows while it is read: breadth first
        bucket = groups.get(type(node))
        if bucket is None:
            groups[type(node)] = [node]
        else:
            bucket.append(node)
        for field in node._fields:
            value = getattr(node, field, None)
            if type(value) is list:
                for item in value:
                    if isinstance(item, node_type):
                        append(item)
            elif isinstance(value, node_type):
                append(value)
    return groups


def _dotted(node: ast.expr) -> str:
    """``ns.run`` for a chain of names and attributes, ``""`` for anything else."""
    parts: list[str] = []
    while isinstance(node, ast.Attribute) and len(parts) < _MAX_NAMES:
        parts.append(node.attr)
        node = node.value
    if not isinstance(node, ast.Name):
        return ""
    parts.append(node.id)
    return ".".join(reversed(parts))


def _namespace_get(node: ast.Call) -> bool:
    """``globals().get(k)``, ``vars(m).get(k)``, ``m.__dict__.get(k)``, ``sys.modules.get(k)``."""
    func = node.func
    if type(func) is not ast.Attribute or func.attr != "get" or not node.args:
        return False
    owner = func.value
    if isinstance(owner, ast.Attribute):
        return owner.attr in {"__dict__", "modules"}
    if isinstance(owner, ast.Call) and isinstance(owner.func, ast.Name):
        return owner.func.id in {"globals", "locals", "vars"}
    return isinstance(owner, ast.Name) and owner.id == "__builtins__"


def _is_vars_of(node: ast.Call) -> bool:
    return type(node.func) is ast.Name and node.func.id == "vars" and len(node.args) == 1
