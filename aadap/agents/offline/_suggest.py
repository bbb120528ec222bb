"""A refusal that shows the way: the part not understood, and phrasings that would work.

When a request is refused, the words of the failing clause are sorted into what the
grammar knows (its verbs and linking words, the tables, files and columns it recognised,
numbers and quoted values) and the rest; the rest is "the part not understood". Then
one to three requests in the grammar are built from what *was* recognised, in the
spirit of the words used (a count, a filter, a preview…), e.g. ``load data/clients.csv
into clients``. They go into the error's details and into its message.
"""

from __future__ import annotations

import difflib
import itertools
import re
from dataclasses import dataclass, field
from pathlib import Path

from aadap.agents.offline._clauses import split_target
from aadap.agents.offline._draft import Draft
from aadap.agents.offline._request_text import (
    FILE_EXTENSIONS,
    PLACEHOLDER,
    safe_name,
    singular,
    snake,
)
from aadap.agents.offline._schema import (
    Relation,
    file_format,
    file_relation,
    measure_candidates,
    resolve_path,
)
from aadap.agents.offline._unsupported import unsupported
from aadap.core.exceptions import LLMUnsupportedRequestError

_WORD = re.compile(r"[^\s,;:!?()]+")
_FILE = re.compile(r".+\.(?:" + "|".join(FILE_EXTENSIONS) + r")$", re.IGNORECASE)
_NUMBER = re.compile(r"^[$€£]?[+-]?\d[\d,.]*%?$|^\d{4}-\d{2}-\d{2}$")


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


_KINDS: dict[str, frozenset[str]] = {
    "load": _words("load import ingest upload read bring pull copy fetch open"),
    "deduplicate": _words(
        "dedupe dedup deduplicate de-duplicate duplicate duplicates duplicated unique "
        "distinct latest newest earliest oldest version versions"
    ),
    "join": _words("join joined merge merged combine combined enrich match together"),
    "aggregate": _words(
        "count total sum average avg mean number how many much per each group grouped "
        "max min maximum minimum highest lowest daily weekly monthly yearly revenue "
        "sales"
    ),
    "profile": _words("profile describe summary summarize summarise statistics stats"),
    "preview": _words("show see look peek preview display sample head glance first top"),
    "filter": _words(
        "keep only filter where whose with remove exclude drop discard above over below "
        "under more less least most after before between contains"
    ),
}
_TEXTUAL = re.compile(
    r"(?:^|_)(?:status|state|type|kind|category|tier|genre|segment|country|region|city|level)$"
)
_GLUE = _words(
    "the a an of in into as to from with by per and or only all rows row records record "
    "me my our it its their them this that these those table tables file files data for "
    "on at is are be been was were have has do does did what which who please could can "
    "would will you i we want need like to new called named there then some few every "
    "each than equal equals not null save store write put call name create make build "
    "give get let replace overwrite keeping kept result results answer it's what's i'd "
    "using via based ones rest left eur euro euros usd dollar dollars gbp pound pounds"
)


@dataclass
class Recognised:
    """What the failing request named that the grammar knows."""

    files: list[tuple[str, Relation]] = field(default_factory=list)  # (as written, columns)
    tables: list[Relation] = field(default_factory=list)
    columns: list[str] = field(default_factory=list)

    @property
    def relations(self) -> list[Relation]:
        return self.tables + [relation for _, relation in self.files]


def explain(
    error: LLMUnsupportedRequestError, draft: Draft | None, clause: str | None
) -> LLMUnsupportedRequestError:
    """The same refusal, naming the part not understood and suggesting phrasings."""
    if draft is None or "not_understood" in error.details:
        return error
    text = draft.masked.unmask(clause if clause is not None else draft.masked.text)
    whole = draft.masked.unmask(draft.masked.text)
    found = recognise(whole, draft)
    unknown = unknown_part(text, draft, found)
    reason = str(error.details.get("reason", error.message))
    generic = re.match(r"cannot (?:understand|read the measure|read the condition) ", reason)
    if generic and unknown and unknown != text:
        reason = f"cannot understand {unknown!r} (in {text!r})"
    target = _target(draft)
    given = [s if " into " in s else f"{s}{target}" for s in error.details.get("suggestions") or []]
    suggestions = (
        given or _repairs(error, text, draft, found) or suggest(whole, draft, found, target=target)
    )
    details = {
        k: v for k, v in error.details.items() if k not in ("reason", "provider", "suggestions")
    }
    details["not_understood"] = str(error.details.get("phrase") or unknown or text)
    agent = error.agent_id or "parser"
    return unsupported(reason, agent=agent, **details, suggestions=suggestions)


