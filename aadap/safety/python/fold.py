"""Constant folding of Python expressions: what a string (or path, or list of strings) is.

Resolve before you judge: ``"DROP " + "TABLE x"``, ``"".join(["sys", "tem"])``,
``"%s" % "rm"``, ``"{}".format("x")``, f-strings over constants, ``"metsys"[::-1]``,
``base64.b64decode("...").decode()``, ``bytes.fromhex``, ``chr(115)``,
``os.path.join``/``pathlib.Path`` arithmetic and names bound once to any of these are
folded to their value, so the rules judge the value and not the spelling.

Folding is bounded: at most :data:`MAX_DEPTH` nested expressions, :data:`MAX_VALUE`
characters per built value, :data:`MAX_PRODUCED` built characters and :data:`MAX_STEPS`
folded nodes per snippet (so what is scanned afterwards is bounded too). Past a bound the
value is unknown and the reason is kept in :attr:`Folder.limits`; the analyser reports
it as a HIGH finding (never "safe") and goes on with the rest of the snippet.
An alias cycle (``a = b + "x"; b = a``) folds to "unknown", which the rules treat as
run-time data (dynamic SQL, unresolved call), never as harmless.
"""

from __future__ import annotations

import ast
import base64
import binascii
import codecs
import re
from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from aadap.safety.python.names import NameResolver

MAX_DEPTH = 64
MAX_VALUE = 100_000
MAX_STEPS = 50_000
MAX_PRODUCED = 300_000  # characters of all values built per snippet (literals not counted)
HOLE = "{?}"  # stands for a part only known at run time, in a template

Value = str | bytes | int | float | bool | None | tuple["Value", ...] | dict[str, "Value"]


class FoldLimit(Exception):
    """A bound was hit while folding; :meth:`Folder.value` records it and answers "unknown"."""


class _Unknown:
    __slots__ = ()


UNKNOWN = _Unknown()


class PathValue(str):
    """A string that came from ``pathlib``: ``/`` joins it like a path."""

    __slots__ = ()


_WIDE = re.compile(r"\d{5,}")  # a width or precision of 10,000+ characters
_STR_METHODS_NO_ARGS = frozenset(
    {
        "upper",
        "lower",
        "strip",
        "lstrip",
        "rstrip",
        "title",
        "capitalize",
        "casefold",
        "swapcase",
        "decode",
        "encode",
        "as_posix",
        "expanduser",
        "resolve",
        "absolute",
        "__str__",
    }
)
_STR_METHODS_ARGS = frozenset(
    {"replace", "removeprefix", "removesuffix", "strip", "lstrip", "rstrip", "decode", "encode"}
)
_HOME_VARIABLES = frozenset({"HOME", "USERPROFILE"})


def _join_path(left: str, *parts: str) -> PathValue:
    out = left
    for part in parts:
        out = part if part.startswith("/") else (out.rstrip("/") + "/" + part if out else part)
    return PathValue(out)


def _from_hex(data: bytes | str) -> bytes:
    return bytes.fromhex(data if isinstance(data, str) else data.decode())


_DECODERS: dict[str, Callable[[bytes | str], bytes]] = {
    "base64.b64decode": base64.b64decode,
    "base64.standard_b64decode": base64.standard_b64decode,
    "base64.urlsafe_b64decode": base64.urlsafe_b64decode,
    "base64.b32decode": base64.b32decode,
    "base64.b16decode": base64.b16decode,
    "base64.b85decode": base64.b85decode,
    "binascii.unhexlify": binascii.unhexlify,
    "binascii.a2b_hex": binascii.a2b_hex,
    "binascii.a2b_base64": binascii.a2b_base64,
    "builtins.bytes.fromhex": _from_hex,
}


