"""Filter conditions: ``amount > 100 and status = 'shipped'`` → :class:`Condition` list.

Conditions are ANDed. Operators may be symbols (``=``, ``!=``, ``<>``, ``>``, ``>=``,
``<``, ``<=``) or words ("is", "is not", "greater than", "above", "at least",
"before", "after", "contains", "starts with", "in (…)", "is null", "between … and …").
Values are quoted strings, numbers, ``true``/``false``, or bare words (taken as text).
"""

from __future__ import annotations

import re

from aadap.agents.offline._draft import Draft
from aadap.agents.offline._request_text import snake
from aadap.agents.offline._schema import (
    Relation,
    is_column,
    is_date,
    measure_candidates,
    pick_date,
    resolve_column,
)
from aadap.agents.offline._unsupported import unsupported
from aadap.agents.schemas import Condition, Scalar
from aadap.core.exceptions import LLMUnsupportedRequestError

_NUMERIC = re.compile(r"^(DECIMAL.*|DOUBLE|FLOAT|REAL|.*INT.*|NUMERIC.*)$", re.IGNORECASE)

# (pattern, operator, value template); the longest phrases come first.
_WORD_OPS: list[tuple[str, str, str]] = [
    (r"is\s+not\s+(?:null|missing|empty|blank)", "is not null", ""),
    (r"(?:is\s+)?(?:null|missing|empty|blank)", "is null", ""),
    (r"(?:is\s+)?not\s+in", "not in", ""),
    (r"(?:is\s+)?in", "in", ""),
    (r"is\s+between|between", "between", ""),
    (r"(?:is\s+)?(?:greater|more|larger|bigger|higher)\s+than\s+or\s+equal\s+to", ">=", ""),
    (r"(?:is\s+)?(?:less|smaller|lower|fewer)\s+than\s+or\s+equal\s+to", "<=", ""),
    (r"(?:is\s+)?(?:at\s+least|no\s+less\s+than|on\s+or\s+after)", ">=", ""),
    (r"(?:is\s+)?(?:at\s+most|no\s+more\s+than|on\s+or\s+before)", "<=", ""),
    (r"(?:is\s+)?(?:greater|more|larger|bigger|higher)\s+than|(?:is\s+)?(?:above|over|after)"
     r"|exceeds|exceeding|(?:is\s+)?later\s+than", ">", ""),
    (r"(?:is\s+)?(?:less|smaller|lower|fewer)\s+than|(?:is\s+)?(?:below|under|before)"
     r"|(?:is\s+)?earlier\s+than", "<", ""),
    (r"(?:is\s+not|isn't|does\s+not\s+equal|doesn't\s+equal|(?:is\s+)?not\s+equal\s+to)", "!=", ""),
    (r"(?:is\s+equal\s+to|equal\s+to|equals|is)", "=", ""),
    (r"(?:contains|containing|includes|like)", "like", "%{}%"),
    (r"(?:starts|starting|begins|beginning)\s+with", "like", "{}%"),
    (r"(?:ends|ending)\s+with", "like", "%{}"),
]  # fmt: skip
_SYMBOL = re.compile(r"^(?P<col>.+?)\s*(?P<op>>=|<=|!=|<>|==|=|>|<)\s*(?P<val>.+)$")
_KEY = re.compile(r"(?:^|_)id$")
_NUMBER = re.compile(r"^[+-]?(?:\d+\.?\d*|\.\d+)$")
# A comparison without a column ("above 250", "more than 300 pages", "after 2024-03-01"):
# the column is implied by the unit, the value's kind or the only sensible measure.
_IMPLIED_OPS: list[tuple[str, str]] = [
    (r"at\s+least|no\s+less\s+than|(?:greater|more|larger|bigger|higher)\s+than\s+or\s+equal"
     r"\s+to|on\s+or\s+after|since", ">="),
    (r"at\s+most|no\s+more\s+than|up\s+to|(?:less|smaller|lower|fewer)\s+than\s+or\s+equal\s+to"
     r"|on\s+or\s+before|until", "<="),
    (r"(?:greater|more|larger|bigger|higher|costlier|pricier|longer)\s+than|above|over|after"
     r"|exceeding|later\s+than", ">"),
    (r"(?:less|smaller|lower|fewer|cheaper|shorter)\s+than|below|under|before|earlier\s+than", "<"),
]  # fmt: skip
IMPLIED_LEAD = (  # "worth", "of", "earning", "hired", "priced at"… before the comparison
    r"(?:(?:worth|of|priced\s+at|that\s+are|which\s+are|made|paid|sold|bought|[A-Za-z]+(?:ing|ed))"
    r"\s+)?"
)
IMPLIED_OPS = "|".join(pattern for pattern, _ in _IMPLIED_OPS)
_IMPLIED = re.compile(
    rf"^{IMPLIED_LEAD}(?P<op>{IMPLIED_OPS})\s+(?P<cur>[$€£])?\s*"
    r"(?P<val>\d{4}-\d{2}-\d{2}|\d+(?:\.\d+)?)(?:\s*(?P<unit>[^\d].*))?$",
    re.IGNORECASE,
)
_TEMPORAL = re.compile(
    r"on\s+or\s+after|on\s+or\s+before|since|until|after|before|later\s+than|earlier\s+than",
    re.IGNORECASE,
)
# Verbs that say a row happened, not which date: "made after", "placed before"
_ANY_DATE_VERBS = frozenset(
    {"made", "placed", "created", "dated", "recorded", "ordered", "bought", "sold", "purchased",
     "booked", "logged", "registered", "issued", "submitted", "received"}
)  # fmt: skip
# Verbs about money: the comparison is with the one money-like column
_MONEY_VERBS = frozenset(
    {"earning", "making", "costing", "paying", "spending", "selling", "charging", "priced",
     "paid", "charged", "billed", "valued", "worth", "raising", "grossing"}
)  # fmt: skip
_IMPLIED_BETWEEN = re.compile(
    rf"^{IMPLIED_LEAD}between\s+(?P<cur>[$€£])?\s*(?P<low>\d+(?:\.\d+)?)\s+and\s+[$€£]?\s*"
    r"(?P<high>\d+(?:\.\d+)?)(?:\s*(?P<unit>[^\d].*))?$",
    re.IGNORECASE,
)
_SYMBOLS = {">=": ">=", "<=": "<=", ">": ">", "<": "<"}
_MONEY_UNIT = re.compile(
    r"^(?:eur|euros?|usd|dollars?|gbp|pounds?|bucks|chf|francs?|yen|jpy)\b\s*(?:(?:of|in)\s+)?",
    re.IGNORECASE,
)


