"""Everyday wording → the grammar's wording, by exact rewrites that keep the meaning.

Each rule replaces one way people phrase a request ("What is the total amount in T?",
"the customer file PATH", "-> T", "I need …", "1,000") with the phrasing the clause
parsers read. A rule never adds information the request does not hold: anything a
rule cannot rewrite faithfully is left alone, and the clause parsers refuse it.
:func:`tidy` runs once on the whole (masked) request; :func:`rephrase` on each clause.
"""

from __future__ import annotations

import functools
import re

from aadap.agents.offline._request_text import IDENT, PATH

_I = re.IGNORECASE
_SUBJ = rf"(?:{PATH}|{IDENT})"
_WHICH = r"(?:latest|newest|most\s+recent|last|first|earliest|oldest)"
_NOT_VERB = (
    r"(?!(?:load|import|ingest|upload|read|bring|pull|copy|get|into|as|from|in|of|and|then|"
    r"preview|peek|profile|show|describe|summari[sz]e|at|to)\b)"
)
_ATTRS = r"(?:details|info|information|data|attributes|columns|fields)"

# Whole request: filler words, arrows, thousands separators, a file named by a noun phrase.
_TIDY: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r",?\s+\b(?:for\s+me|please|pls|thanks|thank\s+you)\b(?=[\s,.;!?]|$)", _I), ""),
    (re.compile(r"^(?:please|pls)\s+", _I), ""),
    (re.compile(r"\b(keep|select|show|take|get)\s+(?:just|simply)\b", _I), r"\1 only"),
    (re.compile(r"\b(peek|look)\s+into\b", _I), r"\1 at"),
    (re.compile(r",?\s*(?:->|=>|→)\s*", _I), " into "),
    (re.compile(r"(?<![\w.,])(\d{1,3})((?:,\d{3})+)(?![\d,])"), "<thousands>"),
    (re.compile(rf"\(({PATH})\)", _I), r"\1"),
    # "the customer file PATH", "the books CSV PATH": the path names the file
    (re.compile(rf"\b(?:the\s+|a\s+)?(?:{_NOT_VERB}[A-Za-z]\w*\s+){{0,2}}"
                rf"(?:file|csv|parquet|json)\s+(?={PATH})", _I), ""),
    # "fiction books (books with genre = 'fiction')", "gold clients, i.e. clients with tier
    # gold": the explanation replaces the adjective it defines
    (re.compile(r"\b(?:[A-Za-z]\w*\s+)?([A-Za-z]\w*)\s+\(\s*(?:i\.e\.,?\s+)?\1\s+"
                r"((?:with|where|whose|having)\s+[^()]+)\)", _I), r"\1 \2"),
    (re.compile(r"\b(?:[A-Za-z]\w*\s+)?([A-Za-z]\w*),?\s+i\.e\.,?\s+\1\s+"
                r"((?:with|where|whose|having)\b)", _I), r"\1 \2"),
    (re.compile(r"\s*\bi\.e\.,?\s*", _I), " "),
    # "dedupe X, keep the most recent by Y": one clause, not a second step
    (re.compile(rf",\s*keep(?:ing)?\s+(?:only\s+)?the\s+({_WHICH})\b(?!\s+(?:row|record|version"
                r"|entry|one)s?\s+(?:per|for|of)\b)", _I), r" keeping the \1"),
]  # fmt: skip