class Folder:
    """Folds expressions of one snippet; memoised per node, bounded per snippet."""

    def __init__(self, names: NameResolver) -> None:
        self._names = names
        self._memo: dict[int, Value | _Unknown] = {}
        self._active: set[int] = set()
        self._steps = 0
        self._produced = 0
        self._exhausted = False
        self.limits: list[tuple[int | None, str]] = []

    # -- public -----------------------------------------------------------------------

    def text(self, node: ast.expr | None) -> str | None:
        """The string ``node`` always evaluates to, or ``None`` when it is not known."""
        if node is None:
            return None
        if type(node) is ast.Constant:
            return node.value if isinstance(node.value, str) else None
        value = self.value(node)
        return value if isinstance(value, str) else None

    def strings(self, node: ast.expr) -> list[str]:
        """The known strings in ``node``: itself, or the items of a folded list/tuple."""
        value = self.value(node)
        if isinstance(value, str):
            return [value]
        if isinstance(value, tuple):
            return [item for item in value if isinstance(item, str)]
        return []

    def template(self, node: ast.expr, depth: int = 0) -> str | None:
        """``node`` as text with every run-time part replaced by :data:`HOLE`."""
        known = self.text(node)
        if known is not None or depth > MAX_DEPTH:
            return known
        deeper = depth + 1
        if isinstance(node, ast.JoinedStr):
            return "".join(
                self.template(item.value if isinstance(item, ast.FormattedValue) else item, deeper)
                or HOLE
                for item in node.values
            )
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add | ast.Div):
            left, right = self.template(node.left, deeper), self.template(node.right, deeper)
            if left is None and right is None:
                return None
            sep = "/" if isinstance(node.op, ast.Div) else ""
            return (left or HOLE) + sep + (right or HOLE)
        if isinstance(node, ast.Call) and node.args:
            parts = [self.template(arg, deeper) for arg in node.args]
            if any(part is not None for part in parts):
                return "/".join(part or HOLE for part in parts)
        return None

    def value(self, node: ast.expr) -> Value | _Unknown:
        """The folded value of ``node``; :data:`UNKNOWN` when it is only known at run time.

        A bound hit while folding ``node`` is recorded in :attr:`limits` (line, reason)
        and the value is unknown; the rest of the snippet is still analysed.
        """
        if self._active:
            return self._value(node)
        if self._exhausted:
            return self._memo.get(id(node), UNKNOWN)
        try:
            return self._value(node)
        except FoldLimit as exc:
            self.limits.append((getattr(node, "lineno", None), str(exc)))
            self._exhausted = self._steps > MAX_STEPS
            self._memo[id(node)] = UNKNOWN
            return UNKNOWN

    def _value(self, node: ast.expr) -> Value | _Unknown:
        key = id(node)
        memo = self._memo
        if key in memo:
            return memo[key]
        if key in self._active:
            return UNKNOWN  # an alias cycle: a = b + "x"; b = a
        if len(self._active) >= MAX_DEPTH:
            raise FoldLimit(f"expressions nested more than {MAX_DEPTH} deep")
        self._steps += 1
        if self._steps > MAX_STEPS:
            raise FoldLimit(f"more than {MAX_STEPS:,} string expressions to fold")
        self._active.add(key)
        try:
            result = self._fold(node)
        except (ValueError, TypeError, KeyError, IndexError, OverflowError, LookupError):
            result = UNKNOWN  # the expression would fail at run time: nothing to judge
        finally:
            self._active.discard(key)
        if type(node) is not ast.Constant and isinstance(result, str | bytes | tuple):
            self._produced += len(result)
            if len(result) > MAX_VALUE or self._produced > MAX_PRODUCED:
                raise FoldLimit(
                    f"values built from constants exceed {MAX_VALUE:,} characters each "
                    f"or {MAX_PRODUCED:,} in all"
                )
        memo[key] = result
        return result

    # -- folding ----------------------------------------------------------------------

    def _fold(self, node: ast.expr) -> Value | _Unknown:
        kind = type(node)
        if kind is ast.Constant:
            value = node.value  # type: ignore[attr-defined]
            return value if isinstance(value, str | bytes | int | float | bool | None) else UNKNOWN
        if kind is ast.Name:
            return self._name(node)  # type: ignore[arg-type]
        if kind is ast.JoinedStr:
            return self._fstring(node)  # type: ignore[arg-type]
        if kind is ast.BinOp:
            return self._binop(node)  # type: ignore[arg-type]
        if kind is ast.List or kind is ast.Tuple:
            items = [self.value(item) for item in node.elts]  # type: ignore[attr-defined]
            if any(isinstance(item, _Unknown) for item in items):
                return UNKNOWN
            return tuple(items)  # type: ignore[arg-type]
        if kind is ast.Dict:
            return self._dict(node)  # type: ignore[arg-type]
        if kind is ast.Subscript:
            return self._subscript(node)  # type: ignore[arg-type]
        if kind is ast.Call:
            return self._call(node)  # type: ignore[arg-type]
        if kind is ast.UnaryOp and isinstance(node.op, ast.USub):  # type: ignore[attr-defined]
            operand = self.value(node.operand)  # type: ignore[attr-defined]
            return -operand if type(operand) is int else UNKNOWN
        return UNKNOWN

    def _name(self, node: ast.Name) -> Value | _Unknown:
        bound = self._names.constants.get(node.id)
        return UNKNOWN if bound is None else self.value(bound[0])

    def _dict(self, node: ast.Dict) -> Value | _Unknown:
        out: dict[str, Value] = {}
        for key, item in zip(node.keys, node.values, strict=True):
            folded_key = None if key is None else self.value(key)
            folded = self.value(item)
            if not isinstance(folded_key, str) or isinstance(folded, _Unknown):
                return UNKNOWN
            out[folded_key] = folded
        return out

    def _fstring(self, node: ast.JoinedStr) -> Value | _Unknown:
        parts: list[str] = []
        for item in node.values:
            if isinstance(item, ast.Constant):
                parts.append(str(item.value))
                continue
            if not isinstance(item, ast.FormattedValue):
                return UNKNOWN
            value = self.value(item.value)
            spec = "" if item.format_spec is None else self.value(item.format_spec)
            if isinstance(value, _Unknown) or not isinstance(spec, str):
                return UNKNOWN
            if _WIDE.search(spec):
                raise FoldLimit("a format width of 10,000+ characters")
            if item.conversion in (114, 97):  # !r, !a
                value = repr(value) if item.conversion == 114 else ascii(value)
            parts.append(format(value, spec))
        return "".join(parts)

    def _binop(self, node: ast.BinOp) -> Value | _Unknown:
        left = self.value(node.left)
        if isinstance(left, _Unknown):
            return UNKNOWN
        right = self.value(node.right)
        if isinstance(right, _Unknown):
            return UNKNOWN
        op = type(node.op)
        if op is ast.Add and type(left) is type(right) and isinstance(left, str | bytes | tuple):
            _check_size(len(left) + len(right))  # type: ignore[arg-type]
            return left + right  # type: ignore[operator]
        if op is ast.Add and isinstance(left, PathValue) and isinstance(right, str):
            return left + right
        if op is ast.Div and isinstance(left, PathValue) and isinstance(right, str):
            return _join_path(left, right)
        if op is ast.Div and isinstance(left, str) and isinstance(right, PathValue):
            return _join_path(left, right)
        if op is ast.Mod and isinstance(left, str):
            if _WIDE.search(left):
                raise FoldLimit("a format width of 10,000+ characters")
            return left % right
        if op is ast.Mult and isinstance(left, str | bytes | tuple) and type(right) is int:
            _check_size(len(left) * max(right, 0))
            return left * right
        if op is ast.Mult and isinstance(right, str | bytes | tuple) and type(left) is int:
            _check_size(len(right) * max(left, 0))
            return right * left
        if type(left) is int and type(right) is int and op in (ast.Add, ast.Sub, ast.Mult):
            if max(abs(left), abs(right)) >= 1 << 32:
                return UNKNOWN
            return {ast.Add: left + right, ast.Sub: left - right, ast.Mult: left * right}[op]
        return UNKNOWN

    def _subscript(self, node: ast.Subscript) -> Value | _Unknown:
        if isinstance(node.value, ast.Attribute) and node.value.attr == "environ":
            variable = self.value(node.slice)
            home = variable in _HOME_VARIABLES and "os.environ" in self._names.resolve(node.value)
            return PathValue("~") if home else UNKNOWN
        base = self.value(node.value)
        if isinstance(base, _Unknown):
            return UNKNOWN
        index = node.slice
        if isinstance(index, ast.Slice):
            bounds: list[int | None] = []
            for part in (index.lower, index.upper, index.step):
                folded = None if part is None else self.value(part)
                if folded is not None and type(folded) is not int:
                    return UNKNOWN
                bounds.append(folded)
            if isinstance(base, str | bytes | tuple):
                return base[slice(*bounds)]
            return UNKNOWN
        key = self.value(index)
        if isinstance(base, dict) and isinstance(key, str):
            return base[key]
        if isinstance(base, str | bytes | tuple) and type(key) is int:
            item = base[key]
            return item if not isinstance(base, bytes) else UNKNOWN
        return UNKNOWN

    def _call(self, node: ast.Call) -> Value | _Unknown:
        func = node.func
        if any(isinstance(arg, ast.Starred) for arg in node.args):
            return UNKNOWN
        if isinstance(func, ast.Attribute) and not isinstance(func.value, ast.Name | ast.Attribute):
            return self._method(node, func)
        if isinstance(func, ast.Attribute) and isinstance(func.value, ast.Constant):
            return self._method(node, func)
        names = self._names.resolve(func)
        for name in names:
            folded = self._function(name, node)
            if not isinstance(folded, _Unknown):
                return folded
        if isinstance(func, ast.Attribute):
            return self._method(node, func)
        return UNKNOWN

    def _args(self, node: ast.Call) -> list[Value] | None:
        values = [self.value(arg) for arg in node.args]
        if any(isinstance(value, _Unknown) for value in values):
            return None
        return values  # type: ignore[return-value]

    def _function(self, name: str, node: ast.Call) -> Value | _Unknown:
        simple = name.removeprefix("builtins.")
        if simple in {"str", "os.fspath"} and len(node.args) == 1:
            value = self.value(node.args[0])
            return value if isinstance(value, str) else UNKNOWN
        if simple == "chr" and len(node.args) == 1:
            code = self.value(node.args[0])
            return chr(code) if type(code) is int else UNKNOWN
        if simple in {
            "os.path.join",
            "posixpath.join",
            "ntpath.join",
            "pathlib.Path",
            "pathlib.PurePath",
            "pathlib.PosixPath",
            "pathlib.PurePosixPath",
        }:
            args = self._args(node)
            if args is None or not all(isinstance(arg, str) for arg in args):
                return UNKNOWN
            parts = [str(arg) for arg in args]
            return _join_path(parts[0], *parts[1:]) if parts else PathValue(".")
        if simple in {"os.path.expanduser", "os.path.normpath", "os.path.abspath"}:
            value = self.value(node.args[0]) if node.args else UNKNOWN
            return PathValue(value) if isinstance(value, str) else UNKNOWN
        if simple == "pathlib.Path.home":
            return PathValue("~")
        if simple in {"os.getenv", "os.environ.get"} and node.args:
            variable = self.value(node.args[0])
            return PathValue("~") if variable in _HOME_VARIABLES else UNKNOWN
        if simple == "codecs.decode" and len(node.args) >= 2:
            args = self._args(node)
            if args is None or not isinstance(args[1], str) or not isinstance(args[0], str | bytes):
                return UNKNOWN
            decoded: object = codecs.decode(args[0], args[1])  # type: ignore[arg-type]  # rot13 takes str
            return decoded if isinstance(decoded, str | bytes) else UNKNOWN
        if simple in {"map"} and len(node.args) == 2:
            mapped = self._names.resolve(node.args[0])
            items = self.value(node.args[1])
            if "builtins.chr" in mapped and isinstance(items, tuple):
                return tuple(chr(item) for item in items if type(item) is int)
            if "builtins.str" in mapped and isinstance(items, tuple):
                return tuple(str(item) for item in items)
            return UNKNOWN
        decoder = _DECODERS.get(name)
        if decoder is not None and node.args:
            data = self.value(node.args[0])
            return decoder(data) if isinstance(data, str | bytes) else UNKNOWN
        if simple in {"bytes", "bytearray"} and len(node.args) == 1:
            data = self.value(node.args[0])
            if isinstance(data, tuple) and all(type(item) is int for item in data):
                return bytes(data)  # type: ignore[arg-type]
        return UNKNOWN

    def _method(self, node: ast.Call, func: ast.Attribute) -> Value | _Unknown:
        base = self.value(func.value)
        if isinstance(base, _Unknown):
            return UNKNOWN
        attr = func.attr
        if attr == "join" and isinstance(base, str) and len(node.args) == 1:
            items = self.value(node.args[0])
            if isinstance(items, tuple) and all(isinstance(item, str) for item in items):
                _check_size(sum(len(str(item)) for item in items) + len(base) * len(items))
                if isinstance(base, PathValue):
                    return base + "".join(items)  # type: ignore[arg-type]
                return base.join(items)  # type: ignore[arg-type]
            return UNKNOWN
        if attr == "format" and isinstance(base, str):
            if _WIDE.search(base):
                raise FoldLimit("a format width of 10,000+ characters")
            args = self._args(node)
            kwargs = {k.arg: self.value(k.value) for k in node.keywords if k.arg is not None}
            if args is None or any(isinstance(v, _Unknown) for v in kwargs.values()):
                return UNKNOWN
            return base.format(*args, **kwargs)
        if attr in {"joinpath", "with_name", "with_suffix"} and isinstance(base, str):
            args = self._args(node)
            if args is None or not all(isinstance(arg, str) for arg in args):
                return UNKNOWN
            if attr == "joinpath":
                return _join_path(base, *[str(arg) for arg in args])
            return UNKNOWN
        if attr in _STR_METHODS_NO_ARGS and not node.args and isinstance(base, str | bytes):
            if attr in {"as_posix", "expanduser", "resolve", "absolute", "__str__"}:
                return PathValue(base) if isinstance(base, str) else UNKNOWN
            if attr == "decode" and isinstance(base, bytes):
                return base.decode("utf-8", "replace")
            if attr == "encode" and isinstance(base, str):
                return base.encode()
            result: object = getattr(base, attr)()
            return result if isinstance(result, str | bytes) else UNKNOWN
        if attr in _STR_METHODS_ARGS and isinstance(base, str | bytes):
            args = self._args(node)
            if args is None:
                return UNKNOWN
            if attr == "replace" and len(args) >= 2 and isinstance(args[1], str | bytes):
                old, new = args[0], args[1]
                if isinstance(old, str | bytes):
                    count = base.count(old) if old else len(base) + 1  # type: ignore[arg-type]
                    _check_size(len(base) + count * len(new))
            if attr == "decode" and isinstance(base, bytes) and args and isinstance(args[0], str):
                return base.decode(args[0], "replace")
            if attr == "encode" and isinstance(base, str) and args and isinstance(args[0], str):
                return base.encode(args[0], "replace")
            if attr in {"decode", "encode"}:
                return UNKNOWN
            return getattr(base, attr)(*args)  # type: ignore[no-any-return]
        return UNKNOWN


def _check_size(size: int) -> None:
    if size > MAX_VALUE:
        raise FoldLimit(f"a value folds to more than {MAX_VALUE:,} characters")
