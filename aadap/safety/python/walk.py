"""Python and PySpark analysis over the ``ast`` with import-alias resolution.

One breadth-first walk visits every node; a call is seen before its callee, so the
call rules can claim a callee (``yaml.load`` with ``SafeLoader``) before the
reference rule would flag it. References are flagged wherever they appear:
``map(os.system, cmds)`` is as dangerous as ``os.system(cmd)``.
"""

from __future__ import annotations

import ast
import warnings
from collections.abc import Sequence

from aadap.core.enums import Language, OperationClass, PlatformKind, RiskLevel
from aadap.safety._catalog import TableCatalog
from aadap.safety.findings import Finding
from aadap.safety.python.calls import call_findings, unresolved_call
from aadap.safety.python.dangers import BUILTIN_NAMES, lookup, worth_resolving
from aadap.safety.python.egress_calls import egress, environment_dump, sensitive_files
from aadap.safety.python.embedded_sql import embedded_sql, sql_call, sql_runner_passed
from aadap.safety.python.folded_secrets import folded_secrets
from aadap.safety.python.names import NameResolver, all_nodes
from aadap.safety.python.side_door_calls import side_doors
from aadap.safety.python.writes import WriteCheck

_JVM_ATTRS = frozenset({"_jvm", "_gateway", "_jsparkSession"})
# Nodes whose strings may hide a secret once folded (calls are handled with the calls).
_STRING_HOLDERS: tuple[type[ast.AST], ...] = (
    ast.Assign,
    ast.AnnAssign,
    ast.keyword,
    ast.Dict,
    ast.BinOp,
    ast.JoinedStr,
)


def _syntax_error(exc: SyntaxError, language: Language) -> Finding:
    where = f"line {exc.lineno}" if exc.lineno else "the file"
    msg = f"the code cannot be parsed as Python ({exc.msg} at {where}); it cannot be checked"
    hint = "Fix the syntax; notebook magics (%sql, !cmd) belong in their own cells."
    return Finding(
        "python.syntax_error", RiskLevel.MEDIUM, exc.lineno, msg, hint, None, language, True
    )


def _parse(code: str, language: Language) -> ast.Module | Finding:
    try:
        # Warnings about the analysed code ("invalid escape sequence") are not ours to
        # raise; under -W error they would even turn valid code into a SyntaxError.
        with warnings.catch_warnings(action="ignore"):
            return ast.parse(code)
    except SyntaxError as exc:
        return _syntax_error(exc, language)
    except (RecursionError, MemoryError, ValueError) as exc:
        msg = f"the code is too deeply nested or too large to parse ({type(exc).__name__})"
        hint = "Simplify the code; it cannot be checked as it is."
        return Finding(
            "python.too_complex", RiskLevel.MEDIUM, None, msg, hint, None, language, True
        )


def analyze_python(
    code: str,
    *,
    language: Language,
    platform: PlatformKind,
    catalog: TableCatalog,
    allowed_hosts: Sequence[str] = (),
) -> tuple[list[Finding], int]:
    """Findings for Python/PySpark ``code`` and its number of top-level statements.

    ``allowed_hosts`` are the hosts network calls may reach without a finding.
    """
    parsed = _parse(code, language)
    if isinstance(parsed, Finding):
        return [parsed], 0
    try:
        return _walk(parsed, language, platform, catalog, allowed_hosts), len(parsed.body)
    except RecursionError:
        # Valid code the analysis cannot walk could run: HIGH, never auto-approved.
        msg = "the code is too deeply nested to analyse"
        hint = "Simplify the code; it cannot be checked as it is."
        return [
            Finding("python.too_complex", RiskLevel.HIGH, None, msg, hint, None, language, True)
        ], 0