def parse_conditions(text: str, draft: Draft, relation: Relation) -> list[Condition]:
    outside = re.sub(
        r"\([^)]*\)|\b(?:on\s+or\s+(?:after|before)|than\s+or\s+equal)\b", "", text, flags=re.I
    )
    if re.search(r"\s+or\s+", outside, re.IGNORECASE):
        raise unsupported("conditions combined with 'or' are not supported (only 'and')")
    conditions: list[Condition] = []
    for part in _split_and(text):
        conditions.extend(_parse_one(part, draft, relation))
    return conditions


def _split_and(text: str) -> list[str]:
    """Split at ``and`` outside parentheses, keeping ``between x and y`` together."""
    parts, depth, start = [], 0, 0
    tokens = list(re.finditer(r"[()]|\s+and\s+", text, re.IGNORECASE))
    for token in tokens:
        if token.group(0) == "(":
            depth += 1
        elif token.group(0) == ")":
            depth -= 1
        elif depth == 0 and not re.search(r"\bbetween\s+\S+$", text[start : token.start()], re.I):
            parts.append(text[start : token.start()])
            start = token.end()
    parts.append(text[start:])
    return [p.strip() for p in parts if p.strip()]


def _parse_one(text: str, draft: Draft, relation: Relation) -> list[Condition]:
    text = re.sub(r"^(?:a|an|the)\s+", "", text.strip(), flags=re.IGNORECASE)
    implied = _IMPLIED.match(text)
    if implied:
        return [_implied(implied, draft, relation)]
    between = _IMPLIED_BETWEEN.match(text)
    if between:  # "between 100 and 300 [euros]": both bounds on the implied column
        unit = f" {between['unit']}" if between["unit"] else ""
        at_least = _IMPLIED.match(f"at least {between['cur'] or ''}{between['low']}{unit}")
        at_most = _IMPLIED.match(f"at most {between['cur'] or ''}{between['high']}{unit}")
        if at_least and at_most:
            try:
                return [_implied(at_least, draft, relation), _implied(at_most, draft, relation)]
            except LLMUnsupportedRequestError as exc:
                raise _ambiguous(draft.masked.unmask(text), exc, relation) from exc
    symbol = _SYMBOL.match(text)
    if symbol:
        op = {"==": "=", "<>": "!="}.get(symbol["op"], symbol["op"])
        return [_condition(symbol["col"], op, symbol["val"], draft, relation, "{}")]
    for pattern, op, template in _WORD_OPS:
        match = re.match(rf"^(?P<col>.+?)\s+(?:{pattern})(?:\s+(?P<val>.+))?$", text, re.I)
        if match is None:
            continue
        value = match["val"]
        if op in ("is null", "is not null"):
            if value:
                continue
            column = resolve_column(draft.word(match["col"]), relation)
            return [Condition.model_validate({"column": column, "op": op})]
        if not value:
            continue
        if op == "between":
            bounds = re.split(r"\s+and\s+", value, maxsplit=1, flags=re.I)
            if len(bounds) != 2:
                raise unsupported(f"'between' needs 'and' in {draft.masked.unmask(text)!r}")
            low, high = bounds
            return [
                _condition(match["col"], ">=", low, draft, relation, "{}"),
                _condition(match["col"], "<=", high, draft, relation, "{}"),
            ]
        return [_condition(match["col"], op, value, draft, relation, template)]
    paired = re.fullmatch(r"(?P<col>\w+(?:\s+\w+)?)\s+(?P<val>\S+)", text)
    if paired and _names_column(paired["col"], relation):  # "status paid", "department 20"
        return [_condition(paired["col"], "=", paired["val"], draft, relation, "{}")]
    raise unsupported(f"cannot read the condition {draft.masked.unmask(text)!r}")


