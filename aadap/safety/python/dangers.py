"""The table of dangerous Python callables, looked up by resolved dotted name.

A reference is flagged wherever it appears (called, passed to ``map``, stored in a
variable), not only when called. Entries whose danger depends on the arguments
(``yaml.load``, ``subprocess.*`` with ``shell=True``, ``dbutils.fs.put``) are judged at
the call by :mod:`aadap.safety.python.calls`. Platform utilities (``dbutils``,
``mssparkutils``, ``notebookutils``) are notebook globals, matched by name suffix.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass

from aadap.core.enums import OperationClass, RiskLevel

_D = OperationClass.DESTRUCTIVE
_W = OperationClass.WRITE
_C = RiskLevel.CRITICAL
_H = RiskLevel.HIGH
_M = RiskLevel.MEDIUM

_ARBITRARY = "(arbitrary code: classified destructive, it can do anything)"


@dataclass(frozen=True, slots=True)
class Danger:
    rule: str
    severity: RiskLevel
    operation: OperationClass | None
    message: str
    hint: str
    conditional: bool = False
    unverified: bool = False


def _shell(name: str) -> Danger:
    hint = "Do not run shell commands from data code; use the platform's APIs."
    return Danger("python.shell", _C, _D, f"{name} runs a shell command {_ARBITRARY}", hint)


def _delete(name: str, severity: RiskLevel = _H, rule: str = "python.file_delete") -> Danger:
    hint = "Delete only files this task created, and ask for approval."
    return Danger(rule, severity, _D, f"{name} deletes files or directories", hint)


def _unpickle(name: str) -> Danger:
    hint = "Read data in a safe format (Parquet, JSON, CSV); never unpickle data you did not write."
    return Danger(
        "python.unsafe_deserialisation", _H, None, f"{name} can execute code while loading", hint
    )


def _fs_rm(name: str) -> Danger:
    hint = (
        "Remove only paths this task created, never recursively on shared roots; ask for approval."
    )
    return Danger("python.fs_rm", _C, _D, f"{name} deletes files in the lakehouse/DBFS", hint)


_EXACT: dict[str, Danger] = {
    "builtins.exec": Danger(
        "python.exec",
        _C,
        _D,
        f"exec() runs code built at run time {_ARBITRARY}",
        "Remove exec(); write the code directly.",
    ),
    "builtins.eval": Danger(
        "python.eval",
        _C,
        _D,
        f"eval() evaluates code built at run time {_ARBITRARY}",
        "Use ast.literal_eval for literals.",
    ),
    "builtins.compile": Danger(
        "python.compile",
        _H,
        _D,
        "compile() builds code objects at run time",
        "Write the code directly.",
    ),
    "builtins.__import__": Danger(
        "python.dynamic_import",
        _H,
        None,
        "__import__() loads a module chosen at run time",
        "Use a plain import statement.",
    ),
    "importlib.import_module": Danger(
        "python.dynamic_import",
        _H,
        None,
        "importlib.import_module loads a module chosen at run time",
        "Use a plain import statement.",
    ),
    "os.system": _shell("os.system"),
    "os.popen": _shell("os.popen"),
    "pty.spawn": _shell("pty.spawn"),
    "os.remove": _delete("os.remove"),
    "os.unlink": _delete("os.unlink"),
    "os.rmdir": _delete("os.rmdir"),
    "os.removedirs": _delete("os.removedirs"),
    "os.truncate": _delete("os.truncate"),
    "pathlib.Path().unlink": _delete("Path.unlink"),
    "pathlib.Path().rmdir": _delete("Path.rmdir"),
    "shutil.rmtree": _delete("shutil.rmtree", _C, "python.rmtree"),
    "os.kill": Danger(
        "python.process_kill",
        _H,
        None,
        "os.kill signals another process",
        "Do not manage processes from data code.",
    ),
    "os.killpg": Danger(
        "python.process_kill",
        _H,
        None,
        "os.killpg signals a process group",
        "Do not manage processes from data code.",
    ),
    "os.rename": Danger("python.file_move", _M, _W, "os.rename moves or replaces a file", ""),
    "os.replace": Danger("python.file_move", _M, _W, "os.replace moves or replaces a file", ""),
    "shutil.move": Danger("python.file_move", _M, _W, "shutil.move moves files", ""),
    "pickle.load": _unpickle("pickle.load"),
    "pickle.loads": _unpickle("pickle.loads"),
    "pickle.Unpickler": _unpickle("pickle.Unpickler"),
    "dill.load": _unpickle("dill.load"),
    "dill.loads": _unpickle("dill.loads"),
    "marshal.load": _unpickle("marshal.load"),
    "marshal.loads": _unpickle("marshal.loads"),
    "shelve.open": _unpickle("shelve.open"),
    "joblib.load": _unpickle("joblib.load"),
    "pandas.read_pickle": _unpickle("pandas.read_pickle"),
    "yaml.unsafe_load": _unpickle("yaml.unsafe_load"),
    "yaml.unsafe_load_all": _unpickle("yaml.unsafe_load_all"),
    "yaml.load": Danger(
        "python.unsafe_deserialisation",
        _H,
        None,
        "yaml.load without SafeLoader can build arbitrary objects",
        "Use yaml.safe_load.",
        conditional=True,
    ),
    "yaml.load_all": Danger(
        "python.unsafe_deserialisation",
        _H,
        None,
        "yaml.load_all without SafeLoader can build arbitrary objects",
        "Use yaml.safe_load_all.",
        conditional=True,
    ),
    "dbutils.fs.rm": _fs_rm("dbutils.fs.rm"),
    "mssparkutils.fs.rm": _fs_rm("mssparkutils.fs.rm"),
    "notebookutils.fs.rm": _fs_rm("notebookutils.fs.rm"),
    "dbutils.fs.mv": Danger("python.fs_move", _M, _W, "dbutils.fs.mv moves files", ""),
    "mssparkutils.fs.mv": Danger("python.fs_move", _M, _W, "mssparkutils.fs.mv moves files", ""),
    "notebookutils.fs.mv": Danger("python.fs_move", _M, _W, "notebookutils.fs.mv moves files", ""),
    "dbutils.fs.put": Danger(
        "python.fs_put", RiskLevel.LOW, _W, "dbutils.fs.put writes a file", "", conditional=True
    ),
    "mssparkutils.fs.put": Danger(
        "python.fs_put",
        RiskLevel.LOW,
        _W,
        "mssparkutils.fs.put writes a file",
        "",
        conditional=True,
    ),
    "notebookutils.fs.put": Danger(
        "python.fs_put",
        RiskLevel.LOW,
        _W,
        "notebookutils.fs.put writes a file",
        "",
        conditional=True,
    ),
}

_RUN_NOTEBOOK = Danger(
    "python.notebook_run",
    _M,
    None,
    "runs another notebook whose code is not checked here",
    "Inline the code, or check the other notebook too.",
    unverified=True,
)
for _owner in ("dbutils", "mssparkutils", "notebookutils"):
    _EXACT[f"{_owner}.notebook.run"] = _RUN_NOTEBOOK

_PREFIXES: tuple[tuple[str, Danger], ...] = (
    (
        "subprocess.",
        Danger(
            "python.subprocess",
            _H,
            _D,
            f"subprocess starts a program {_ARBITRARY}",
            "Do not start programs from data code; use the platform's APIs.",
            conditional=True,
        ),
    ),
    ("os.exec", _shell("os.exec*")),
    ("os.spawn", _shell("os.spawn*")),
    ("os.posix_spawn", _shell("os.posix_spawn")),
    ("commands.", _shell("commands")),
    (
        "ctypes.",
        Danger(
            "python.native_code", _H, _D, f"ctypes calls native code {_ARBITRARY}", "Remove ctypes."
        ),
    ),
)

# Modules on which getattr(module, <computed name>) hides what is called.
DANGEROUS_MODULES = frozenset(
    {
        "os",
        "subprocess",
        "shutil",
        "builtins",
        "sys",
        "importlib",
        "pickle",
        "pty",
        "ctypes",
        "dbutils",
        "dbutils.fs",
        "mssparkutils",
        "mssparkutils.fs",
        "notebookutils",
        "notebookutils.fs",
    }
)


def lookup(name: str) -> Danger | None:
    """The danger of dotted ``name``: exact, by suffix (``x.dbutils.fs.rm``), then by prefix."""
    name = name.replace(".alias()", "")
    found = _EXACT.get(name)
    if found is not None:
        return found
    parts = name.split(".")
    for start in range(1, len(parts) - 1):
        found = _EXACT.get(".".join(parts[start:]))
        if found is not None and not found.rule.startswith(("python.exec", "python.eval")):
            return found
    if "()" in name:
        return None  # a call's result: the call itself was flagged
    if name.startswith("subprocess.") and parts[-1][:1].isupper() and parts[-1] != "Popen":
        return None  # constants and exception classes such as subprocess.PIPE
    for prefix, danger in _PREFIXES:
        if name.startswith(prefix):
            return danger
    return None


_SUBPROCESS = ("run", "call", "check_call", "check_output", "Popen", "getoutput", "getstatusoutput")
_CTYPES = (
    "CDLL",
    "cdll",
    "WinDLL",
    "windll",
    "OleDLL",
    "oledll",
    "PyDLL",
    "pydll",
    "pythonapi",
    "CFUNCTYPE",
    "WINFUNCTYPE",
    "memmove",
    "memset",
    "string_at",
    "cast",
)
# The last segment of every dangerous dotted name: an attribute named otherwise cannot be one.
_LAST_SEGMENTS = frozenset(
    {key.rsplit(".", 1)[-1] for key in _EXACT}
    | set(_SUBPROCESS)
    | set(_CTYPES)
    | {"_jvm", "_gateway", "_jsparkSession"}
)
BUILTIN_NAMES = frozenset(
    {"exec", "eval", "compile", "__import__", "__builtins__", "open", "getattr"}
)


def worth_resolving(node: object, aliases: dict[str, frozenset[str]], star_imports: bool) -> bool:
    """A cheap test: can ``node`` possibly resolve to a dangerous name? (Skips most nodes.)"""
    if isinstance(node, ast.Attribute):
        return node.attr in _LAST_SEGMENTS or node.attr.startswith(("exec", "spawn", "posix_spawn"))
    if isinstance(node, ast.Name):
        return star_imports or node.id in aliases or node.id in BUILTIN_NAMES
    return True
