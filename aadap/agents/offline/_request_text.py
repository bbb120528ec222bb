"""Text handling for the offline grammar: quoting masks, clause splitting, word helpers.

Quoted parts of a request (``'shipped'``, ``"order id"``, a backticked SQL statement)
are replaced by placeholders before any pattern runs, so commas and keywords inside
them never split or match anything; :meth:`Masked.unmask` restores them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

_OPEN, _CLOSE = "\ue000", "\ue001"
_QUOTED = re.compile(r"(?<!\w)'(?:[^']|'')*'|\"[^\"]*\"|`[^`]*`")
PLACEHOLDER = re.compile(f"{_OPEN}(\\d+){_CLOSE}")

IDENT = r"(?:[A-Za-z_]\w*(?:\.[A-Za-z_]\w*){0,2}|" + f"{_OPEN}\\d+{_CLOSE})"
FILE_EXTENSIONS = ("csv", "tsv", "parquet", "pq", "json", "jsonl", "ndjson")
PATH = (
    r"(?:[^\s,;" + _OPEN + r"]+\.(?:" + "|".join(FILE_EXTENSIONS) + r")|" + f"{_OPEN}\\d+{_CLOSE})"
)

_LEADING_POLITENESS = re.compile(
    r"^(?:(?:please|kindly|hey|hi|ok|okay)[,!]?\s+)*"
    r"(?:(?:can|could|would|will)\s+you\s+(?:please\s+)?|i\s*(?:want|need|would\s+like|'d\s+like)"
    r"\s+(?:you\s+)?to\s+|let'?s\s+|help\s+me\s+)?",
    re.IGNORECASE,
)

_EXT = "|".join(FILE_EXTENSIONS)
_OBJECT = r"(?:it|them|this|that|the|everything|results?|as|into|to|in|a|an|all|rows|records|by)\b"
# Words that start a new clause. Verbs that double as common column names ("store",
# "name", "group", "total") only count when an object word follows them.
_VERBS = (
    r"(?:load|import|ingest|upload|filter|keep|exclude|remove|dedupe|dedup|de-dupe|deduplicate|"
    r"de-duplicate|aggregate|compute|calculate|join|enrich|summari[sz]e|persist|materiali[sz]e|"
    r"only|replacing|overwriting|bring\s+in|pull\s+in)\b"
    rf"|(?:write|save|store|put|output|call|name|copy|make|build|create|produce|select|merge|"
    rf"combine|replace|overwrite|group)\s+{_OBJECT}"
    rf"|read\s+(?=(?:the\s+|file\s+)?\S+\.(?:{_EXT})\b)|drop\s+(?:duplicates?|rows|the|all|any)\b"
    r"|(?:left|inner|right|full)\s+(?:outer\s+)?join\b"
)
_METRIC_STARTS = (
    r"daily|weekly|monthly|quarterly|yearly|annual|hourly|revenue|sales|total|sum|count|"
    r"average|avg|mean|number"
)
_AGGREGATE_STARTS = re.compile(
    rf"^(?:compute|calculate|aggregate|summari[sz]e|{_METRIC_STARTS}|min|max|minimum|maximum)\b",
    re.IGNORECASE,
)
_GROUPING = re.compile(r"\b(?:by|per|for\s+each)\b", re.IGNORECASE)
_THEN = re.compile(r"\s*[,;]?\s*\b(?:and\s+)?then\b\s*", re.IGNORECASE)
_SENTENCE = re.compile(r"(?<=[^\s.])\.\s+(?=[A-Za-z])|;|\s*[?!]+(?:\s+|$)")
_COMMA_VERB = re.compile(rf",\s*(?:and\s+)?(?=(?:{_VERBS}))", re.IGNORECASE)
_COMMA_METRIC = re.compile(rf",\s*(?:and\s+)?(?=(?:{_METRIC_STARTS})\b)", re.IGNORECASE)
_AND_VERB = re.compile(rf"\s+and\s+(?=(?:{_VERBS}))", re.IGNORECASE)


@dataclass
class Masked:
    """A request with its quoted parts replaced by numbered placeholders."""

    text: str
    quoted: list[str] = field(default_factory=list)

    @classmethod
    def of(cls, raw: str) -> Masked:
        quoted: list[str] = []

        def stash(match: re.Match[str]) -> str:
            quoted.append(match.group(0))
            return f"{_OPEN}{len(quoted) - 1}{_CLOSE}"

        return cls(_QUOTED.sub(stash, raw), quoted)

    def unmask(self, text: str) -> str:
        return PLACEHOLDER.sub(lambda m: self.quoted[int(m.group(1))], text)

    def quoted_value(self, token: str) -> tuple[str, str] | None:
        """For a lone placeholder, its quote character and unquoted content."""
        match = PLACEHOLDER.fullmatch(token.strip())
        if match is None:
            return None
        original = self.quoted[int(match.group(1))]
        body = original[1:-1]
        return original[0], body.replace("''", "'") if original[0] == "'" else body


def normalise(raw: str) -> str:
    text = " ".join(raw.split())
    text = _LEADING_POLITENESS.sub("", text, count=1)
    return text.rstrip(" .!?")


def split_clauses(text: str) -> list[str]:
    """Split a (masked) request into clauses at sentence ends, "then", and verb-led commas."""
    pieces: list[str] = []
    for sentence in _SENTENCE.split(text):
        for part in _THEN.split(sentence):
            pieces.extend(_split_commas(part))
    clauses = []
    for piece in pieces:
        clauses.extend(_AND_VERB.split(piece))
    return [c.strip(" ,") for c in clauses if c.strip(" ,")]


def _split_commas(text: str) -> list[str]:
    """Split at commas before a verb, or before a metric word unless inside a metric list."""
    out: list[str] = []
    start = 0
    cuts = sorted({m.start() for m in _COMMA_VERB.finditer(text)} | _metric_cuts(text))
    for cut in cuts:
        out.append(text[start:cut])
        start = cut + 1
    out.append(text[start:])
    return out


def _metric_cuts(text: str) -> set[int]:
    cuts: set[int] = set()
    for match in _COMMA_METRIC.finditer(text):
        before = text[: match.start()]
        last_clause = _COMMA_VERB.split(before)[-1]
        in_metric_list = bool(
            _AGGREGATE_STARTS.match(last_clause.strip())
        ) and not _GROUPING.search(last_clause)
        if not in_metric_list:
            cuts.add(match.start())
    return cuts


def split_list(text: str) -> list[str]:
    """``"a, b and c"`` → ``["a", "b", "c"]``."""
    parts = re.split(r"\s*,\s*(?:and\s+)?|\s+and\s+|\s*&\s*", text.strip(), flags=re.IGNORECASE)
    return [p.strip() for p in parts if p.strip()]


def singular(word: str) -> str:
    lower = word.lower()
    if lower.endswith("ies") and len(lower) > 4:
        return word[:-3] + "y"
    if lower.endswith(("sses", "xes", "ches", "shes")):
        return word[:-2]
    if lower.endswith("s") and not lower.endswith("ss") and len(lower) > 2:
        return word[:-1]
    return word


def plurals(word: str) -> set[str]:
    """The plural forms a singular noun may take (``client`` → ``clients``)."""
    lower = word.lower()
    forms = {lower + "s", lower + "es"}
    if lower.endswith("y") and len(lower) > 2:
        forms.add(lower[:-1] + "ies")
    return forms


def snake(text: str) -> str:
    """``"Order ID"`` → ``"order_id"``."""
    return re.sub(r"[\s\-]+", "_", text.strip()).lower()


def is_identifier(text: str) -> bool:
    return re.fullmatch(r"[A-Za-z_]\w*", text) is not None


def safe_name(text: str, limit: int = 63) -> str:
    """A lower-case identifier derived from ``text`` (for default table names)."""
    name = re.sub(r"\W+", "_", text.lower()).strip("_") or "result"
    if name[0].isdigit():
        name = f"t_{name}"
    return name[:limit].rstrip("_")
