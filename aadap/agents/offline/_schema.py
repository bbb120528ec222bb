"""Where the offline grammar gets column names: schema hints and real file headers.

Columns are never invented. A relation's columns come from the schema hints (tables
on the target), from the file itself (DuckDB ``DESCRIBE``), or from earlier steps of
the same request. When nothing is known (no hints at all), the words of the request
are taken as column names as written.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from aadap.agents.offline._request_text import singular, snake
from aadap.agents.offline._unsupported import unsupported
from aadap.core.exceptions import DataFileIsDirectoryError, DataFileNotFoundError

FORMATS = {
    "csv": "csv",
    "tsv": "csv",
    "parquet": "parquet",
    "pq": "parquet",
    "json": "json",
    "jsonl": "json",
    "ndjson": "json",
}
READERS = {"csv": "read_csv_auto", "parquet": "read_parquet", "json": "read_json_auto"}
_DATE_TYPES = re.compile(r"^(DATE|TIMESTAMP.*|TIME WITH.*)$", re.IGNORECASE)
_NUMERIC_TYPES = re.compile(
    r"^(DECIMAL.*|DOUBLE|FLOAT|REAL|BIGINT|INTEGER|SMALLINT|HUGEINT|NUMERIC.*)$", re.IGNORECASE
)
_AMOUNT_NAMES = ("amount", "revenue", "sales", "total_amount", "net_amount", "order_total", "total")
_AMOUNT_PARTS = ("amount", "revenue", "sales", "total", "price", "value")
_DATE_NAME = re.compile(r"(?:^|_)(?:date|day|time|timestamp|ts)$|_(?:at|on)$", re.IGNORECASE)


@dataclass
class Relation:
    """The rows at some point of the pipeline: a name and what is known of its columns."""

    name: str
    columns: list[str] | None = None
    types: dict[str, str] = field(default_factory=dict)

    def describe(self) -> str:
        if self.columns is None:
            return self.name
        return f"{self.name} (columns: {', '.join(self.columns)})"


def resolve_path(token: str, working_dir: Path) -> Path:
    """An existing file: ``token`` as given, under ``working_dir``, or under its ``data/``."""
    given = Path(token).expanduser()
    candidates = [given] if given.is_absolute() else [working_dir / given]
    if not given.is_absolute() and len(given.parts) == 1:
        candidates.append(working_dir / "data" / given)
    for candidate in candidates:
        try:
            if candidate.is_file():
                return candidate.resolve()
        except OSError:  # a name the file system cannot hold (too long): no such file
            continue
    # a data error, not a request beyond the grammar: no other provider would find it either
    looked = ", ".join(str(c) for c in candidates)
    for candidate in candidates:
        if _is_dir(candidate):
            raise DataFileIsDirectoryError(
                f"the data file {token!r} is a directory ({candidate}); allowed: a CSV, Parquet "
                "or JSON file",
                details={"path": token, "resolved": str(candidate)},
            )
    raise DataFileNotFoundError(
        f"the data file {token!r} does not exist (looked for {looked}); relative paths "
        f"resolve against {working_dir} (the data root: AADAP_DATA_ROOT, by default the "
        "directory where `aadap run` or `aadap serve` was started)",
        details={"path": token, "looked": [str(c) for c in candidates]},
    )


def _is_dir(path: Path) -> bool:
    try:
        return path.is_dir()
    except OSError:  # a name the file system cannot hold
        return False


def file_format(path: Path) -> str:
    return FORMATS[path.suffix.lower().lstrip(".")]


@functools.lru_cache(maxsize=64)
def _describe(path: str, fmt: str, mtime_ns: int) -> tuple[tuple[str, str], ...]:
    del mtime_ns  # part of the cache key only: a rewritten file is described again
    query = f"DESCRIBE SELECT * FROM {READERS[fmt]}(?)"
    with duckdb.connect() as con:
        rows = con.execute(query, [path]).fetchall()
    return tuple((str(row[0]), str(row[1])) for row in rows)


def file_relation(path: Path, fmt: str) -> Relation:
    """The columns and types of a file, from its real header."""
    try:
        described = _describe(str(path), fmt, path.stat().st_mtime_ns)
    except duckdb.Error as exc:
        raise unsupported(f"the file {path.name!r} cannot be read as {fmt}: {exc}") from exc
    return Relation(path.stem, [name for name, _ in described], dict(described))


def resolve_column(word: str, relation: Relation) -> str:
    """Map a word of the request to a column of ``relation`` (or take it as written)."""
    wanted = snake(word)
    if relation.columns is None:
        if not re.fullmatch(r"[A-Za-z_]\w*", wanted):
            raise unsupported(f"{word!r} is not a usable column name")
        return wanted
    by_lower = {snake(column): column for column in relation.columns}
    stem = singular(wanted)
    for candidate in (wanted, stem, f"{wanted}_id", f"{stem}_id"):
        if candidate in by_lower:
            return by_lower[candidate]
    squashed = [c for c in relation.columns if snake(c).replace("_", "") == wanted.replace("_", "")]
    if len(squashed) == 1:
        return squashed[0]
    raise unsupported(
        f"no column matches {word!r} in {relation.describe()}", column=word, relation=relation.name
    )


def is_column(word: str, relation: Relation) -> bool:
    return relation.columns is not None and snake(word) in {snake(c) for c in relation.columns}


def pick_amount(relation: Relation, *, purpose: str) -> str:
    """The amount-like column that "revenue"/"total" refers to; it must be unambiguous."""
    if relation.columns is None:
        raise unsupported(
            f"the columns of {relation.name!r} are unknown, so {purpose!r} is ambiguous"
        )
    numeric = [c for c in relation.columns if _NUMERIC_TYPES.match(relation.types.get(c, "DOUBLE"))]
    lowered = {c.lower(): c for c in numeric}
    for name in _AMOUNT_NAMES:
        if name in lowered:
            return lowered[name]
    partial = [c for c in numeric if any(part in c.lower() for part in _AMOUNT_PARTS)]
    if len(partial) == 1:
        return partial[0]
    raise unsupported(
        f"cannot tell which column {purpose!r} means in {relation.describe()}; name it explicitly",
        relation=relation.name,
    )


def is_date(column: str, relation: Relation) -> bool:
    """Whether ``column`` holds dates: by its type when known, else by its name."""
    if relation.types:
        return bool(_DATE_TYPES.match(relation.types.get(column, "")))
    return bool(_DATE_NAME.search(snake(column)))


def pick_date(relation: Relation, subject: str) -> str:
    """The date column a time grain ("daily", "by month") refers to."""
    if relation.columns is None:
        raise unsupported(
            f"the columns of {relation.name!r} are unknown; say which date column to use"
        )
    candidates = [c for c in relation.columns if is_date(c, relation)]
    dated = [c for c in candidates if re.search(r"(?:^|_)date(?:_|$)", c.lower())] or candidates
    if len(dated) > 1:
        prefix = singular(snake(subject))
        preferred = [c for c in dated if c.lower().startswith(prefix)]
        dated = preferred or dated
    if len(dated) == 1:
        return dated[0]
    found = ", ".join(dated) if dated else "none"
    raise unsupported(
        f"cannot tell which date column to use in {relation.describe()} (candidates: {found});"
        " say e.g. 'by month of <column>'",
        relation=relation.name,
    )


_KEY_NAME = re.compile(r"(?:^|_)id$|^id_", re.IGNORECASE)
_TEXT_NAME = re.compile(
    r"(?:^|_)(?:name|title|status|country|tier|genre|author|member|email|city|region|category|"
    r"type|kind|description|segment|code|label|comment|notes?|url|phone|address|currency|"
    r"language|brand|channel|source|gender|owner|username|sku|store|shop|branch|product|"
    r"customer|client|vendor|supplier|company|department|warehouse|location|site)$",
    re.IGNORECASE,
)
_FLAG_NAME = re.compile(
    r"^(?:is|has|was|can)_|_flag$|^(?:active|enabled|deleted|valid|returned|shipped|paid|verified|"
    r"archived|cancell?ed|completed|approved|refunded|visible|published)$"
)
_MONEY_NAME = re.compile(
    r"amount|price|total|value|revenue|cost|fee|spend|sales|income|salary|balance|paid|payment",
    re.IGNORECASE,
)


def measure_candidates(relation: Relation, *, money: bool) -> list[str]:
    """The columns a bare number ("orders above 250") may be compared with.

    With known types, the numeric columns; otherwise every column that is not a key, a
    date, a flag or a text attribute by its name (so an unknown column stays a candidate
    and makes the phrase ambiguous rather than silently ignored). ``money`` ("$250",
    "250 euros") keeps the money-like names.
    """
    if relation.columns is None:
        raise unsupported(
            f"the columns of {relation.name!r} are unknown, so a bare number has no column;"
            " name it (e.g. 'amount > 250')"
        )
    out = []
    for column in relation.columns:
        name = snake(column)
        if _KEY_NAME.search(name) or is_date(column, relation) or _DATE_NAME.search(name):
            continue
        if relation.types:
            if not _NUMERIC_TYPES.match(relation.types.get(column, "")):
                continue
        elif _TEXT_NAME.search(name) or _FLAG_NAME.search(name):
            continue
        if money and not _MONEY_NAME.search(name):
            continue
        out.append(column)
    return out
