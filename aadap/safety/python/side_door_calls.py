"""Engine side doors reached from Python via the API: the same doors as :mod:`..sql.side_doors`.

* ``spark.conf.set(key, ...)`` / ``SparkConf().set`` / ``builder.config`` of a security
  key (ACLs, credentials, class path, the Delta retention check...) and
  ``duckdb.connect(config={...})`` with a security setting (``enable_external_access``,
  ``allow_unsigned_extensions``...) → ``python.security_setting`` (HIGH); a key that does
  not fold cannot be checked and is reported too (fail closed);
* ``sparkContext.addJar/addFile/addPyFile/addArchive``, ``spark.udf.registerJavaFunction``,
  ``install_extension``/``load_extension`` → ``python.code_loading`` (HIGH).
"""

from __future__ import annotations

import ast

from aadap.core.enums import Language, OperationClass, RiskLevel
from aadap.safety.findings import Finding
from aadap.safety.python.names import NameResolver
from aadap.safety.sql.side_doors import security_setting

_SETTERS = frozenset({"set", "config", "setAll"})
_LOADERS = frozenset(
    {
        "addJar",
        "addFile",
        "addPyFile",
        "addArchive",
        "registerJavaFunction",
        "registerJavaUDAF",
        "install_extension",
        "load_extension",
    }
)
_HINT = (
    "Engine settings, extensions and jars are the platform's; generated code must not change them."
)


def side_doors(node: ast.Call, names: NameResolver, language: Language) -> list[Finding]:
    """Security-setting and code-loading findings for one call."""
    func = node.func
    if not isinstance(func, ast.Attribute):
        return _connect_config(node, names, language) if _is_connect(func) else []
    if func.attr in _LOADERS:
        msg = f".{func.attr}(...) loads code or files into the engine"
        return [_f("python.code_loading", node.lineno, msg, OperationClass.DESTRUCTIVE, language)]
    if func.attr == "connect":
        return _connect_config(node, names, language)
    if func.attr not in _SETTERS or not node.args:
        return []
    receiver = func.value
    chain = ast.unparse(receiver) if isinstance(receiver, ast.Attribute | ast.Call) else ""
    if not (chain.endswith((".conf", "SparkConf()")) or ".builder" in chain):
        return []
    key = names.text(node.args[0])
    if key is not None and not security_setting(key, duckdb=False):
        return []
    shown = key if key is not None else "a key only known at run time"
    msg = f"{chain}.{func.attr}({shown!r}, ...) changes an engine security setting"
    return [
        _f(
            "python.security_setting",
            node.lineno,
            msg,
            None,
            language,
            unknown=key is None,
        )
    ]


def _is_connect(func: ast.expr) -> bool:
    return isinstance(func, ast.Name) and func.id == "connect"


def _connect_config(node: ast.Call, names: NameResolver, language: Language) -> list[Finding]:
    config = next((k.value for k in node.keywords if k.arg == "config"), None)
    if config is None or not any(n.startswith("duckdb.") for n in names.resolve(node.func)):
        return []
    if isinstance(config, ast.Dict):
        keys = [names.text(key) if key is not None else None for key in config.keys]
    else:
        keys = [None]
    risky = [key for key in keys if key is None or security_setting(key, duckdb=True)]
    if not risky:
        return []
    shown = risky[0] if risky[0] is not None else "a setting only known at run time"
    msg = f"duckdb.connect(config=...) sets {shown!r}, an engine security setting"
    return [
        _f(
            "python.security_setting",
            node.lineno,
            msg,
            None,
            language,
            unknown=risky[0] is None,
        )
    ]


def _f(
    rule: str,
    line: int,
    message: str,
    op: OperationClass | None,
    language: Language,
    *,
    unknown: bool = False,
) -> Finding:
    return Finding(rule, RiskLevel.HIGH, line, message, _HINT, op, language, unknown)
