"""Joins: "join A with B on key", "left join with B using a = b", "enrich A with B".

Without explicit keys the key is inferred from the schemas: the one shared ``*_id``
column (or the one shared column), else ``<singular of B>_id`` on A against ``id`` on
B. Anything else is ambiguous and refused. The output keeps every column of A and
adds B's columns, dropping B's copy of a same-named key and prefixing name clashes
with B's name, so the result never has duplicate column names.
"""

from __future__ import annotations

import re

from aadap.agents.offline._draft import Draft
from aadap.agents.offline._request_text import IDENT, PATH, safe_name, singular, split_list
from aadap.agents.offline._schema import Relation, resolve_column
from aadap.agents.offline._unsupported import unsupported
from aadap.agents.schemas import JoinKey, JoinOp

_SUBJ = rf"(?:{PATH}|{IDENT})"
_KEYS = (
    r"(?:\s+(?:on|using|by|via|over|matching)\s+(?:the\s+)?(?:keys?\s+|columns?\s+)?(?P<keys>.+))?"
)
_JOIN = re.compile(
    r"^(?:(?P<how>inner|left|right|full)\s+(?:outer\s+)?)?(?:join|merge|combine)\s+(?:the\s+)?"
    rf"(?:(?P<left>{_SUBJ})\s+)?(?:table\s+)?(?:with|and|to|against|onto)\s+(?:the\s+)?"
    rf"(?P<right>{_SUBJ})(?:\s+table)?{_KEYS}$",
    re.IGNORECASE,
)
_ENRICH = re.compile(
    rf"^enrich\s+(?:the\s+)?(?:(?P<left>{_SUBJ})\s+)?(?:table\s+)?with\s+(?:the\s+)?"
    rf"(?P<right>{_SUBJ})(?:\s+(?:table|data|details|info|information|attributes|columns|fields))?"
    rf"{_KEYS}$",
    re.IGNORECASE,
)

Projected = tuple[str, str, str]  # (side "l" | "r", column, output name)


def parse_join(clause: str, draft: Draft) -> bool:
    match = _JOIN.match(clause)
    how = (match["how"] or "inner").lower() if match else "left"
    match = match or _ENRICH.match(clause)
    if match is None:
        return False
    left = draft.subject(match["left"])
    right = draft.add_source(match["right"])
    keys = (
        _explicit_keys(match["keys"], draft, left, right)
        if match["keys"]
        else inferred_keys(left, right)
    )
    op = JoinOp.model_validate({"right": right.name, "on": keys, "how": how})
    columns = None
    if left.columns is not None and right.columns is not None:
        columns = [name for _, _, name in projection(left.columns, right.columns, op)]
    draft.add("join", op, Relation(f"{left.name}_with_{right.name}", columns))
    return True


def _explicit_keys(text: str, draft: Draft, left: Relation, right: Relation) -> list[JoinKey]:
    keys = []
    for part in split_list(draft.masked.unmask(text)):
        pair = re.fullmatch(r"(?:\w+\.)?(\w+)\s*=\s*(?:\w+\.)?(\w+)", part.strip())
        left_word, right_word = (pair.group(1), pair.group(2)) if pair else (part, part)
        keys.append(
            JoinKey(left=resolve_column(left_word, left), right=resolve_column(right_word, right))
        )
    return keys


def inferred_keys(left: Relation, right: Relation) -> list[JoinKey]:
    if left.columns is None or right.columns is None:
        raise unsupported(
            f"the columns of {left.name!r} or {right.name!r} are unknown; say 'on <key column>'"
        )
    right_lower = {c.lower(): c for c in right.columns}
    shared = [c for c in left.columns if c.lower() in right_lower]
    ids = [c for c in shared if c.lower().endswith("_id") or c.lower() == "id"]
    for candidates in (ids, shared):
        if len(candidates) == 1:
            return [JoinKey(left=candidates[0], right=right_lower[candidates[0].lower()])]
        if len(candidates) > 1:
            break
    foreign = f"{safe_name(singular(right.name))}_id"
    left_lower = {c.lower(): c for c in left.columns}
    if not shared and foreign in left_lower and "id" in right_lower:
        return [JoinKey(left=left_lower[foreign], right=right_lower["id"])]
    raise unsupported(
        f"cannot tell how to join {left.name!r} with {right.name!r}"
        f" (shared columns: {', '.join(shared) or 'none'}); say 'on <key column>'"
    )


def projection(left: list[str], right: list[str], op: JoinOp) -> list[Projected]:
    """The output columns of a join: all of the left, then the right's non-duplicates."""
    same_keys = {k.right.lower() for k in op.on if k.left.lower() == k.right.lower()}
    taken = {c.lower() for c in left}
    out: list[Projected] = [("l", c, c) for c in left]
    for column in right:
        if column.lower() in same_keys:
            continue
        name = column if column.lower() not in taken else f"{op.right}_{column}"
        n = 2
        while name.lower() in taken:
            name, n = f"{op.right}_{column}_{n}", n + 1
        taken.add(name.lower())
        out.append(("r", column, name))
    return out
