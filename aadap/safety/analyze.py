"""The one entry point: ``analyze(code, language=..., platform=...) -> Analysis``.

It validates the input, picks the language analyser, adds the secret and host
checks (run on the whole text, comments included) and derives the operation class
and the overall risk from the findings, never from the request text.

Bad input:

* empty or whitespace-only code, code with no statement and no finding, code over
  :data:`MAX_CODE_CHARS`, an unknown platform → :class:`InvalidRequestError` naming
  the field;
* an unknown language → a MEDIUM ``language.unsupported`` finding (unverified: it
  needs approval), so generated code in an unexpected language is never "safe";
* binary content (NUL bytes, replacement characters from a lossy decode, many control
  characters) → a HIGH ``input.binary`` finding; the language analyser is skipped.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Collection, Sequence

from aadap.core.config import SafetySettings
from aadap.core.enums import Language, OperationClass, PlatformKind, RiskLevel
from aadap.core.exceptions import InvalidRequestError
from aadap.safety._catalog import TableCatalog
from aadap.safety._line_index import LineIndex
from aadap.safety._notebook import magic_cells
from aadap.safety.classify import build_analysis
from aadap.safety.exfiltration import exfiltration
from aadap.safety.findings import Analysis, Finding
from aadap.safety.production_hosts import find_production_hosts
from aadap.safety.python import analyze_python
from aadap.safety.scala import analyze_scala
from aadap.safety.secret_scan import find_secrets
from aadap.safety.sql import analyze_sql
from aadap.safety.sql.script import sql_dialects

# Generated code is tens of kilobytes; a megabyte is twenty times more. Larger input is
# refused (InvalidRequestError) instead of tying up a worker: the analysers run at
# roughly 10,000-30,000 lines a second.
MAX_CODE_CHARS = 1_000_000
DEFAULT_PRODUCTION_HOST_PATTERNS: tuple[str, ...] = tuple(
    SafetySettings.model_fields["production_host_patterns"].get_default(call_default_factory=True)
)
_CONTROL = re.compile(r"[\x00-\x08\x0e-\x1f\x7f\ufffd]")
_QUIET_MAGICS = frozenset({"md", "md-sandbox", "skip", "pip", "conda", "config"})


def _invalid(field: str, message: str) -> InvalidRequestError:
    return InvalidRequestError(message, details={"field": field})


def parse_platform(platform: PlatformKind | str) -> PlatformKind:
    try:
        return PlatformKind(str(platform).strip().lower())
    except ValueError as exc:
        allowed = ", ".join(p.value for p in PlatformKind)
        raise _invalid(
            "platform", f"platform={platform!r} is not valid; allowed: {allowed}"
        ) from exc


def parse_language(language: Language | str) -> Language | None:
    """The :class:`Language`, or ``None`` when the value names no supported language."""
    try:
        return Language(str(language).strip().lower())
    except ValueError:
        return None


def _binary(code: str) -> bool:
    if "\x00" in code:
        return True
    if _CONTROL.search(code) is None:  # the usual case: no control character at all
        return False
    limit = max(8, len(code) // 100)
    return sum(1 for _ in zip(range(limit + 1), _CONTROL.finditer(code), strict=False)) > limit


def analyze(
    code: str,
    *,
    language: Language | str,
    platform: PlatformKind | str = "local",
    existing_tables: Collection[str] | None = None,
    production_host_patterns: Sequence[str] = DEFAULT_PRODUCTION_HOST_PATTERNS,
    egress_allowed_hosts: Sequence[str] = (),
) -> Analysis:
    """Analyse ``code`` written in ``language`` for ``platform``.

    ``existing_tables`` names the tables that already exist on the target (see
    :class:`aadap.safety._catalog.TableCatalog`: case-insensitive, qualifiers compared
    from the right, ``*`` globs); a name not listed is a new table. ``None`` (the
    default) means the caller does not know: overwriting or replacing *any* table is
    then treated as destructive (fail closed), while appends and plain creates are
    not affected. Pass ``settings.safety.production_host_patterns`` as
    ``production_host_patterns`` and ``settings.safety.egress_allowed_hosts`` as
    ``egress_allowed_hosts`` (network calls to those hosts are not findings).
    """
    if not isinstance(code, str):
        raise _invalid("code", f"code must be text, not {type(code).__name__}")
    if not code.strip():
        raise _invalid("code", "code is empty; there is nothing to check")
    if len(code) > MAX_CODE_CHARS:
        limit = f"the limit is {MAX_CODE_CHARS:,}: split it into smaller units"
        raise _invalid("code", f"code has {len(code):,} characters; {limit}")
    kind = parse_platform(platform)
    lang = parse_language(language)
    if isinstance(existing_tables, str):  # a lone name, not its characters
        existing_tables = [existing_tables]
    if isinstance(production_host_patterns, str):
        production_host_patterns = [production_host_patterns]
    if isinstance(egress_allowed_hosts, str):
        egress_allowed_hosts = [egress_allowed_hosts]
    catalog = TableCatalog(existing_tables)
    line_of = LineIndex(code)
    findings: list[Finding] = []
    statements = 0
    if _binary(code):
        msg = "the code contains binary data (NUL or control bytes); it cannot be checked"
        hint = "Submit source text (UTF-8)."
        findings.append(Finding("input.binary", RiskLevel.HIGH, None, msg, hint, None, lang, True))
    elif lang is None:
        allowed = ", ".join(item.value for item in Language)
        msg = f"language {language!r} is not supported (allowed: {allowed}); it cannot be checked"
        hint = "Generate code in a supported language."
        findings.append(
            Finding("language.unsupported", RiskLevel.MEDIUM, None, msg, hint, None, None, True)
        )
    else:
        found, statements = _by_language(code, lang, kind, catalog, egress_allowed_hosts)
        findings.extend(found)
    findings.extend(find_secrets(code, line_of, lang))
    findings.extend(find_production_hosts(code, line_of, production_host_patterns, lang))
    findings.extend(exfiltration(findings, lang))
    if statements == 0 and not findings:
        raise _invalid("code", "code contains no statements (only comments or whitespace)")
    return build_analysis(
        findings,
        language=lang,
        platform=kind,
        lines=line_of.count - int(code.endswith("\n")),
        statements=statements,
        requested_language=str(language),
    )


def _by_language(
    code: str, lang: Language, platform: PlatformKind, catalog: TableCatalog, hosts: Sequence[str]
) -> tuple[list[Finding], int]:
    if lang is Language.SQL:
        return analyze_sql(
            code, dialects=sql_dialects(platform), catalog=catalog, allowed_hosts=hosts
        )
    if lang is Language.SCALA:
        return analyze_scala(code, platform=platform, catalog=catalog, allowed_hosts=hosts)
    found, statements = analyze_python(
        code, language=lang, platform=platform, catalog=catalog, allowed_hosts=hosts
    )
    for cell in magic_cells(code):
        cell_found, cell_statements = _cell(
            cell.magic, cell.body, cell.line, lang, platform, catalog, hosts
        )
        found.extend(cell_found)
        statements += cell_statements
    return found, statements


def _shift(findings: list[Finding], offset: int) -> list[Finding]:
    return [
        dataclasses.replace(f, line=None if f.line is None else f.line + offset) for f in findings
    ]


def _cell(
    magic: str,
    body: str,
    line: int,
    lang: Language,
    platform: PlatformKind,
    catalog: TableCatalog,
    hosts: Sequence[str],
) -> tuple[list[Finding], int]:
    offset = line - 1
    if not body.strip() or magic in _QUIET_MAGICS:
        return [], 0
    if magic == "sql":
        dialects = sql_dialects(platform, spark=True)
        return analyze_sql(
            body,
            dialects=dialects,
            catalog=catalog,
            line_offset=offset,
            origin=" (in a %sql cell)",
            allowed_hosts=hosts,
        )
    if magic in {"python", "pyspark"}:
        found, count = analyze_python(
            body, language=lang, platform=platform, catalog=catalog, allowed_hosts=hosts
        )
        return _shift(found, offset), count
    if magic == "scala":
        found, count = analyze_scala(body, platform=platform, catalog=catalog, allowed_hosts=hosts)
        return _shift(found, offset), count
    words = body.split()
    destructive = OperationClass.DESTRUCTIVE
    if magic in {"sh", "bash", "system"}:
        msg = f"a %{magic} cell runs shell commands (arbitrary code: classified destructive)"
        hint = "Do not run shell commands from notebooks; use the platform's APIs."
        return [
            Finding("notebook.shell", RiskLevel.CRITICAL, line, msg, hint, destructive, lang)
        ], 1
    if magic == "fs" and words and words[0] == "rm":
        msg = "a %fs rm cell deletes files in DBFS"
        hint = "Remove only paths this task created, and ask for approval."
        return [Finding("python.fs_rm", RiskLevel.CRITICAL, line, msg, hint, destructive, lang)], 1
    if magic == "fs":
        return [], 1
    if magic == "run":
        msg = "a %run cell runs another notebook whose code is not checked here"
        hint = "Inline the code, or check the other notebook too."
        return [Finding("notebook.run", RiskLevel.MEDIUM, line, msg, hint, None, lang, True)], 1
    msg = f"a %{magic} cell cannot be checked"
    hint = "Use sql, python or scala cells."
    return [
        Finding("notebook.unknown_magic", RiskLevel.MEDIUM, line, msg, hint, None, lang, True)
    ], 1
