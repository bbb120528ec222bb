"""Semi-joins: the rows of A whose key appears in the rows of B that match a condition.

"purchases whose client_id appears in clients with tier gold", "the loans of books whose
genre is fiction", "purchases where the client's country is FR". The agent contracts
have no semi-join, so it is written as an inner join with B followed by a filter on B's
columns. That keeps each row of A at most once only when the key identifies one row of
B, which is accepted when B's key is B's own identifier by name (``id`` or
``<B singular>_id``); otherwise the request is refused, as rows would repeat.

Count comparisons ("customers with more than 3 orders") are their relative: B is counted
per key, the counts are filtered, and A is joined to the counts (one row per key).
"""

from __future__ import annotations

import re

from aadap.agents.offline._conditions import IMPLIED_OPS, implied_operator, parse_conditions
from aadap.agents.offline._draft import Draft
from aadap.agents.offline._join import inferred_keys, projection
from aadap.agents.offline._request_text import IDENT, PATH, safe_name, singular
from aadap.agents.offline._schema import Relation, is_column, resolve_column
from aadap.agents.offline._unsupported import unsupported
from aadap.agents.schemas import AggregateOp, Aggregation, Condition, FilterOp, JoinKey, JoinOp

_I = re.IGNORECASE
_SUBJ = rf"(?:{PATH}|{IDENT})"
_VERB = (
    r"(?:(?:keep|select|filter|only|take|retain|get|find|return|extract)\s+(?:only\s+)?)?"
    r"(?:all\s+)?(?:the\s+)?(?:(?:rows|records)\s+(?:of|from|in)\s+(?:the\s+)?)?"
)
_COND = r"\s+(?:with|where|whose|having|that\s+have|which\s+have)\s+(?P<conds>.+)$"
_BY_KEY = re.compile(
    rf"^{_VERB}(?P<a>{_SUBJ})(?:\s+table)?\s+(?:(?:to\s+)?(?:only\s+)?(?:those|the\s+ones|the\s+rows"
    r"|rows)\s+)?(?:whose\s+|where\s+(?:the\s+|its\s+|their\s+)?|with\s+(?:a\s+)?)(?P<key>\w+)\s+"
    r"(?:appears?|is|are|exists?|occurs?|shows\s+up)\s+(?:in|among)\s+(?:the\s+)?"
    rf"(?P<b>{_SUBJ})(?:\s+table)?{_COND}",
    _I,
)
_OF = re.compile(
    rf"^{_VERB}(?P<a>{IDENT})\s+(?:of|from|for|by|made\s+by|placed\s+by|belonging\s+to)\s+"
    rf"(?:the\s+)?(?P<b>{IDENT}){_COND}",
    _I,
)
_POSSESSIVE = re.compile(
    rf"^{_VERB}(?P<a>{IDENT})\s+(?:where|whose|with)\s+(?:the\s+|their\s+|its\s+)?(?P<b>\w+)'s?\s+"
    r"(?P<conds>.+)$",
    _I,
)


_COUNTED = re.compile(
    rf"^{_VERB}(?P<a>{IDENT})\s+(?:with|having|that\s+have|which\s+have|who\s+have|who\s+placed|"
    rf"who\s+made|that\s+placed|that\s+made)\s+(?P<op>{IMPLIED_OPS})\s+(?P<n>\d+)\s+"
    rf"(?P<b>{IDENT})$",
    _I,
)