# One clause at a time, each anchored at both ends.
_CLAUSE: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"^(?:i|we)\s+(?:need|want|would\s+like|'d\s+like)\s+(?:to\s+(?:have|get|see)\s+)?"
                r"(?=\S)", _I), ""),
    (re.compile(r"^(?:i'd|we'd)\s+like\s+(?:to\s+)?", _I), ""),
    (re.compile(r"^(?:can|could|would|will)\s+you\s+(?:please\s+)?", _I), ""),
    (re.compile(r"^(?:get|find)\s+me\s+(?=the\s|all\s)", _I), ""),
    (re.compile(r"^(?:a|the)\s+(?:new\s+)?table\s+(?:with|of|containing|holding|listing)\s+", _I),
     ""),
    # "for each department, what is the highest salary in staff"
    (re.compile(r"^for\s+(each|every)\s+(\w+(?:\s+\w+)?),\s*(?:(?:what|which)(?:'s|\s+is|\s+are)"
                r"\s+)?(.+)$", _I), r"\3 for \1 \2"),
    # questions: "what is the total amount per client in purchases"
    (re.compile(r"^(?:what|which)(?:'s|\s+is|\s+are|\s+was|\s+were)\s+(?!in\b|there\b)(?=\S)", _I),
     ""),
    (re.compile(rf"^how\s+many\s+(\w+)\s+(?:does|do|did)\s+(?:each|every)\s+(\w+)\s+"
                rf"(?:have|has|make|place|borrow|get)(?:\s+(?:in|from)\s+(?P<s>{_SUBJ}))?$", _I),
     r"count \1 per \2<from s>"),
    (re.compile(rf"^how\s+many\s+(\w+)\s+(?:are\s+there|exist|do\s+(?:we|i)\s+have)"
                rf"(?:\s+in\s+(?P<s>{_SUBJ}))?$", _I), r"count \1<from s>"),
    (re.compile(r"^how\s+many\s+(\w+)\s+(?:are\s+there\s+|exist\s+|do\s+we\s+have\s+)?"
                r"(per|by|for\s+each|in\s+each)\s+(.+)$", _I), r"count \1 \2 \3"),
    (re.compile(rf"^how\s+much\s+(?:did|does|do)\s+(?:each|every)\s+(\w+)\s+(spend|pay)"
                rf"(?:\s+(?:in|from)\s+(?P<s>{_SUBJ}))?$", _I), r"total \2 per \1<from s>"),
    # "which purchases are above 250", "which departments have a budget over 300000"
    (re.compile(r"^(?:which|what)\s+(?!tables?\b)([A-Za-z_]\w*)\s+(?:have|has)\s+(?=\S)", _I),
     r"\1 with "),
    (re.compile(r"^(?:which|what)\s+(?!tables?\b)([A-Za-z_]\w*)\s+(?:are|is|were|was)\s+(?=\S)",
                _I), r"\1 "),
    # loads
    (re.compile(rf"^(?:create|make|build)\s+(?:a\s+)?(?:new\s+)?table\s+(?:called\s+|named\s+)?"
                rf"({IDENT})\s+(?:from|out\s+of|with)\s+({PATH})$", _I), r"load \2 into \1"),
    (re.compile(rf"^(?:get|fetch|take|open)\s+({PATH})(?=\s|$)", _I), r"load \1"),
    (re.compile(rf"^(bring|pull)\s+({PATH})\s+in\b", _I), r"\1 in \2"),
    (re.compile(rf"^(?:the\s+)?({PATH})\s+loaded\b", _I), r"load \1"),
    # deduplication
    (re.compile(r"\(\s*(?:same|identical|by|on)\s+([^()]+?)\s*\)", _I), r"on \1"),
    (re.compile(r"\bthe\s+(?:last|most\s+recently|latest)\s+updated(?:\s+(?:one|row|version))?\b",
                _I), "the latest"),
    (re.compile(rf"\bkeeping\s+the\s+({_WHICH})\s+(?!(?:row|record|one|version|entry|by|per|for|"
                rf"according|based|ordered|using|on)\b)({IDENT})$", _I), r"keeping the \1 by \2"),
    (re.compile(rf"^(?:only\s+|keep\s+)?one\s+(?:row|record|entry)\s+(?:per|for\s+each)\s+(\w+)\s+"
                rf"(?:from|in)\s+({_SUBJ}),?\s+(?:keeping\s+)?the\s+({_WHICH})(?:\s+one)?"
                rf"(\s+by\s+{IDENT})?$", _I), r"keep the \3 row per \1\4 from \2"),
    (re.compile(r"\b(remove|drop|eliminate|delete)\s+(?:the\s+)?(?:exact|identical)\s+"
                r"(duplicate)", _I), r"\1 \2"),
    (re.compile(rf"\b(duplicated?)\s+(?!rows|records|entries)({IDENT})\s+(rows|records|entries)\b",
                _I), r"\1 \3 from \2"),
    # joins
    (re.compile(rf"^({_SUBJ})\s+(?:joined|merged|combined)\s+(with|to|and)\s+", _I),
     r"join \1 \2 "),
    (re.compile(rf"^(?:add|bring|pull|attach)\s+(?:the\s+)?(\w+?)\s+{_ATTRS}\s+(?:in)?to\s+"
                rf"(?:the\s+)?({_SUBJ})(?=\s|$)", _I), r"enrich \2 with \1"),
    (re.compile(r"^match\s+(?:each|every)\s+(\w+)\s+(?:with|to)\s+(?:its|their|the)\s+(\w+)$", _I),
     r"join \1 with \2"),
    # previews and profiles
    (re.compile(rf"^what\s+does\s+(?:the\s+)?({_SUBJ})(?:\s+table)?\s+look\s+like$", _I),
     r"preview \1"),
    (re.compile(r"^(?:give\s+me|take|have|let\s+me\s+have)\s+(?:a\s+)?(?:quick\s+)?"
                r"(?:peek|look|glance)\s+(?:at|into)\s+", _I), "peek at "),
    (re.compile(r"^let\s+me\s+(?:see|look\s+at|view)\s+", _I), "show "),
    (re.compile(r"^(show|display|preview|give\s+me)\s+(?:a\s+few|some|a\s+couple\s+of)\s+", _I),
     r"\1 "),
    (re.compile(r"^(?:get|give|show)\s+me\s+(?:a\s+|the\s+)?(summary|profile|stats|statistics)\b",
                _I), r"\1"),
    (re.compile(r"^(?:show|give|get)\s+(?:me\s+)?(?:the\s+)?summary\s+(stats|statistics)\b", _I),
     r"\1"),
]  # fmt: skip


def tidy(text: str) -> str:
    for pattern, replacement in _TIDY:
        if replacement == "<thousands>":
            text = pattern.sub(_thousands, text)
        else:
            text = pattern.sub(replacement, text)
    return " ".join(text.split())


def _thousands(match: re.Match[str]) -> str:
    """ "1,000" → "1000", except in a list ("in (100,200)", "in 100,200"), which it is."""
    before = match.string[: match.start()]
    in_list = before.count("(") > before.count(")") or re.search(r"\bin\s*$", before, _I)
    return match.group(0) if in_list else match.group(1) + match.group(2).replace(",", "")


def rephrase(clause: str) -> str:
    text = clause.strip(" ,?!")
    for pattern, replacement in _CLAUSE:
        text = pattern.sub(functools.partial(_expand, replacement=replacement), text, count=1)
    return text.strip(" ,?!")


def _expand(match: re.Match[str], replacement: str) -> str:
    source = match.groupdict().get("s")
    out = replacement.replace("<from s>", f" from {source}" if source else "")
    return match.expand(out)
