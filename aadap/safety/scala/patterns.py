"""Fixed Scala patterns, matched on code whose comments and string contents are masked.

These are deliberately conservative regular expressions, not a parser: they can
over-report (a ``.delete()`` that is not a file delete) and they can be evaded by
indirection the patterns do not know. That is why every Scala analysis carries the
``scala.pattern_only`` note; see :mod:`aadap.safety.scala`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from aadap.core.enums import OperationClass, RiskLevel

_D = OperationClass.DESTRUCTIVE
_SHELL_HINT = "Do not run programs from Spark jobs; use the platform's APIs."
_DELETE_HINT = "Delete only paths this task created, and ask for approval."


@dataclass(frozen=True, slots=True)
class Pattern:
    rule: str
    severity: RiskLevel
    regex: re.Pattern[str]
    message: str
    hint: str
    operation: OperationClass | None = _D
    unverified: bool = False


PATTERNS: tuple[Pattern, ...] = (
    Pattern(
        "scala.fs_rm",
        RiskLevel.CRITICAL,
        re.compile(r"\b(?:dbutils|mssparkutils|notebookutils)\s*\.\s*fs\s*\.\s*rm\s*\("),
        "fs.rm deletes files in the lakehouse/DBFS",
        _DELETE_HINT,
    ),
    Pattern(
        "scala.shell",
        RiskLevel.CRITICAL,
        re.compile(r"\bRuntime\s*\.\s*getRuntime\b[^;\n]{0,40}?\.\s*exec\s*\("),
        "Runtime.exec runs a program (arbitrary code: classified destructive)",
        _SHELL_HINT,
    ),
    Pattern(
        "scala.shell",
        RiskLevel.CRITICAL,
        re.compile(r"\bProcessBuilder\b|\b(?:scala\s*\.\s*)?sys\s*\.\s*process\b|\bProcess\s*\("),
        "sys.process / ProcessBuilder runs a program (arbitrary code: classified destructive)",
        _SHELL_HINT,
    ),
    Pattern(
        "scala.shell",
        RiskLevel.CRITICAL,
        re.compile(r"\.\s*!{1,2}(?![=\w])|\"\s+!{1,2}(?![=\w])"),
        "the ! / !! operator runs a shell command (arbitrary code: classified destructive)",
        _SHELL_HINT,
    ),
    Pattern(
        "scala.file_delete",
        RiskLevel.CRITICAL,
        re.compile(r"\bFileUtils\s*\.\s*(?:deleteDirectory|forceDelete|cleanDirectory)\s*\("),
        "FileUtils deletes a directory tree",
        _DELETE_HINT,
    ),
    Pattern(
        "scala.file_delete",
        RiskLevel.HIGH,
        re.compile(r"\bFiles\s*\.\s*(?:delete|deleteIfExists)\s*\("),
        "Files.delete deletes a file",
        _DELETE_HINT,
    ),
    Pattern(
        "delta.vacuum",
        RiskLevel.HIGH,
        re.compile(r"\.\s*vacuum\s*\("),
        "vacuum() permanently removes old data files",
        "Keep the default retention; vacuum from a maintenance job.",
    ),
    Pattern(
        "delta.restore",
        RiskLevel.HIGH,
        re.compile(r"\.\s*restoreTo(?:Version|Timestamp)\s*\("),
        "restoreTo... discards later changes to the table",
        "Restore into a clone first and compare.",
    ),
    Pattern(
        "scala.reflection",
        RiskLevel.HIGH,
        re.compile(
            r"\bClass\s*\.\s*forName\s*\(|\.\s*getDeclaredMethod\s*\(|\.\s*getMethod\s*\(|\.\s*invoke\s*\(|\bToolBox\b"
        ),
        "reflection calls code chosen at run time (arbitrary code: classified destructive)",
        "Call the code directly so it can be checked.",
        _D,
        True,
    ),
    Pattern(
        "scala.unsafe_deserialisation",
        RiskLevel.HIGH,
        re.compile(r"\bObjectInputStream\b"),
        "Java deserialisation can execute code while loading",
        "Read data in a safe format (Parquet, JSON).",
        None,
    ),
    Pattern(
        "scala.notebook_run",
        RiskLevel.MEDIUM,
        re.compile(r"\b(?:dbutils|mssparkutils|notebookutils)\s*\.\s*notebook\s*\.\s*run\s*\("),
        "runs another notebook whose code is not checked here",
        "Inline the code, or check the other notebook too.",
        None,
        True,
    ),
)

DELETE_CALL = re.compile(r"\.\s*delete\s*\(\s*(\))?")
RECURSIVE_DELETE = re.compile(
    r"\.\s*delete\s*\((?:[^()\n]|\([^()\n]{0,200}\)){0,200}?,\s*true\s*\)"
)
MERGE_CALL = re.compile(r"\.\s*merge\s*\(")
UPDATE_CALL = re.compile(r"\.\s*update(?:Expr)?\s*\(\s*(Map\s*\()?")
DELTA_VAL = re.compile(
    r"\b(?:val|var)\s+(\w+)\s*(?::\s*DeltaTable\s*)?=\s*(?:io\.delta\.tables\.)?DeltaTable\s*\."
)
SQL_CALL = re.compile(r"(?<!def )(?:\.\s*|\b)sql\s*\(\s*")
MODE_CALL = re.compile(r"\.\s*mode\s*\(\s*")
WRITER = re.compile(r"\.\s*write(?:Stream)?\b")
WRITE_TO = re.compile(r"\.\s*writeTo\s*\(\s*")
TERMINAL = re.compile(r"\.\s*(\w+)\s*\(\s*")
STRING_VAL = re.compile(r"\b(?:val|lazy\s+val|final\s+val)\s+(\w+)\s*(?::\s*String\s*)?=\s*")
SAVE_MODES = {
    "Overwrite": "overwrite",
    "Append": "append",
    "Ignore": "ignore",
    "ErrorIfExists": "errorifexists",
}
