"""The clause parsers of the pipeline grammar (load, deduplicate, filter, aggregate, join).

Every pattern is anchored at both ends: a clause is understood completely or not at
all, so no part of a request is silently ignored.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from aadap.agents.offline._conditions import IMPLIED_LEAD, IMPLIED_OPS, parse_conditions
from aadap.agents.offline._draft import GENERIC_NOUNS, Draft
from aadap.agents.offline._join import parse_join
from aadap.agents.offline._metrics import (
    aggregate_op,
    finish_grouping,
    parse_grouping,
    parse_metrics,
)
from aadap.agents.offline._request_text import IDENT, PATH, split_list
from aadap.agents.offline._schema import Relation, resolve_column
from aadap.agents.offline._semijoin import parse_counted, parse_semijoin
from aadap.agents.offline._unsupported import unsupported
from aadap.agents.schemas import DeduplicateOp, FilterOp
from aadap.core.exceptions import LLMUnsupportedRequestError

_I = re.IGNORECASE
_SUBJ = rf"(?:{PATH}|{IDENT})"
_WHERE = r"(?:where|with|whose|having|that\s+have|which\s+have|for\s+which|if|when)"

# --- targets ("into X", "as X", "and save the result as X", "replacing it") -------------

_TABLE = rf"(?:a\s+)?(?:new\s+)?(?:table\s+)?(?:called\s+|named\s+)?(?P<t>{IDENT})(?:\s+table)?"
_OBJ = r"(?:it|them|this|that|everything|what\s+is\s+left|what\s+remains|the\s+\w+)"
_SAVE = r"(?:write|save|store|put|output|persist|materiali[sz]e|create|keep(?=\s+(?:it|them)\b))"
# A save verb without an object ("save to T") only right after a clause boundary: "store"
# is also a column name ("revenue per store in sales" names no target).
_SAVED = rf"(?:(?:^|,|\s+and|\s+then)\s*{_SAVE}\s+(?:{_OBJ}\s+)?|\s+(?:and\s+)?{_SAVE}\s+{_OBJ}\s+)"
_TARGETS = [
    re.compile(rf"(?:{_SAVED}|\s+(?:and\s+)?)(?:into|as)\s+{_TABLE}$", _I),
    re.compile(
        rf"\s+(?:and\s+)?(?:{_SAVE}\s+(?:{_OBJ}\s+)?)?(?:to|in)\s+(?:a\s+)?(?:new\s+)?table\s+"
        rf"(?:called\s+|named\s+)?(?P<t>{IDENT})$",
        _I,
    ),
    re.compile(rf"{_SAVED}(?:to|in)\s+(?P<t>{IDENT})$", _I),
    re.compile(rf",\s+in\s+(?P<t>{IDENT})$", _I),
    re.compile(rf"\s+(?:and\s+)?(?:call|name)\s+{_OBJ}\s+(?P<t>{IDENT})$", _I),
    re.compile(rf"\s+(?:called|named)\s+(?P<t>{IDENT})$", _I),
]  # fmt: skip
_IN_NEW = re.compile(rf"\s+in\s+(?P<t>{IDENT})$", _I)
_REPLACE = re.compile(
    r"(?:^|,?\s+)(?:and\s+)?(?:replace|overwrite|replacing|overwriting)(?:\s+(?:it|them|the\s+"
    r"existing\s+(?:one|table)|any\s+existing\s+table|the\s+table))?(?:\s+if\s+(?:it\s+)?"
    r"(?:already\s+)?exists)?$",
    _I,
)


def split_target(clause: str, draft: Draft) -> tuple[str, str | None]:
    """Remove a trailing target phrase (and "replacing it") from ``clause``."""
    text = clause
    replaced = _REPLACE.search(text)
    if replaced:
        draft.replace = True
        text = text[: replaced.start()]
    padded = f" {text}"
    for pattern in _TARGETS:
        match = pattern.search(padded)
        if match:
            return padded[: match.start()].strip(" ,"), draft.word(match["t"])
    unknown = _IN_NEW.search(padded)  # "… in big_orders": not a table yet, so the result
    if unknown and draft.schema_hints and draft.hinted(draft.word(unknown["t"])) is None:
        return padded[: unknown.start()].strip(" ,"), draft.word(unknown["t"])
    return text.strip(" ,"), None


# --- load --------------------------------------------------------------------------

_LOAD_VERB = r"(?:load|import|ingest|upload|read|bring\s+in|bring|pull\s+in|pull|copy)"
_LOAD = re.compile(
    rf"^{_LOAD_VERB}(?:\s+in)?\s+(?:the\s+)?(?:data\s+(?:from|in)\s+|contents\s+of\s+)?"
    rf"(?:(?:csv|parquet|json)\s+)?(?:file\s+)?(?P<path>{PATH})(?:\s+file)?$",
    _I,
)
_LOAD_NAMED = re.compile(
    rf"^{_LOAD_VERB}\s+(?:the\s+)?(?P<name>{IDENT})\s+(?:data\s+|file\s+|table\s+)?from\s+"
    rf"(?:the\s+)?(?:file\s+)?(?P<path>{PATH})$",
    _I,
)


def parse_load(clause: str, draft: Draft) -> bool:
    match = _LOAD.match(clause) or _LOAD_NAMED.match(clause)
    if match is None or not draft.is_file_token(match["path"]):
        return False
    if draft.current is not None:
        raise unsupported("a second file load starts a second pipeline; use one request per load")
    relation = draft.add_source(match["path"])
    named_here = any(index == draft.clause_index for index, _ in draft.targets)
    if "name" in match.groupdict() and match["name"] and not named_here:  # "into T" wins
        draft.targets.append((draft.clause_index, draft.word(match["name"])))
    draft.add("load", None, relation)
    return True


# --- deduplicate ---------------------------------------------------------------------

_DEDUPE_VERB = (
    r"(?:dedupe|dedup|de-dupe|deduplicate|de-duplicate|(?:remove|drop|eliminate|get\s+rid\s+of)"
    r"\s+(?:the\s+|any\s+|all\s+)?duplicated?(?:s|\s+rows|\s+records|\s+entries)?)"
)
_WHICH = r"(?P<which>latest|newest|most\s+recent|last|first|earliest|oldest)"
_ORDER = rf"(?:\s+(?:by|according\s+to|based\s+on|ordered\s+by|using|on)\s+(?P<order>{IDENT}))?"
_KEEP = (
    rf"keep(?:ing)?\s+(?:only\s+)?(?:the\s+)?{_WHICH}"
    rf"(?:\s+(?:row|record|one|version|entry))?{_ORDER}"
)
_DEDUPE = re.compile(
    rf"^{_DEDUPE_VERB}(?:\s+(?:from|in|of))?(?:\s+(?:the\s+)?(?P<subject>{_SUBJ})(?:\s+table)?)?"
    r"(?:\s+(?:on|by|using|based\s+on|per|over)\s+(?:the\s+)?(?:keys?\s+|columns?\s+)?"
    r"(?P<keys>.+?))?"
    rf"(?:\s*,?\s+{_KEEP})?$",
    _I,
)
_KEEP_FIRST = re.compile(
    rf"^keep(?:ing)?\s+(?:only\s+)?(?:the\s+)?{_WHICH}\s+(?:row|record|version|entry)s?\s+"
    rf"(?:per|for\s+each|by|of\s+each|of\s+every|for\s+every)\s+(?P<keys>.+?)"
    rf"(?:\s+(?:from|in|of)\s+(?:the\s+)?(?P<subject0>{_SUBJ}))?"
    rf"(?:\s+(?:by|according\s+to|based\s+on|ordered\s+by|"
    rf"using)\s+(?P<order>{IDENT}))?(?:\s+(?:from|in|of)\s+(?:the\s+)?(?P<subject>{_SUBJ}))?$",
    _I,
)
_RECENCY = re.compile(r"updated|modified|changed|ingested|loaded|version|_ts$|timestamp", _I)


def parse_dedupe(clause: str, draft: Draft) -> bool:
    match = _DEDUPE.match(clause) or _KEEP_FIRST.match(clause)
    if match is None:
        return False
    groups = match.groupdict()
    subject = groups.get("subject0") or match["subject"]
    if subject and subject.lower() in ("on", "by", "using", "per", "over"):
        return False
    if subject is None and draft.current is None and match["keys"]:
        subject = draft.table_named_by(match["keys"])  # "the latest version of each purchase"
    relation = draft.subject(subject)
    keys = [resolve_column(draft.word(k), relation) for k in split_list(match["keys"] or "")]
    which = (match["which"] or "").lower()
    order = match["order"]
    keep = "earliest" if which in ("first", "earliest", "oldest") else "latest"
    order_by = resolve_column(draft.word(order), relation) if order else None
    if which and order_by is None:
        order_by = _recency_column(relation)
    if not which and keys:
        draft.assumptions.append(
            f"Which of the rows sharing {', '.join(keys)} is kept is unspecified; say"
            " 'keeping the latest by <column>' to choose."
        )
    op = DeduplicateOp(keys=keys, order_by=order_by, keep=keep)
    draft.add("deduplicate", op, Relation(relation.name, relation.columns, relation.types))
    return True


def _recency_column(relation: Relation) -> str:
    candidates = [c for c in relation.columns or [] if _RECENCY.search(c)]
    if len(candidates) == 1:
        return candidates[0]
    raise unsupported(
        f"cannot tell which column decides the latest row in {relation.describe()};"
        " say 'keeping the latest by <column>'"
    )


# --- filter ------------------------------------------------------------------------

_FILTER = re.compile(
    r"^(?:(?P<neg>exclude|remove|drop|filter\s+out|discard|skip|leave\s+out)|(?:only\s+)?(?:filter|"
    r"select|keep|take|retain|extract|only)(?:\s+(?:only|just))?)(?:\s+(?:all\s+)?(?:the\s+)?"
    rf"(?P<subject>{_SUBJ}))?(?:\s+(?:from|in|of)\s+(?:the\s+)?(?P<source>{_SUBJ}))?"
    rf"\s+(?:{_WHERE}|by|on|to|for)\s+(?P<conds>.+)$",
    _I,
)
_WHERE_ONLY = re.compile(
    rf"^(?:(?:all\s+)?(?:the\s+)?(?P<subject>{_SUBJ})\s+)?(?:only\s+)?{_WHERE}\s+(?P<conds>.+)$", _I
)
_TRAILING_SOURCE = re.compile(rf"\s+(?:from|in)\s+(?:the\s+)?(?P<source>{_SUBJ})(?:\s+table)?$", _I)
# "clients from country FR": an attribute and its value after "from"/"in"
_ATTR_FILTER = re.compile(
    r"^(?:(?:filter|select|keep|take|retain|extract|only|get|show|find)\s+(?:only\s+)?)?"
    rf"(?:all\s+)?(?:the\s+)?(?P<subject>{_SUBJ})\s+(?:from|in)\s+(?P<conds>(?P<col>\w+)\s+\S+)$",
    _I,
)
# "purchases above 250", "keep the books over 300 pages": a comparison right after the rows
_IMPLIED_FILTER = re.compile(
    r"^(?:(?P<neg>exclude|remove|drop|filter\s+out|discard|skip|leave\s+out)\s+|(?:filter|select|"
    r"keep|take|retain|extract|only|get|show|find|give\s+me)\s+(?:only\s+)?)?"
    rf"(?:all\s+)?(?:the\s+)?(?P<subject>{_SUBJ})\s+(?P<conds>{IMPLIED_LEAD}(?:{IMPLIED_OPS}|"
    r"between)\s+.+)$",
    _I,
)


def parse_filter(clause: str, draft: Draft) -> bool:
    match = _FILTER.match(clause) or _WHERE_ONLY.match(clause) or _IMPLIED_FILTER.match(clause)
    attribute = _ATTR_FILTER.match(clause) if match is None else None
    if attribute is not None and draft.current is None:
        found = draft.hinted(draft.word(attribute["subject"]))
        if found and _names_column(attribute["col"], Relation(found[0], found[1])):
            match = attribute
    if match is None:
        return False
    groups = match.groupdict()
    conds = match["conds"]
    trailing = _TRAILING_SOURCE.search(conds)  # "… with salary >= 60000 from staff"
    if trailing and not groups.get("source") and draft.table_named_by(trailing["source"]):
        groups["source"], conds = trailing["source"], conds[: trailing.start()]
    subject = groups.get("source") or groups.get("subject")
    named = groups.get("subject")
    if groups.get("source") and named and draft.other_table(named, groups["source"]):
        raise unsupported(
            f"{draft.masked.unmask(clause)!r} names two tables ({draft.word(named)} and"
            f" {draft.word(groups['source'])}) and no key linking them"
        )
    unnamed = subject is None or draft.word(subject).lower() in GENERIC_NOUNS
    if unnamed and draft.current is None and draft.schema_hints:  # "rows where salary > 10"
        verb = "remove" if groups.get("neg") else "keep"
        where = "" if match.re is _IMPLIED_FILTER else "where "
        subject = only_table(
            draft,
            lambda t: parse_conditions(conds, draft, draft.subject(t)),
            lambda t: f"{verb} {t} {where}{conds}",
        )
    relation = draft.subject(subject)
    conditions = parse_conditions(conds, draft, relation)
    op = FilterOp(conditions=conditions, negate=bool(groups.get("neg")))
    draft.add("filter", op, Relation(relation.name, relation.columns, relation.types))
    return True


def only_table(
    draft: Draft, attempt: Callable[[str], object], phrased: Callable[[str], str]
) -> str | None:
    """The one table ``attempt`` succeeds on, when the request names none; several → refused.

    Nothing is guessed: every table on the target is tried, and only a single fit is used.
    """
    fits = []
    for name in sorted(draft.schema_hints):
        snapshot = draft.snapshot()
        try:
            attempt(name)
        except LLMUnsupportedRequestError:  # this table does not have what the clause names
            continue
        else:
            fits.append(name)
        finally:
            draft.restore(snapshot)
    if len(fits) > 1:
        raise unsupported(
            f"the request does not say which table to use; it could be {' or '.join(fits)}",
            tables=fits,
            suggestions=[draft.masked.unmask(phrased(name)) for name in fits[:3]],
        )
    return fits[0] if fits else None


def _names_column(word: str, relation: Relation) -> bool:
    try:
        resolve_column(word, relation)
    except LLMUnsupportedRequestError:  # not a column: the phrase is not "<column> <value>"
        return False
    return True


# --- aggregate ---------------------------------------------------------------------

_AGG_VERB = (
    r"(?:compute|calculate|aggregate|summari[sz]e|write|create|build|produce|make|get|show|"
    r"give\s+me|report|find|sum\s+up|total\s+up)"
)
_BY = (
    r"(?:grouped\s+by|group\s+by|broken\s+down\s+by|split\s+by|by|per|for\s+each|for\s+every|"
    r"in\s+each|within\s+each)"
)
_SOURCE = rf"(?:\s+(?:of|for|from|in|across)\s+(?:the\s+)?(?P<subject>{_SUBJ})(?:\s+table)?)"
_TIMECOL = rf"(?:\s+(?:using|based\s+on|over)\s+(?:the\s+)?(?P<timecol>{IDENT}))?"
_AGG_TAIL = (
    rf"\s+{_BY}\s+(?P<dims>.+?)(?:\s+(?:of|for|from|in)\s+(?:the\s+)?(?P<subject2>{_SUBJ}))?"
    rf"{_TIMECOL}$"
)
_AGG_FORMS = [
    # "<measures> by <groups> [from X]": the measures may contain "of" ("number of orders")
    re.compile(rf"^(?:{_AGG_VERB}\s+)?(?:the\s+)?(?P<metrics>.+?){_AGG_TAIL}", _I),
    # "<measures> of X by <groups>"
    re.compile(rf"^(?:{_AGG_VERB}\s+)?(?:the\s+)?(?P<metrics>.+?){_SOURCE}{_AGG_TAIL}", _I),
    # "<measures> [of X]" without groups ("compute total revenue from orders", "daily revenue")
    re.compile(rf"^(?:{_AGG_VERB}\s+)?(?:the\s+)?(?P<metrics>.+?){_SOURCE}?{_TIMECOL}$", _I),
]
_GROUP = re.compile(
    rf"^(?:aggregate|group|summari[sz]e)\s+(?:the\s+)?(?:(?P<subject>{_SUBJ})\s+)?{_BY}\s+"
    r"(?P<rest>.+)$",
    _I,
)


def parse_aggregate(clause: str, draft: Draft) -> bool:
    """Try each aggregate form in turn; the first complete interpretation wins."""
    group = _GROUP.match(clause)
    if group:
        return _group_first(group, draft)
    first_error: LLMUnsupportedRequestError | None = None
    # every reading with the table as written first; only then the one table that fits
    for infer, form in [(False, form) for form in _AGG_FORMS] + [(True, f) for f in _AGG_FORMS]:
        match = form.match(clause)
        if match is None or (infer and (draft.current is not None or not draft.schema_hints)):
            continue
        snapshot = draft.snapshot()
        try:
            if _aggregate(match, draft, infer=infer):
                return True
        except LLMUnsupportedRequestError as exc:  # try the next reading of the clause
            draft.restore(snapshot)
            first_error = first_error or exc
    if first_error is not None:
        raise first_error
    return False


def _aggregate(match: re.Match[str], draft: Draft, *, infer: bool) -> bool:
    groups = match.groupdict()
    subject = groups.get("subject") or groups.get("subject2")
    if subject is None and draft.current is None:
        subject = _subject_in_metrics(match["metrics"], draft)
        if subject is None and infer:
            subject = only_table(
                draft,
                lambda t: _aggregate_on(match, draft, t),
                lambda t: f"{match.string} from {t}",
            )
        if subject is None and groups.get("dims"):
            raise unsupported("the request does not say which table or file to aggregate")
        if subject is None:
            return False
    _aggregate_on(match, draft, subject)
    return True


def _aggregate_on(match: re.Match[str], draft: Draft, subject: str | None) -> None:
    groups = match.groupdict()
    relation = draft.subject(subject)
    aggregations, grain = parse_metrics(match["metrics"], draft, relation)
    grouping = parse_grouping(groups.get("dims") or "", draft, relation)
    timecol = groups.get("timecol")
    time_column = resolve_column(draft.word(timecol), relation) if timecol else None
    grouping = finish_grouping(grouping, relation, grain=grain, time_column=time_column)
    op, columns = aggregate_op(aggregations, grouping)
    draft.add("aggregate", op, Relation(relation.name, columns))


def _subject_in_metrics(metrics: str, draft: Draft) -> str | None:
    """ "count orders by status": the counted noun names the table when nothing else does."""
    match = re.fullmatch(r"(?:count|number)\s+(?:of\s+)?(?:the\s+)?(\w+)", metrics.strip(), _I)
    if match and (draft.hinted(match.group(1)) or not draft.schema_hints):
        return match.group(1)
    return None


def _group_first(match: re.Match[str], draft: Draft) -> bool:
    """ "group orders by region (and|with|computing) the sum of amount"."""
    relation = draft.subject(match["subject"])
    rest = match["rest"]
    separator = r",\s*|\s+(?:and|with|computing|to\s+get)\s+"
    cuts = [(m.start(), m.end()) for m in re.finditer(separator, rest, _I)]
    last_error: LLMUnsupportedRequestError | None = None
    for start, end in [*cuts, (len(rest), len(rest))]:
        dims, metrics = rest[:start], rest[end:] or "count"
        try:
            grouping = parse_grouping(dims, draft, relation)
            aggregations, grain = parse_metrics(metrics, draft, relation)
            grouping = finish_grouping(grouping, relation, grain=grain, time_column=None)
        except LLMUnsupportedRequestError as exc:  # try the next split of dims and measures
            last_error = exc
            continue
        op, columns = aggregate_op(aggregations, grouping)
        draft.add("aggregate", op, Relation(relation.name, columns))
        return True
    raise unsupported(f"cannot read the grouping {draft.masked.unmask(rest)!r}") from last_error


CLAUSE_PARSERS: list[Callable[[str, Draft], bool]] = [
    parse_load,
    parse_dedupe,
    parse_join,
    parse_counted,
    parse_semijoin,
    parse_filter,
    parse_aggregate,
]
