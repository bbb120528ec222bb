"""Whole-request commands: run a given SQL statement, list tables, preview, profile."""

from __future__ import annotations

import re

from aadap.agents.offline._conditions import IMPLIED_LEAD, IMPLIED_OPS, parse_conditions
from aadap.agents.offline._draft import Draft
from aadap.agents.offline._request_text import IDENT, PATH
from aadap.agents.offline._unsupported import unsupported
from aadap.agents.schemas import FilterOp, Requirement

_I = re.IGNORECASE
_SUBJ = rf"(?:{PATH}|{IDENT})"

_RUN = re.compile(
    r"^\s*(?:please\s+)?(?:can\s+you\s+)?(?:run|execute|exec)"
    r"(?:\s+(?:this|the\s+following|following|the|my|a|an))?"
    r"(?:\s+(?:duckdb\s+|raw\s+)?(?:sql|query|statement|command)){0,2}\s*(?:[:\-\u2013]\s*)?"
    r"(?P<sql>.+?)\s*$",
    _I | re.DOTALL,
)
_SQL_START = re.compile(
    r"^(?:select|with|create|insert|update|delete|drop|alter|show|describe|summarize|copy|pragma|"
    r"explain|values|from|table|call|set|merge|truncate|attach|detach|use|install|export)\b",
    _I,
)
_FENCED = re.compile(r"^```[\w-]*\s*\n?(?P<body>.*?)\n?```$", re.DOTALL)

_DB = r"(?:the\s+|my\s+|our\s+)?(?:database|catalog|warehouse|db|duckdb)"
_LIST = re.compile(
    r"^(?:(?:list|show|display|get|enumerate|print)\s+(?:me\s+)?(?:all\s+)?(?:of\s+)?(?:the\s+|my\s+"
    r"|our\s+)?(?:available\s+|existing\s+|current\s+)?tables(?:\s+(?:that\s+exist|available|"
    rf"there\s+are|in\s+{_DB}))?|(?:what|which)\s+tables\s+"
    r"(?:are\s+there|exist|do\s+(?:we|i)\s+have|are\s+available|are\s+in\s+(?:the\s+)?"
    rf"(?:database|db|warehouse))(?:\s+in\s+{_DB})?|tables|(?:what|which)(?:'s|\s+is)\s+"
    rf"(?:there\s+)?in\s+{_DB})$",
    _I,
)
_PROFILE = re.compile(
    r"^(?:profile|summari[sz]e|describe|analy[sz]e|(?:describe\s+|get\s+|show\s+(?:me\s+)?"
    r"|give\s+me\s+|compute\s+|generate\s+|produce\s+)?(?:the\s+)?"
    r"(?:summary\s+|column\s+|basic\s+)?"
    r"(?:stats|statistics|profile|summary)(?:\s+(?:for|of|on|about))?|data\s+profile\s+(?:of|for))"
    r"\s+(?:the\s+)?(?:table\s+|file\s+|data\s+(?:in|from)\s+)?"
    rf"(?P<subject>{_SUBJ})(?:\s+table)?$",
    _I,
)
_NUMBERS = {
    "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8,
    "nine": 9, "ten": 10, "twenty": 20, "fifty": 50, "hundred": 100, "a hundred": 100,
}  # fmt: skip
_N = r"(?P<n>\d+|" + "|".join(sorted(_NUMBERS, key=len, reverse=True)) + r")"
_PREVIEW = re.compile(
    r"^(?:(?:preview|peek(?:\s+(?:at|into))?|show(?:\s+me)?|display|look\s+at|sample|head|print|"
    r"give\s+me|fetch|get)\s+)?(?:the\s+)?(?:(?:first|top)\s+)?(?:" + _N + r"\s+)?"
    r"(?:(?:sample\s+)?(?:rows|records|lines|entries)\s+)?(?:(?:of|from|in)\s+)?(?:the\s+)?"
    rf"(?:table\s+|file\s+)?(?P<subject>{_SUBJ})(?:\s+table)?"
    rf"(?:\s+(?:where|with|whose)\s+(?P<conds>.+)|\s+(?P<implied>{IMPLIED_LEAD}(?:{IMPLIED_OPS})\s+.+))?$",
    _I,
)
_PREVIEW_VERB = re.compile(
    r"^(?:preview|peek|show|display|look|sample|head|print|give|fetch|get|first|top)\b", _I
)
DEFAULT_PREVIEW_ROWS = 10


def run_sql(raw: str) -> Requirement | None:
    match = _RUN.match(raw.strip())
    if match is None:
        return None
    sql = match["sql"].strip()
    fenced = _FENCED.match(sql)
    if fenced:
        sql = fenced["body"].strip()
    elif len(sql) > 1 and sql[0] == sql[-1] and sql[0] in "`\"'":
        sql = sql[1:-1].strip()
    if not _SQL_START.match(sql):
        return None
    return Requirement(
        intent="run_sql",
        summary="Run the given SQL statement as written.",
        sql=sql,
        assumptions=["The statement is run exactly as given; it is not rewritten."],
    )


def list_tables(text: str) -> Requirement | None:
    if not _LIST.match(text):
        return None
    return Requirement(intent="list_tables", summary="List the tables on the target.")


def profile(text: str, draft: Draft) -> Requirement | None:
    match = _PROFILE.match(text)
    if match is None:
        return None
    relation = draft.subject(match["subject"])
    return Requirement(
        intent="profile",
        summary=f"Profile {relation.name}: per-column statistics (DuckDB SUMMARIZE).",
        sources=draft.sources,
    )


def preview(text: str, draft: Draft) -> Requirement | None:
    match = _PREVIEW.match(text)
    if match is None or not _PREVIEW_VERB.match(text):
        return None
    relation = draft.subject(match["subject"])
    n = match["n"]
    limit = DEFAULT_PREVIEW_ROWS if n is None else _NUMBERS.get(n.lower()) or int(n)
    operations = []
    conditions = match["conds"] or match["implied"]
    if conditions:
        operations.append(FilterOp(conditions=parse_conditions(conditions, draft, relation)))
    if limit > 100_000:
        raise unsupported("a preview shows at most 100000 rows")
    return Requirement(
        intent="preview",
        summary=f"Show the first {limit} rows of {relation.name}.",
        sources=draft.sources,
        operations=operations,
        limit=limit,
    )
