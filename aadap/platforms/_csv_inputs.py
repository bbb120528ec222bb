"""The files a local SQL script names, and the check that its CSV inputs read correctly.

DuckDB's CSV sniffer never gives up: when the lines of a file do not split into the
same number of fields it falls back to a dialect that loads each line as one VARCHAR
value, or skips the leading lines that disagree with the last ones; an unbalanced
quote is read as a literal character; an empty file becomes a table of one column
``column0``. Strict reading options do not help, because the sniffed dialect is the
broken one. So the sniffer's answer is checked before the script runs, and a file
whose answer shows one of those fallbacks is refused with :class:`InvalidDataError`.

The check reads the file as ``read_csv_auto`` would (the offline generator's reader):
options written in the script (``delim``, ``skip``, ...) are not taken into account.
Only rows in the sniffer's sample are judged here; a bad row further down a large file
makes DuckDB's strict reader fail at run time, which the caller reports the same way.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from pathlib import Path

import duckdb

from aadap.core.exceptions import InvalidDataError

CSV_SUFFIXES = (".csv", ".tsv")
_SAMPLE_BYTES = 64 * 1024
_DELIMITERS = ",;\t|"
_QUOTED = re.compile(r'"[^"]*"')
_GLOB = re.compile(r"[*?\[]")


def string_literals(sql: str) -> list[str]:
    """The values of the SQL string constants in ``sql`` (DuckDB's tokenizer finds them,
    so quotes inside comments or identifiers do not count)."""
    values = []
    for start, kind in duckdb.tokenize(sql):
        if kind != duckdb.token_type.string_const or sql[start] != "'":
            continue
        end = start + 1
        while True:  # '' inside a literal is an escaped quote
            end = sql.find("'", end)
            if end == -1 or sql[end + 1 : end + 2] != "'":
                break
            end += 2
        if end != -1:
            values.append(sql[start + 1 : end].replace("''", "'"))
    return values


def named_files(sql: str) -> list[Path]:
    """The existing files the script names literally, as absolute paths (``..`` removed,
    symbolic links kept: DuckDB checks a path as written; globs are expanded)."""
    found: dict[Path, None] = {}
    for value in string_literals(sql):
        if not value or "\n" in value or "://" in value:
            continue
        path = Path(value).expanduser()
        if _GLOB.search(value):
            anchor = Path(path.anchor or ".")
            pattern = str(path.relative_to(path.anchor)) if path.anchor else value
            candidates = sorted(anchor.glob(pattern))[:1000]
        else:
            candidates = [path]
        for candidate in candidates:
            if candidate.is_file():
                found[Path(os.path.abspath(candidate))] = None
    return list(found)


def csv_problem(path: Path) -> str | None:
    """Why DuckDB would not read ``path`` correctly as a CSV file, or None if it would."""
    with path.open("rb") as handle:
        sample = handle.read(_SAMPLE_BYTES)
    if len(sample) < _SAMPLE_BYTES and not sample.removeprefix(b"\xef\xbb\xbf").strip():
        return "the file is empty: it has no header line and no rows"
    try:
        with duckdb.connect() as con:
            found = con.execute(
                "SELECT Delimiter, Quote, SkipRows, len(Columns) FROM sniff_csv(?)", [str(path)]
            ).fetchone()
    except duckdb.Error as exc:
        return f"DuckDB cannot read it as CSV: {str(exc).splitlines()[0]}"
    assert found is not None  # sniff_csv returns one row
    delimiter, quote, skipped, columns = found
    lines = sample.decode("utf-8", "replace").splitlines()
    first = lines[0] if lines else ""
    if skipped:
        return (
            f"its first {skipped} line(s) do not have the same number of fields as the "
            "lines after them (a ragged file); DuckDB would drop them"
        )
    if columns == 1 and any(d in _QUOTED.sub("", first) for d in _DELIMITERS):
        return (
            "its lines do not split into the same number of fields on any delimiter "
            f"(a ragged file); the first line is {first[:80]!r}"
        )
    if quote == "(empty)" and re.search(
        rf'(?:^|{re.escape(delimiter)})"', "\n".join(lines), re.MULTILINE
    ):
        return "a field opens a double quote that is not closed where the field ends"
    return None


def check_csv_inputs(files: Iterable[str | Path]) -> None:
    """Raise :class:`InvalidDataError` for the first CSV file of ``files`` (those a
    script names) that would not be read correctly."""
    for name in files:
        path = Path(name)
        if not path.name.lower().endswith(CSV_SUFFIXES):
            continue
        problem = csv_problem(path)
        if problem is not None:
            raise InvalidDataError(
                f"refusing to load {path}: {problem}. Fix the file (every line with the "
                "same fields, quotes closed) and run the request again",
                details={"field": "data_file", "value": str(path), "problem": problem},
            )


__all__ = ["CSV_SUFFIXES", "check_csv_inputs", "csv_problem", "named_files", "string_literals"]