def recognise(text: str, draft: Draft) -> Recognised:
    found = Recognised()
    words = [w.strip(".'\"`") for w in _WORD.findall(text)]
    for word in words:
        if _FILE.match(word):
            try:
                path = resolve_path(word, draft.working_dir)
                found.files.append((word, file_relation(path, file_format(path))))
            except LLMUnsupportedRequestError:  # a missing file is not recognised
                continue
        elif re.fullmatch(r"[A-Za-z_]\w*", word) and word.lower() not in _GLUE:
            hinted = draft.hinted(word)
            if hinted and all(t.name != hinted[0] for t in found.tables):
                found.tables.append(Relation(hinted[0], hinted[1] or None))
    lowered = [snake(w) for w in words]
    pairs = [f"{a}_{b}" for a, b in itertools.pairwise(lowered)]
    for relation in found.relations:
        for column in relation.columns or []:
            name = snake(column)
            mentioned = name in lowered or name in pairs or singular(name) in lowered
            if mentioned and column not in found.columns:
                found.columns.append(column)
    return found


def unknown_part(text: str, draft: Draft, found: Recognised) -> str:
    """The runs of words in ``text`` that the grammar does not know, joined by " … "."""
    known = {snake(c) for c in found.columns}
    for relation in found.relations:
        known |= {snake(relation.name), singular(snake(relation.name))}
        known |= {snake(c) for c in relation.columns or []}
    known |= {snake(t) for t in draft.schema_hints}
    known |= {snake(name) for _, name in draft.targets}
    vocabulary = set().union(*_KINDS.values()) | _GLUE
    runs: list[list[str]] = [[]]
    for raw in _WORD.findall(text):
        word = raw.strip(".'\"`").lower()
        is_known = (
            not re.search(r"\w", word)
            or word in vocabulary
            or snake(word) in known
            or singular(snake(word)) in known
            or bool(_NUMBER.match(word) or _FILE.match(word) or PLACEHOLDER.fullmatch(raw))
            or raw[:1] in "'\"`"
        )
        if is_known:
            if runs[-1]:
                runs.append([])
        else:
            runs[-1].append(raw.strip(".,"))
    return " … ".join(" ".join(run) for run in runs if run)


def _kind(text: str) -> str | None:
    words = {w.lower().strip(".'\"`") for w in _WORD.findall(text)}
    for kind, vocabulary in _KINDS.items():  # in order: the most specific kinds first
        if words & vocabulary:
            return kind
    return None


def _target(draft: Draft) -> str:
    """The result table the request names, wherever its clause is."""
    if draft.targets:
        return f" into {draft.targets[-1][1]}"
    _, named = split_target(draft.masked.text, draft)
    return f" into {named}" if named else ""


def suggest(text: str, draft: Draft, found: Recognised, *, target: str = "") -> list[str]:
    """One to three requests in the grammar, built from what the request named."""
    out: list[str] = []
    kind = _kind(text)
    for written, _ in found.files:
        out.append(f"load {written} into {safe_name(Path(written).stem)}")
    tables = (
        found.tables
        or [
            Relation(name, columns or None) for name, columns in sorted(draft.schema_hints.items())
        ][: 1 if not found.files else 0]
    )
    if tables:
        out += _for_table(kind, tables, found.columns, text, draft, target)
    if not found.tables and not found.files:
        out = ["list tables", *out]
    unique = list(dict.fromkeys(out))
    return unique[:3]


