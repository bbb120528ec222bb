"""Scala analysis by conservative patterns (Scala is not parsed).

Comments and string contents are masked first, so text inside strings never matches a
code pattern; string literals are then read back by offset for ``spark.sql("...")``
(triple-quoted and ``.stripMargin`` included) and for table names.

**Policy choice.** Pattern matching is not parsing, so a Scala analysis always carries
a LOW ``scala.pattern_only`` note. It is *not* marked unverified: clean Scala that
only reads or appends may be auto-approved like Python, because the patterns fail
closed on what they can see (a computed save mode counts as overwrite, a computed
``spark.sql`` argument is ``scala.dynamic_sql`` HIGH, reflection and process APIs are
flagged). What they cannot see (e.g. a writer passed through a helper method in
another file) is the accepted residual risk, visible to reviewers through the note.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from aadap.core.enums import Language, OperationClass, PlatformKind, RiskLevel
from aadap.safety._catalog import TableCatalog
from aadap.safety._line_index import LineIndex
from aadap.safety._spark import (
    HINT,
    TABLE_TERMINALS,
    V1_TERMINALS,
    V2_TERMINALS,
    loose_overwrite,
    v1_write,
    v2_write,
)
from aadap.safety.findings import Finding
from aadap.safety.scala import patterns as rules
from aadap.safety.scala.egress_patterns import scala_egress
from aadap.safety.scala.lexing import mask, statements
from aadap.safety.scala.literals import read_literal, string_constants
from aadap.safety.sql import analyze_sql
from aadap.safety.sql.keywords import scan_keywords
from aadap.safety.sql.script import sql_dialects

_S = Language.SCALA


class _Scala:
    def __init__(
        self,
        code: str,
        platform: PlatformKind,
        catalog: TableCatalog,
        allowed_hosts: Sequence[str],
    ) -> None:
        self.source = code
        self.m = mask(code)
        self.allowed_hosts = tuple(allowed_hosts)
        self.line_of = LineIndex(code)
        self.platform = platform
        self.catalog = catalog
        self.constants = string_constants(self.m)
        self.delta_names = {match.group(1) for match in rules.DELTA_VAL.finditer(self.m.code)}

    def run(self) -> tuple[list[Finding], int]:
        note = Finding(
            "scala.pattern_only",
            RiskLevel.LOW,
            None,
            "Scala is checked by conservative patterns, not parsed; indirection may hide things",
            "Keep writes and SQL literal and local so they can be checked.",
            None,
            _S,
        )
        spans = statements(self.m.code)
        if not spans:
            return [], 0
        found = [note, *self._patterns(self.m.code, 0), *self._unterminated()]
        found.extend(scala_egress(self.m, self.line_of, spans, self.constants, self.allowed_hosts))
        for start, end in spans:
            segment = self.m.code[start:end]
            found.extend(self._sql(segment, start))
            found.extend(self._writes(segment, start))
            found.extend(self._delta(segment, start))
        return found, len(spans)

    def _unterminated(self) -> list[Finding]:
        """What an unclosed triple-quoted string or block comment hides cannot be checked:
        MEDIUM and unverified, as Python that does not parse; never auto-approved."""
        offset = self.m.unterminated
        if offset is None:
            return []
        # both masked copies blank a comment: ask the source what opened here
        what = "comment" if self.source.startswith("/*", offset) else "string"
        return [
            self._f(
                "scala.unterminated",
                RiskLevel.MEDIUM,
                offset,
                f"a {what} opened here never closes: the code does not compile, and the rest "
                "of it cannot be checked",
                f"Close the {what}.",
                None,
                unverified=True,
            )
        ]

    def _f(
        self,
        rule: str,
        severity: RiskLevel,
        offset: int,
        message: str,
        hint: str,
        op: OperationClass | None,
        *,
        unverified: bool = False,
    ) -> Finding:
        return Finding(rule, severity, self.line_of(offset), message, hint, op, _S, unverified)

    def _patterns(self, segment: str, base: int) -> list[Finding]:
        return [
            self._f(
                p.rule,
                p.severity,
                base + match.start(),
                p.message,
                p.hint,
                p.operation,
                unverified=p.unverified,
            )
            for p in rules.PATTERNS
            for match in p.regex.finditer(segment)
        ]

    def _sql(self, segment: str, base: int) -> list[Finding]:
        found: list[Finding] = []
        dialects = sql_dialects(self.platform, spark=True)
        for match in rules.SQL_CALL.finditer(segment):
            line = self.line_of(base + match.start())
            kind, text, offset = read_literal(self.m, base + match.end(), self.constants)
            origin = f" (in spark.sql(...) on line {line})"
            if kind == "literal":
                sql_line = self.line_of(offset) - 1
                found.extend(
                    analyze_sql(
                        text,
                        dialects=dialects,
                        catalog=self.catalog,
                        line_offset=sql_line,
                        language=Language.SQL,
                        origin=origin,
                        allowed_hosts=self.allowed_hosts,
                    )[0]
                )
                continue
            how = "string interpolation" if kind == "template" else "a value only known at run time"
            msg = f"spark.sql() runs SQL built from {how}; it cannot be checked before it runs"
            hint = "Use a constant statement; bind values with parameter markers."
            found.append(
                self._f(
                    "scala.dynamic_sql",
                    RiskLevel.HIGH,
                    base + match.start(),
                    msg,
                    hint,
                    None,
                    unverified=True,
                )
            )
            if kind == "template":
                checked, _ = analyze_sql(
                    text,
                    dialects=dialects,
                    catalog=self.catalog,
                    line_offset=self.line_of(offset) - 1,
                    language=Language.SQL,
                    origin=f" (template{origin})",
                    allowed_hosts=self.allowed_hosts,
                )
                kept = [f for f in checked if f.rule not in {"sql.unparseable", "sql.unrecognised"}]
                if len(kept) < len(checked):
                    kept.extend(scan_keywords(text, line, Language.SQL))
                found.extend(kept)
        return found

    def _string_at(self, at: int) -> str | None:
        kind, text, _ = read_literal(self.m, at, self.constants)
        return text if kind == "literal" else None

    def _mode(self, segment: str, base: int, before: int) -> tuple[str, int | None]:
        mode, where = "errorifexists", None
        for match in rules.MODE_CALL.finditer(segment, 0, before):
            at = base + match.end()
            value = self._string_at(at)
            if value is None:
                word = re.match(r"(?:SaveMode\s*\.\s*)?(\w+)\s*\)", self.m.code[at : at + 60])
                value = rules.SAVE_MODES.get(word.group(1), "unknown") if word else "unknown"
            mode, where = value.lower(), match.start()
        return mode, where

    def _writes(self, segment: str, base: int) -> list[Finding]:
        found: list[Finding] = []
        writer = rules.WRITER.search(segment)
        write_to = rules.WRITE_TO.search(segment)
        consumed = False
        for match in rules.TERMINAL.finditer(segment):
            terminal, line = match.group(1), self.line_of(base + match.start())
            if writer and terminal in V1_TERMINALS and match.start() > writer.start():
                mode, _ = self._mode(segment, base, match.start())
                name = self._string_at(base + match.end()) if terminal in TABLE_TERMINALS else None
                if terminal == "insertInto" and re.search(r"\boverwrite\s*=\s*true\b", segment):
                    mode = "overwrite"
                found.append(
                    v1_write(
                        terminal=terminal,
                        mode=mode,
                        name=name,
                        catalog=self.catalog,
                        line=line,
                        language=_S,
                    )
                )
                consumed = True
            elif write_to and terminal in V2_TERMINALS and match.start() > write_to.start():
                name = self._string_at(base + write_to.end())
                found.append(
                    v2_write(
                        terminal=terminal, name=name, catalog=self.catalog, line=line, language=_S
                    )
                )
                consumed = True
        if not consumed:
            mode, where = self._mode(segment, base, len(segment))
            if (
                where is not None
                and mode in {"overwrite", "unknown"}
                and (writer or mode == "overwrite")
            ):
                found.append(loose_overwrite(self.line_of(base + where), _S))
        return found

    def _delta(self, segment: str, base: int) -> list[Finding]:
        names = "|".join(re.escape(n) for n in sorted(self.delta_names))
        is_delta = "DeltaTable" in segment or bool(
            names and re.search(rf"\b(?:{names})\s*\.", segment)
        )
        merge = rules.MERGE_CALL.search(segment)
        hits: list[tuple[int, str, RiskLevel, str, OperationClass]] = []
        d, w = OperationClass.DESTRUCTIVE, OperationClass.WRITE
        if is_delta and merge:
            hits.append(
                (
                    merge.start(),
                    "delta.merge",
                    RiskLevel.MEDIUM,
                    "DeltaTable.merge inserts and updates rows",
                    w,
                )
            )
        for match in rules.DELETE_CALL.finditer(segment):
            empty = match.group(1) is not None
            if merge and match.start() > merge.start():
                hit = ("delta.merge_delete", RiskLevel.HIGH, "the merge deletes matched rows")
            elif is_delta:
                hit = (
                    (
                        "delta.delete_without_condition",
                        RiskLevel.CRITICAL,
                        "DeltaTable.delete() deletes every row",
                    )
                    if empty
                    else (
                        "delta.delete",
                        RiskLevel.HIGH,
                        "DeltaTable.delete(condition) removes rows",
                    )
                )
            elif rules.RECURSIVE_DELETE.match(segment, match.start()):
                hit = (
                    "scala.fs_delete",
                    RiskLevel.CRITICAL,
                    "a recursive delete(path, true) removes a directory tree",
                )
            else:
                hit = ("scala.file_delete", RiskLevel.HIGH, ".delete(...) deletes a file (or rows)")
            hits.append((match.start(), *hit, d))
        for match in rules.UPDATE_CALL.finditer(segment) if is_delta and not merge else ():
            if match.group(1):
                message = "DeltaTable.update(Map(...)) without a condition rewrites every row"
                hits.append(
                    (
                        match.start(),
                        "delta.update_without_condition",
                        RiskLevel.CRITICAL,
                        message,
                        d,
                    )
                )
            else:
                message = "DeltaTable.update(condition, ...) changes rows"
                hits.append((match.start(), "delta.update", RiskLevel.MEDIUM, message, w))
        return [
            self._f(rule, severity, base + at, message, HINT if op is d else "", op)
            for at, rule, severity, message, op in hits
        ]


def analyze_scala(
    code: str,
    *,
    platform: PlatformKind,
    catalog: TableCatalog,
    allowed_hosts: Sequence[str] = (),
) -> tuple[list[Finding], int]:
    """Findings for Scala ``code`` and its number of logical statements.

    ``allowed_hosts`` are the hosts network calls may reach without a finding.
    """
    return _Scala(code, platform, catalog, allowed_hosts).run()