def _ambiguous(
    phrase: str, error: LLMUnsupportedRequestError, relation: Relation
) -> LLMUnsupportedRequestError:
    """The refusal of an implied comparison, restated for the whole phrase."""
    candidates = list(error.details.get("candidates") or [])
    if not candidates:
        return error
    return unsupported(
        f"{phrase!r} does not say which column it compares: it could mean"
        f" {' or '.join(candidates)} in {relation.name}; name the column",
        candidates=candidates,
        relation=relation.name,
        phrase=phrase,
        comparison=phrase,
    )


def implied_operator(words: str) -> str:
    """ "more than" → ``>``, "at least" → ``>=``…"""
    return next(op for pattern, op in _IMPLIED_OPS if re.fullmatch(pattern, words, re.I))


def _names_column(word: str, relation: Relation) -> bool:
    if relation.columns is None:
        return is_column(word, relation)
    try:
        resolve_column(word, relation)
    except LLMUnsupportedRequestError:  # not a column: the phrase is not "<column> <value>"
        return False
    return True


def _year_bound(op: str, value: Scalar, phrase: str) -> tuple[str, str]:
    """A year after a word about time, as the bound of a date range."""
    if not isinstance(value, int) or not 1000 <= value <= 2999:
        raise unsupported(f"{phrase!r} compares a time with a number; give a date (YYYY-MM-DD)")
    first, next_first = f"{value}-01-01", f"{value + 1}-01-01"
    bounds = {
        ">": (">=", next_first),
        ">=": (">=", first),
        "<": ("<", first),
        "<=": ("<", next_first),
    }
    return bounds[op]


def _verb_columns(verb: str, relation: Relation) -> list[str]:
    """The columns whose name starts with the verb's stem ("weighing" → weight)."""
    stem = re.sub(r"(?:ing|ed|d)$", "", verb)
    prefix = stem[: max(3, len(stem) - 1)]
    return [c for c in relation.columns or [] if snake(c).startswith(prefix)]


def _date_column(lead: str, relation: Relation, phrase: str, *, comparison: str) -> str:
    """The one date column, or the one the verb names ("hired after" → hire_date)."""
    verb = lead.split()[-1] if lead else ""
    if not verb or verb in _ANY_DATE_VERBS or not verb.endswith(("ed", "ing")):
        return pick_date(relation, relation.name)
    stem = re.sub(r"(?:ing|ed|d)$", "", verb)
    dated = [c for c in relation.columns or [] if is_date(c, relation)]
    named = [c for c in dated if snake(c).startswith(stem[: max(3, len(stem) - 1)])]
    if len(named) == 1:
        return named[0]
    raise unsupported(
        f"in {phrase!r}, no single date column says when the rows were {verb}"
        f" (date columns of {relation.name}: {', '.join(dated) or 'none'}); name the column",
        candidates=dated,
        relation=relation.name,
        phrase=phrase,
        comparison=comparison,
    )