def _for_table(
    kind: str | None,
    tables: list[Relation],
    columns: list[str],
    text: str,
    draft: Draft,
    target: str,
) -> list[str]:
    table = tables[0]
    name = table.name
    own = [c for c in columns if c in (table.columns or [])]
    column = own[0] if own else "<column>"
    if kind == "join" or len(tables) > 1:
        other = tables[1].name if len(tables) > 1 else "<other table>"
        shared = _shared_key(table, tables[1]) if len(tables) > 1 else None
        return [f"join {name} with {other} on {shared or '<key column>'}{target}"]
    if kind == "deduplicate":
        key = own[0] if own else _identifier(table) or "<key column>"
        return [
            f"deduplicate {name} on {key} keeping the latest by <column>{target}",
            f"remove duplicate rows from {name}{target}",
        ]
    if kind == "aggregate":
        group = own[0] if own else "<column>"
        out = [f"count {name} by {group}{target}"]
        measures = [c for c in measure_candidates(table, money=False) if c != group]
        if table.columns and measures:
            out.append(f"total {measures[0]} per {group} from {name}{target}")
        return out
    if kind == "profile":
        return [f"profile {name}"]
    if kind == "preview":
        return [f"show me 5 rows from {name}", f"profile {name}"]
    if kind == "filter":
        value = _value_word(text, draft, table)
        verb = "remove" if re.search(r"\b(?:remove|exclude|drop|discard)\b", text, re.I) else "keep"
        texts = [c for c in table.columns or [] if _TEXTUAL.search(snake(c))]
        if not own and value != "<value>" and 0 < len(texts) <= 2:
            return [f"{verb} {name} where {c} = '{value}'{target}" for c in texts]
        return [f"{verb} {name} where {column} = '{value}'{target}", f"show me 5 rows from {name}"]
    return [f"preview {name}", f"profile {name}"]


def _value_word(text: str, draft: Draft, table: Relation) -> str:
    found = Recognised(tables=[table])
    unknown = unknown_part(text, draft, found).split(" … ")
    words = [w for w in unknown[0].split() if w] if unknown and unknown[0] else []
    return words[-1] if len(words) == 1 else "<value>"


def _shared_key(left: Relation, right: Relation) -> str | None:
    shared = [c for c in left.columns or [] if c in (right.columns or [])]
    ids = [c for c in shared if c.lower().endswith("_id")]
    return next(iter(ids or shared), None)


def _identifier(table: Relation) -> str | None:
    own = f"{safe_name(singular(table.name))}_id"
    return next((c for c in table.columns or [] if c.lower() in (own, "id")), None)


def _repairs(
    error: LLMUnsupportedRequestError, text: str, draft: Draft, found: Recognised
) -> list[str]:
    """For a precise refusal, the request with the one thing that was wrong repaired."""
    details = error.details
    target = _target(draft)
    candidates = details.get("candidates")
    if candidates and details.get("comparison") and details.get("relation"):
        return [
            f"keep {details['relation']} where {c} {details['comparison']}{target}"
            for c in list(candidates)[:3]
        ]
    missing = details.get("table")
    if isinstance(missing, str) and draft.schema_hints:  # a table that is not there
        names = sorted(draft.schema_hints)
        close = difflib.get_close_matches(missing, names, n=3, cutoff=0.6)
        close += [n for n in names if missing.lower() in n.lower() and n not in close]
        pattern = re.compile(rf"\b{re.escape(missing)}\b", re.IGNORECASE)
        whole = draft.masked.unmask(draft.masked.text)
        return [pattern.sub(n, whole, count=1) for n in close[:2]] + ["list tables"]
    word, relation = details.get("column"), details.get("relation")
    table = next((r for r in found.relations if r.name == relation), None)
    if isinstance(word, str) and table is not None and table.columns:
        by_snake = {snake(c): c for c in table.columns}
        close = difflib.get_close_matches(snake(word), list(by_snake), n=3, cutoff=0.6)
        close += [s for s in by_snake if snake(word) in s and s not in close]
        pattern = re.compile(rf"\b{re.escape(word)}\b", re.IGNORECASE)
        return [pattern.sub(by_snake[c], text, count=1) for c in close[:3]]
    return []
