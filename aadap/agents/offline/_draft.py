"""The state of a request being parsed: its sources, its pipeline and its target."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from aadap.agents.offline._request_text import FILE_EXTENSIONS, Masked, plurals, safe_name, singular
from aadap.agents.offline._schema import Relation, file_format, file_relation, resolve_path
from aadap.agents.offline._unsupported import unsupported
from aadap.agents.schemas import JoinOp, Operation, Source

GENERIC_NOUNS = frozenset(
    {
        "rows", "row", "records", "record", "entries", "entry", "lines", "data", "it", "them",
        "this", "that", "result", "results", "everything", "items", "duplicates", "table",
    }
)  # fmt: skip
_FILE_TOKEN = re.compile(r".+\.(?:" + "|".join(FILE_EXTENSIONS) + r")$", re.IGNORECASE)


@dataclass(frozen=True)
class Snapshot:
    sources: list[Source]
    operations: list[Operation]
    current: Relation | None
    steps: list[str]
    assumptions: list[str]
    last_step_clause: int


@dataclass
class Draft:
    """Everything parsed so far; clause parsers read and extend it."""

    masked: Masked
    working_dir: Path
    schema_hints: dict[str, list[str]]
    sources: list[Source] = field(default_factory=list)
    operations: list[Operation] = field(default_factory=list)
    current: Relation | None = None
    steps: list[str] = field(default_factory=list)
    targets: list[tuple[int, str]] = field(default_factory=list)  # (clause index, name)
    replace: bool = False
    assumptions: list[str] = field(default_factory=list)
    clause_index: int = 0
    clause_text: str | None = None  # the clause being parsed, for the refusal's explanation
    default_target: str | None = None  # a better default name than the input's, if any
    last_step_clause: int = 0

    # --- words ----------------------------------------------------------------

    def word(self, token: str) -> str:
        """A token with any quoting placeholder resolved to its content."""
        quoted = self.masked.quoted_value(token)
        return quoted[1] if quoted else self.masked.unmask(token).strip()

    def is_file_token(self, token: str) -> bool:
        return bool(_FILE_TOKEN.match(self.word(token)))

    # --- sources --------------------------------------------------------------

    def hinted(self, name: str) -> tuple[str, list[str]] | None:
        """The table ``name`` names: exactly, else through its singular or plural form."""
        lowered = name.lower()
        for forms in ({lowered}, {singular(lowered), *plurals(lowered)} - {lowered}):
            found = [
                (table, list(columns))
                for table, columns in self.schema_hints.items()
                if table.lower() in forms or table.lower().rsplit(".", 1)[-1] in forms
            ]
            if len(found) == 1:
                return found[0]
        return None

    def table_named_by(self, noun: str) -> str | None:
        """ "each purchase" → ``purchases`` when that table exists."""
        word = self.word(noun)
        found = self.hinted(word) if re.fullmatch(r"[A-Za-z_]\w*", word) else None
        return found[0] if found else None

    def other_table(self, first: str, second: str) -> bool:
        """Whether two names refer to two different known tables."""
        a, b = self.hinted(self.word(first)), self.hinted(self.word(second))
        return a is not None and b is not None and a[0] != b[0]

    def table_relation(self, name: str) -> Relation:
        found = self.hinted(name)
        if found is not None:
            return Relation(found[0], found[1] or None)
        if self.schema_hints:
            known = ", ".join(sorted(self.schema_hints))
            raise unsupported(
                f"there is no table {name!r} on the target (tables: {known})", table=name
            )
        if not re.fullmatch(r"[A-Za-z_]\w*(?:\.[A-Za-z_]\w*){0,2}", name):
            raise unsupported(f"{name!r} is not a usable table name")
        return Relation(name)

    def add_source(self, token: str) -> Relation:
        """Register a table or file named by ``token`` and return its relation."""
        text = self.word(token)
        if self.is_file_token(token):
            path = resolve_path(text, self.working_dir)
            fmt = file_format(path)
            relation = file_relation(path, fmt)
            relation.name = self._unique_name(safe_name(path.stem))
            source = Source(
                kind="file",
                name=relation.name,
                path=str(path),
                format=fmt,
                columns=relation.columns or [],
            )
        else:
            relation = self.table_relation(text)
            relation.name = self._unique_name(relation.name)
            source = Source(kind="table", name=relation.name, columns=relation.columns or [])
        self.sources.append(source)
        return relation

    def _unique_name(self, name: str) -> str:
        taken = {source.name.lower() for source in self.sources}
        candidate, n = name, 2
        while candidate.lower() in taken:
            candidate, n = f"{name}_{n}", n + 1
        return candidate

    def subject(self, token: str | None) -> Relation:
        """The rows a clause works on: its named table/file, or the pipeline so far."""
        name = self.word(token) if token else None
        if name is not None and name.lower().removeprefix("the ") in GENERIC_NOUNS:
            name = None
        if self.current is None:
            if name is None:
                raise unsupported("the request does not say which table or file to use")
            self.current = self.add_source(token or name)
            return self.current
        if name is not None and not self._refers_to_current(name):
            raise unsupported(
                f"{name!r} starts a second pipeline; one request transforms one input"
                " (use 'join … with …' to combine inputs)"
            )
        return self.current

    def _refers_to_current(self, name: str) -> bool:
        lowered = name.lower()
        first = self.sources[0]
        names = {first.name.lower(), *(t.lower() for _, t in self.targets)}
        if first.path:
            names |= {Path(first.path).name.lower(), Path(first.path).stem.lower()}
        hinted = self.hinted(name)
        if hinted is not None:  # "purchase" for the purchases table
            return hinted[0].lower() in names
        return lowered in names or not self.is_file_token(name)

    # --- pipeline -------------------------------------------------------------

    def snapshot(self) -> Snapshot:
        """The mutable state, so a failed interpretation can be undone."""
        return Snapshot(
            list(self.sources),
            list(self.operations),
            self.current,
            list(self.steps),
            list(self.assumptions),
            self.last_step_clause,
        )

    def restore(self, snapshot: Snapshot) -> None:
        self.sources, self.operations = list(snapshot.sources), list(snapshot.operations)
        self.current, self.steps = snapshot.current, list(snapshot.steps)
        self.assumptions = list(snapshot.assumptions)
        self.last_step_clause = snapshot.last_step_clause

    def add(self, step: str, operation: Operation | None, relation: Relation) -> None:
        if operation is not None:
            self.operations.append(operation)
        self.steps.append(step)
        self.current = relation
        self.last_step_clause = self.clause_index

    def source_by_name(self, name: str) -> Source:
        return next(s for s in self.sources if s.name == name)

    def join_sources(self) -> set[str]:
        return {op.right for op in self.operations if isinstance(op, JoinOp)}