def parse_counted(clause: str, draft: Draft) -> bool:
    """ "customers with more than 3 orders": count B per key, keep the counts that pass,
    then join A (each row of A once, as the counts are one row per key)."""
    match = _COUNTED.match(clause)
    if match is None or draft.current is not None:
        return False
    counted, kept = draft.table_named_by(match["b"]), draft.table_named_by(match["a"])
    if counted is None or counted == kept:
        return False
    rows = draft.subject(counted)
    alias = f"{safe_name(singular(counted))}_count"
    if kept is None:  # "members with more than 2 loans": member is a column of loans
        if rows.columns is None or not is_column(singular(draft.word(match["a"])), rows):
            return False
        column = resolve_column(singular(draft.word(match["a"])), rows)
        _counts(draft, rows, column, alias, match)
        draft.default_target = f"{safe_name(column)}_{alias}s"
        return True
    other = draft.hinted(kept)
    if other is None or rows.columns is None or not other[1]:
        raise unsupported(f"the columns of {counted!r} or {kept!r} are unknown")
    keys = inferred_keys(rows, Relation(other[0], other[1]))
    key = keys[0].left
    _counts(draft, rows, key, alias, match)
    right = draft.add_source(kept)
    draft.default_target = f"{right.name}_by_{alias}"
    join = JoinOp(right=right.name, on=[JoinKey(left=key, right=keys[0].right)], how="inner")
    columns = [name for _, _, name in projection([key, alias], right.columns or [], join)]
    draft.add("join", join, Relation(right.name, columns))
    draft.assumptions.append(
        f"{counted} rows are counted per {key}; the result has one row per matching row of"
        f" {right.name}, with the count ({alias}) first."
    )
    return True


def _counts(draft: Draft, rows: Relation, key: str, alias: str, match: re.Match[str]) -> None:
    """Count the rows per ``key`` and keep the counts the comparison accepts."""
    aggregate = AggregateOp(
        group_by=[key], aggregations=[Aggregation(function="count", alias=alias)]
    )
    draft.add("aggregate", aggregate, Relation(rows.name, [key, alias]))
    value = int(match["n"])
    condition = Condition(column=alias, op=implied_operator(match["op"]), value=value)
    draft.add("filter", FilterOp(conditions=[condition]), Relation(rows.name, [key, alias]))


def parse_semijoin(clause: str, draft: Draft) -> bool:
    match = _BY_KEY.match(clause) or _OF.match(clause) or _POSSESSIVE.match(clause)
    if match is None:
        return False
    right_name = draft.table_named_by(match["b"])
    if right_name is None and not draft.is_file_token(match["b"]):
        return False
    if not draft.other_table(match["a"], match["b"]) and not draft.is_file_token(match["b"]):
        return False
    left = draft.subject(match["a"])
    right = draft.add_source(right_name or match["b"])
    if left.columns is None or right.columns is None:
        raise unsupported(f"the columns of {left.name!r} or {right.name!r} are unknown")
    key = match.groupdict().get("key")
    keys = (
        [JoinKey(left=resolve_column(key, left), right=resolve_column(key, right))]
        if key
        else inferred_keys(left, right)
    )
    _check_identifies(keys, right, draft.masked.unmask(match["conds"]))
    join = JoinOp(right=right.name, on=keys, how="inner")
    projected = projection(left.columns, right.columns, join)
    renamed = {column: name for side, column, name in projected if side == "r"}
    conditions = [
        Condition.model_validate({**c.model_dump(), "column": renamed.get(c.column, c.column)})
        for c in parse_conditions(match["conds"], draft, right)
    ]
    key_names = ", ".join(k.right for k in keys)
    draft.assumptions.append(
        f"{key_names} identifies one row of {right.name}, so each row of {left.name} is kept at"
        f" most once; the result also carries the columns of {right.name}."
    )
    columns = [name for _, _, name in projected]
    draft.add("join", join, Relation(left.name, columns))
    draft.add("filter", FilterOp(conditions=conditions), Relation(left.name, columns))
    return True


def _check_identifies(keys: list[JoinKey], right: Relation, conditions: str) -> None:
    own = {"id", f"{safe_name(singular(right.name))}_id"}
    if len(keys) != 1 or keys[0].right.lower() not in own:
        key = ", ".join(k.right for k in keys)
        raise unsupported(
            f"{key} does not identify one row of {right.name} (its identifier would be"
            f" {' or '.join(sorted(own))}), so keeping rows by a match there would repeat them",
            phrase=f"{key} … in {right.name}",
            suggestions=[f"keep {right.name} where {conditions}"],
        )