def _walk(
    tree: ast.Module,
    language: Language,
    platform: PlatformKind,
    catalog: TableCatalog,
    allowed_hosts: Sequence[str],
) -> list[Finding]:
    nodes = all_nodes(tree)
    names = NameResolver(nodes)
    writes = WriteCheck(catalog, names)
    handled: set[int] = set()
    inner: set[int] = set()  # string parts folded with their outer expression
    found: list[Finding] = []
    for node in nodes.get(ast.Call, ()):  # every call before the names inside it
        if not isinstance(node, ast.Call):
            continue
        call = sql_call(node, names)
        if call is not None:
            found.extend(
                embedded_sql(
                    node,
                    call,
                    names=names,
                    platform=platform,
                    catalog=catalog,
                    allowed_hosts=allowed_hosts,
                )
            )
        elif node.args or node.keywords:
            passed = sql_runner_passed(node, names)
            if passed is not None:
                found.append(passed)
        written = writes.check(node)
        if written is not None:
            found.extend(written)
        found.extend(call_findings(node, names, handled))
        leftover = writes.leftover_mode(node)
        if leftover is not None:
            found.append(leftover)
        if names.is_getattr_call(node):
            found.extend(_references(node, names, language))
        dynamic = unresolved_call(node, names)
        if dynamic is not None:
            found.append(dynamic)
        found.extend(folded_secrets(node, names, language, inner))
        found.extend(egress(node, names, allowed_hosts, language))
        found.extend(sensitive_files(node, names, language))
        found.extend(environment_dump(node, names, language))
        found.extend(side_doors(node, names, language))
    # Names are the most numerous nodes: the cheap test of worth_resolving, inlined.
    aliases, star = names.aliases, bool(names.star_modules)
    for node in nodes.get(ast.Name, ()):
        name_id = node.id  # type: ignore[attr-defined]
        if (
            (star or name_id in aliases or name_id in BUILTIN_NAMES)
            and type(node.ctx) is ast.Load  # type: ignore[attr-defined]
            and id(node) not in handled
        ):
            found.extend(_references(node, names, language))  # type: ignore[arg-type]
    for kind in (ast.Attribute, ast.Subscript):
        for node in nodes.get(kind, ()):
            if type(node.ctx) is ast.Load and id(node) not in handled:  # type: ignore[attr-defined]
                found.extend(_references(node, names, language))  # type: ignore[arg-type]
    for holder in _STRING_HOLDERS:
        for node in nodes.get(holder, ()):
            found.extend(folded_secrets(node, names, language, inner))
    found.extend(_fold_limits(names, language))
    return found


def _fold_limits(names: NameResolver, language: Language) -> list[Finding]:
    """Code built to defeat folding is not given the benefit of the doubt (HIGH, unverified)."""
    hint = "Write strings and calls directly; this part of the code cannot be checked."
    return [
        Finding(
            "python.fold_limit",
            RiskLevel.HIGH,
            line,
            f"the code builds a value the analysis cannot follow ({reason})",
            hint,
            None,
            language,
            True,
        )
        for line, reason in names.folder.limits
    ]


def _references(node: ast.expr, names: NameResolver, language: Language) -> list[Finding]:
    line = getattr(node, "lineno", None)
    if isinstance(node, ast.Attribute) and node.attr in _JVM_ATTRS:
        msg = f"access to the JVM gateway ({node.attr}) can call any Java code"
        hint = "Use the public PySpark API."
        return [
            Finding(
                "python.jvm_access",
                RiskLevel.HIGH,
                line,
                msg,
                hint,
                OperationClass.DESTRUCTIVE,
                language,
            )
        ]
    found: list[Finding] = []
    if not worth_resolving(node, names.aliases, bool(names.star_modules)):
        return found
    for name in names.resolve(node):
        danger = lookup(name)
        if danger is not None:
            found.append(
                Finding(
                    danger.rule,
                    danger.severity,
                    line,
                    danger.message,
                    danger.hint,
                    danger.operation,
                    language,
                    danger.unverified,
                )
            )
            break
    return found
