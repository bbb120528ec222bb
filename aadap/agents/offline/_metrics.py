"""Aggregate clauses: "daily revenue by region", "count of orders per status", …

Metrics: revenue/sales/total (the sum of the amount-like column), sum/total of X,
average/avg/mean X, min/max X, count/number of X (rows), count of distinct X.
Groupings follow "by", "per", "for each", "grouped by", "broken down by"; a time grain
comes from "daily/weekly/monthly/quarterly/yearly/hourly" or "by day/week/month/…",
on an explicit column ("by month of order_date", "… using order_date") or the one
date column of the input.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from aadap.agents.offline._draft import Draft
from aadap.agents.offline._request_text import safe_name, singular, snake, split_list
from aadap.agents.offline._schema import (
    Relation,
    is_column,
    is_date,
    pick_amount,
    pick_date,
    resolve_column,
)
from aadap.agents.offline._unsupported import unsupported
from aadap.agents.schemas import AggregateOp, Aggregation, TimeGrain
from aadap.core.exceptions import LLMUnsupportedRequestError

GRAIN_ADJECTIVES: dict[str, TimeGrain] = {
    "hourly": "hour", "daily": "day", "weekly": "week", "monthly": "month",
    "quarterly": "quarter", "yearly": "year", "annual": "year", "annually": "year",
}  # fmt: skip
GRAIN_NOUNS: dict[str, TimeGrain] = {
    "hour": "hour", "day": "day", "date": "day", "week": "week", "month": "month",
    "quarter": "quarter", "year": "year",
}  # fmt: skip
_MONEY = ("revenue", "sales", "turnover", "income")
_AMOUNTISH = re.compile(r"(?:value|amount|price|revenue|spend|sales|total)$")
_FUNCS: list[tuple[str, str]] = [
    (r"(?:total|sum)(?:\s+of)?", "sum"),
    (r"(?:average|avg|mean)(?:\s+of)?", "avg"),
    (r"(?:min|minimum|lowest|smallest|earliest)(?:\s+of)?", "min"),
    (r"(?:max|maximum|highest|largest|biggest|latest)(?:\s+of)?", "max"),
]
_ALIAS_PREFIX = {"sum": "total", "avg": "avg", "min": "min", "max": "max"}


@dataclass
class Grouping:
    columns: list[str]
    grain: TimeGrain | None
    time_column: str | None


def parse_metrics(
    text: str, draft: Draft, relation: Relation
) -> tuple[list[Aggregation], TimeGrain | None]:
    """The aggregations in ``text`` and the time grain an adjective ("daily") gave."""
    words = text.strip()
    grain: TimeGrain | None = None
    adjective = re.match(r"^(\w+)\s+", words)
    if adjective and adjective.group(1).lower() in GRAIN_ADJECTIVES:
        grain = GRAIN_ADJECTIVES[adjective.group(1).lower()]
        words = words[adjective.end() :]
    aggregations: list[Aggregation] = []
    for phrase in split_list(words):
        aggregation = parse_metric(phrase, draft, relation)
        aliases = {a.alias for a in aggregations}
        alias, n = aggregation.alias, 2
        while alias in aliases:
            alias, n = f"{aggregation.alias}_{n}", n + 1
        aggregations.append(aggregation.model_copy(update={"alias": alias}))
    if not aggregations:
        raise unsupported(f"no measure found in {draft.masked.unmask(text)!r}")
    return aggregations, grain


def parse_metric(phrase: str, draft: Draft, relation: Relation) -> Aggregation:
    text = re.sub(r"^(?:the|a|an)\s+", "", draft.masked.unmask(phrase).strip(), flags=re.I)
    lowered = text.lower()
    money = re.fullmatch(r"(?:total\s+|overall\s+|gross\s+)?(" + "|".join(_MONEY) + r")", lowered)
    if money:
        column = pick_amount(relation, purpose=money.group(1))
        return Aggregation(function="sum", column=column, alias=money.group(1))
    if lowered in ("total", "sum", "totals"):
        return Aggregation(
            function="sum", column=pick_amount(relation, purpose=lowered), alias="total"
        )
    if re.fullmatch(r"count|counts|row\s+count|number\s+of\s+(?:rows|records)|how\s+many", lowered):
        return Aggregation(function="count", alias="row_count")
    distinct = re.fullmatch(
        r"(?:(?:count|number|total\s+number)(?:\s+of)?\s+(?:the\s+)?(?:distinct|unique|different)"
        r"|(?:distinct|unique)(?:\s+count\s+of)?)\s+(.+?)(?:\s+count)?",
        lowered,
    )
    if distinct:
        column = resolve_column(distinct.group(1), relation)
        return Aggregation(
            function="count_distinct", column=column, alias=f"unique_{safe_name(distinct.group(1))}"
        )
    counted = re.fullmatch(
        r"(?:(?:count|number|total\s+number|no\.)\s+of\s+|count\s+)(.+)|(.+?)\s+counts?", lowered
    )
    if counted:
        noun = (counted.group(1) or counted.group(2)).strip()
        if is_column(noun, relation):
            column = resolve_column(noun, relation)
            return Aggregation(function="count", column=column, alias=f"{column.lower()}_count")
        return Aggregation(function="count", alias=f"{safe_name(singular(noun))}_count")
    for pattern, function in _FUNCS:
        match = re.fullmatch(rf"{pattern}\s+(.+)", lowered) or re.fullmatch(
            rf"(.+?)\s+{pattern}", lowered
        )
        if match:
            column = _measure(match.group(1), relation)
            alias = f"{_ALIAS_PREFIX[function]}_{safe_name(match.group(1))}"
            return Aggregation.model_validate(
                {"function": function, "column": column, "alias": alias}
            )
    raise unsupported(f"cannot read the measure {text!r}")


def _measure(words: str, relation: Relation) -> str:
    words = re.sub(r"^number\s+of\s+", "", words)  # "mean number of pages"
    if words in _MONEY:
        return pick_amount(relation, purpose=words)
    try:
        column = resolve_column(words, relation)
    except LLMUnsupportedRequestError:
        if _AMOUNTISH.search(snake(words)) and relation.columns is not None:
            return pick_amount(relation, purpose=words)
        raise
    if snake(column) != snake(words) and re.search(r"(?:^|_)id$", snake(column)):
        # "total of purchases" is not the sum of purchase_id: a key is no measure
        raise unsupported(f"{words!r} is not a measure (it would be the key {column})")
    return column


def parse_grouping(text: str, draft: Draft, relation: Relation) -> Grouping:
    """Group-by columns plus an optional time grain ("region and month of order_date").

    The time column stays ``None`` unless the text names it; :func:`finish_grouping`
    picks the input's date column when a grain needs one.
    """
    columns: list[str] = []
    grain: TimeGrain | None = None
    time_column: str | None = None
    for part in split_list(draft.masked.unmask(text)):
        word = re.sub(r"^(?:the|each|every)\s+", "", part.strip(), flags=re.I).lower()
        of_column = re.fullmatch(r"(hour|day|date|week|month|quarter|year)\s+of\s+(.+)", word)
        if of_column:
            grain = GRAIN_NOUNS[of_column.group(1)]
            time_column = resolve_column(of_column.group(2), relation)
        elif word in GRAIN_NOUNS and not is_column(word, relation):
            grain = GRAIN_NOUNS[word]
        elif word in GRAIN_ADJECTIVES:
            grain = GRAIN_ADJECTIVES[word]
        else:
            columns.append(resolve_column(draft.word(part), relation))
    return Grouping(columns, grain, time_column)


def finish_grouping(
    grouping: Grouping, relation: Relation, *, grain: TimeGrain | None, time_column: str | None
) -> Grouping:
    """Apply a grain adjective and an explicit time column; pick the date column if needed."""
    chosen_grain = grouping.grain or grain
    column = time_column or grouping.time_column
    if chosen_grain is None:
        if column is not None:
            raise unsupported(
                f"a time column ({column}) was given without a grain (daily, by month…)"
            )
        return grouping
    if column is None:
        dated = [c for c in grouping.columns if is_date(c, relation)]
        column = dated[0] if len(dated) == 1 else pick_date(relation, relation.name)
    # "daily revenue by order date": the date column is bucketed, not grouped as is
    columns = [c for c in grouping.columns if c != column]
    return Grouping(columns, chosen_grain, column)


def aggregate_op(
    aggregations: list[Aggregation], grouping: Grouping
) -> tuple[AggregateOp, list[str]]:
    """The operation and the columns it outputs."""
    op = AggregateOp(
        group_by=grouping.columns,
        time_column=grouping.time_column,
        time_grain=grouping.grain,
        aggregations=aggregations,
    )
    return op, output_columns(op)


def output_columns(op: AggregateOp) -> list[str]:
    columns = (
        [time_alias(op.time_column, op.time_grain)] if op.time_column and op.time_grain else []
    )
    return columns + list(op.group_by) + [a.alias for a in op.aggregations]


def time_alias(column: str, grain: str) -> str:
    """``order_date`` by month → ``order_month``; ``date`` by day → ``day``."""
    stem = re.sub(r"(?:^|_)(?:date|day|time|timestamp|ts|at|on)$", "", safe_name(column))
    return f"{stem}_{grain}" if stem else grain