def _implied(match: re.Match[str], draft: Draft, relation: Relation) -> Condition:
    op = implied_operator(match["op"])
    raw_value = match["val"]
    value: Scalar = raw_value if "-" in raw_value else _value(raw_value, draft) or 0
    unit = re.sub(r"^(?:of|in)\s+", "", (match["unit"] or "").strip(), flags=re.IGNORECASE)
    phrase = draft.masked.unmask(match.group(0))
    if not isinstance(value, str) and _TEMPORAL.fullmatch(match["op"]) and not unit:
        op, value = _year_bound(op, value, phrase)  # "after 2019": from 2020-01-01 on
    if isinstance(value, str):  # a date: the date column the phrase is about
        if unit:
            raise unsupported(f"cannot read {unit!r} after the date {raw_value}")
        lead = match.string[: match.start("op")].strip().lower()
        column = _date_column(lead, relation, phrase, comparison=f"{op} '{value}'")
        return Condition.model_validate({"column": column, "op": op, "value": value})
    money = bool(match["cur"])
    currency = _MONEY_UNIT.match(unit)
    if currency:
        money, unit = True, unit[currency.end() :].strip()
    if unit:  # "300 pages", "2 euros of late fee": the unit names the column
        column = resolve_column(draft.word(unit), relation)
        return Condition.model_validate({"column": column, "op": op, "value": value})
    verb = match.string[: match.start("op")].strip().lower().rsplit(" ", 1)[-1]
    if re.fullmatch(r"[a-z]+(?:ing|ed)", verb):  # "weighing over 5", "earning more than"
        named = _verb_columns(verb, relation)
        if len(named) == 1:
            return Condition.model_validate({"column": named[0], "op": op, "value": value})
        if verb not in _MONEY_VERBS:  # "aged over 30" and no age column: no guess
            raise unsupported(
                f"in {phrase!r}, no column says what {verb!r} measures"
                f" (columns of {relation.name}: {', '.join(relation.columns or [])})",
                phrase=phrase,
            )
        money = True
    candidates = measure_candidates(relation, money=money)
    if len(candidates) != 1:
        found = " or ".join(candidates) if candidates else "no numeric column"
        raise unsupported(
            f"{phrase!r} does not say which column it compares: it could mean {found}"
            f" in {relation.name}; name the column (e.g. '{(candidates or ['amount'])[0]}"
            f" {match['op']} {raw_value}')",
            candidates=candidates,
            relation=relation.name,
            phrase=phrase,
            comparison=f"{_SYMBOLS[op]} {raw_value}",
        )
    return Condition.model_validate({"column": candidates[0], "op": op, "value": value})


def _condition(
    column_text: str, op: str, value_text: str, draft: Draft, relation: Relation, template: str
) -> Condition:
    column = resolve_column(draft.word(column_text), relation)
    if op in ("in", "not in"):
        items = re.split(r"\s*,\s*|\s+or\s+", value_text.strip().strip("()"))
        values = [_value(item, draft) for item in items if item.strip()]
        if any(value is None for value in values):
            raise unsupported(f"a list for {column} cannot hold null; use 'is null'")
        return Condition.model_validate({"column": column, "op": op, "value": values})
    value: Scalar | None = _value(value_text, draft)
    if value is None:
        null_op = "is null" if op == "=" else "is not null" if op == "!=" else None
        if null_op is None:
            raise unsupported(f"cannot compare {column} {op} null")
        return Condition.model_validate({"column": column, "op": null_op})
    if op == "like":
        value = template.format(value)
    elif isinstance(value, str) and _NUMERIC.match(relation.types.get(column, "")):
        raise unsupported(f"{column} is numeric but is compared with the text {value!r}")
    word = snake(draft.word(column_text))
    bare = draft.masked.quoted_value(value_text.strip()) is None
    if bare and isinstance(value, str) and snake(column) != word and _KEY.search(snake(column)):
        # "whose client is gold": client means client_id, which 'gold' is not
        raise unsupported(
            f"{draft.word(column_text)!r} is the key {column}, and {value!r} is no key value;"
            " name the column that holds it",
            phrase=f"{draft.word(column_text)} … {value}",
        )
    return Condition.model_validate({"column": column, "op": op, "value": value})


def _value(text: str, draft: Draft) -> Scalar | None:
    token = text.strip()
    quoted = draft.masked.quoted_value(token)
    if quoted is not None:
        return quoted[1]
    token = draft.masked.unmask(token)
    lowered = token.lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    if lowered in ("null", "none"):
        return None
    if _NUMBER.match(token):
        return float(token) if "." in token else int(token)
    if not re.fullmatch(r"[\w@.:/+-]+(?:\s+[\w@.:/+-]+){0,3}", token):
        raise unsupported(f"cannot read the value {token!r}; quote it")
    if (re.match(r"\d", token) and " " in token) or re.search(
        r"\s(?:for|per|by|from|in|of|with|where|whose|into|as)\s", f" {lowered} "
    ):  # "2 for alice": a number and more words, or a phrase of the grammar, is no value
        raise unsupported(f"cannot read the value {token!r}; quote it if it is one", phrase=token)
    if re.match(r"(?:the|a|an|its|their)\s", lowered):  # "above the average": not a value
        raise unsupported(f"{token!r} is not a value; quote it if it is one", phrase=token)
    return token
