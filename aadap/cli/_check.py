"""``aadap check PATH|-``: run the safety analysis and the autonomy policy on a file.

Exit status: 0 auto-approved, 3 approval needed, 4 forbidden, 2 bad input (missing or
unreadable file, empty code, a file that is not UTF-8 text, an unknown
language/platform/environment/format, a language that cannot be inferred, bad settings).
Undecodable bytes are refused (exit 2) rather than decoded lossily: what would run is
not known, and the platforms would not accept the file either.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from aadap.cli._common import (
    EnvironmentOpt,
    Format,
    PlatformOpt,
    check_format,
    enum_option,
    enum_values,
    fail,
    print_json,
    settings_or_exit,
)
from aadap.core.enums import Environment, Language, PlatformKind
from aadap.core.exceptions import InvalidRequestError

if TYPE_CHECKING:
    from aadap.safety import Analysis, PolicyDecision

EXIT_AUTO = 0
EXIT_APPROVAL = 3
EXIT_FORBIDDEN = 4
_EXIT_CODES = {"auto": EXIT_AUTO, "approval": EXIT_APPROVAL, "forbidden": EXIT_FORBIDDEN}
_EXTENSIONS = {
    ".sql": Language.SQL,
    ".py": Language.PYTHON,
    ".scala": Language.SCALA,
    ".sc": Language.SCALA,
}


def _stripped_lower(value: str) -> str:
    return value.strip().lower()


def _stripped_upper(value: str) -> str:
    return value.strip().upper()


def _read(path: str) -> str:
    from aadap.safety import MAX_CODE_CHARS  # the analysis (sqlglot) loads only when used

    max_bytes = MAX_CODE_CHARS * 4
    source = "standard input" if path == "-" else path
    try:
        if path == "-":
            data = typer.get_binary_stream("stdin").read(max_bytes + 1)
        else:
            with Path(path).open("rb") as handle:
                data = handle.read(max_bytes + 1)
    except OSError as exc:
        fail(
            InvalidRequestError(
                f"cannot read {source}: {exc.strerror or exc}", details={"field": "path"}
            )
        )
    if len(data) > max_bytes:
        message = f"{source} is larger than the analysis limit ({MAX_CODE_CHARS:,} characters)"
        fail(InvalidRequestError(message, details={"field": "path"}))
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        message = (
            f"{source} is not UTF-8 text (invalid byte at offset {exc.start}); refusing to guess"
        )
        fail(InvalidRequestError(message, details={"field": "path"}))


def _language(path: str, language: str | None) -> Language:
    if path != "-" and Path(path).is_dir():
        fail(
            InvalidRequestError(
                f"{path!r} is a directory; allowed: a file of code, or - for standard input",
                details={"field": "path"},
            )
        )
    if language is not None:
        return enum_option(Language, "--language", language, _stripped_lower)
    inferred = _EXTENSIONS.get(Path(path).suffix.lower()) if path != "-" else None
    if inferred is None:
        what = "standard input" if path == "-" else f"{path!r} (extension not .sql, .py or .scala)"
        fail(
            InvalidRequestError(
                f"--language is required: cannot infer the language of {what}; "
                f"allowed: {enum_values(Language)}",
                details={"field": "--language"},
            )
        )
    return inferred


def _report(
    path: str, analysis: Analysis, environment: Environment, decision: PolicyDecision
) -> dict[str, Any]:
    return {
        "path": path,
        "environment": environment.value,
        "decision": decision.decision,
        "reason": decision.reason,
        **analysis.to_dict(),
    }


def _print_text(report: dict[str, Any]) -> None:
    typer.echo(
        f"{report['path']}: {report['language']} on {report['platform']}, {report['environment']}; "
        f"{report['lines']} lines, {report['statements']} statements"
    )
    for item in report["findings"]:
        where = f"line {item['line']}" if item["line"] is not None else "file"
        typer.echo(f"  {where:>9}  {item['severity']:<8}  {item['rule']}: {item['message']}")
        if item["fix_hint"]:
            typer.echo(f"  {'':>9}  {'':<8}  fix: {item['fix_hint']}")
    if not report["findings"]:
        typer.echo("  no findings")
    typer.echo(f"operation class: {report['operation_class']}")
    typer.echo(f"risk: {report['risk']}")
    typer.echo(f"decision: {report['decision']} ({report['reason']})")


#: the top-level command of this module (``aadap check``)
commands = typer.Typer()


@commands.command("check")
def check(
    path: Annotated[str, typer.Argument(help="file to check, or - for standard input")],
    language: Annotated[
        str | None,
        typer.Option("--language", help="sql, python, pyspark or scala (default: from extension)"),
    ] = None,
    platform: PlatformOpt = "local",
    environment: EnvironmentOpt = "SANDBOX",
    fmt: Format = "text",
    existing_table: Annotated[
        list[str] | None,
        typer.Option(
            "--existing-table",
            help="a table that already exists on the target (repeatable; * globs)",
        ),
    ] = None,
) -> None:
    """Analyse code for risky operations and secrets, and print the policy decision.

    Exit status: 0 auto, 3 approval needed, 4 forbidden, 2 bad input. Without
    --existing-table the target's tables are unknown, so overwriting or replacing any
    table counts as destructive.
    """
    from aadap.safety import analyze, decide

    check_format(fmt)
    kind = enum_option(PlatformKind, "--platform", platform, _stripped_lower)
    env = enum_option(Environment, "--environment", environment, _stripped_upper)
    lang = _language(path, language)
    code = _read(path)
    # The analysis reports what sqlglot cannot parse as findings; its log lines are noise.
    logging.getLogger("sqlglot").setLevel(logging.ERROR)
    settings = settings_or_exit(home=False)
    try:
        analysis = analyze(
            code,
            language=lang,
            platform=kind,
            existing_tables=existing_table or None,
            production_host_patterns=settings.safety.production_host_patterns,
            egress_allowed_hosts=settings.safety.egress_allowed_hosts,
        )
    except InvalidRequestError as exc:
        fail(exc)
    decision = decide(analysis, env, settings.safety)
    report = _report("-" if path == "-" else path, analysis, env, decision)
    if fmt == "json":
        print_json(report)
    else:
        _print_text(report)
    raise typer.Exit(_EXIT_CODES[decision.decision])
