"""The shipped example requests (``examples/requests.toml``).

Each example is one natural-language request. They are ordered so that running
them in sequence against one fresh DuckDB database works end to end; relative file
paths in them resolve against the examples directory.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path

from aadap.core.exceptions import InvalidRequestError

REQUESTS_FILE = "requests.toml"


@dataclass(frozen=True, slots=True)
class Example:
    name: str
    request: str
    description: str
    #: the table the example writes, if any
    creates: str | None = None
    #: the tables it reads, written by earlier examples
    needs: tuple[str, ...] = ()


def load_examples(examples_dir: Path) -> list[Example]:
    """Read ``examples_dir/requests.toml``: an array of ``[[example]]`` tables."""
    path = examples_dir / REQUESTS_FILE
    try:
        data = tomllib.loads(path.read_text("utf-8"))
    except FileNotFoundError as exc:
        raise InvalidRequestError(
            f"no examples file at {path}", details={"path": str(path)}
        ) from exc
    except tomllib.TOMLDecodeError as exc:
        raise InvalidRequestError(
            f"{path} is not valid TOML: {exc}", details={"path": str(path)}
        ) from exc
    examples: list[Example] = []
    entries = data.get("example", [])
    if not isinstance(entries, list) or not entries:
        raise InvalidRequestError(f"{path} has no [[example]] tables", details={"path": str(path)})
    for index, entry in enumerate(entries):
        missing = [key for key in ("name", "request", "description") if not entry.get(key)]
        if missing:
            raise InvalidRequestError(
                f"{path}: example #{index + 1} lacks {', '.join(missing)}",
                details={"path": str(path), "index": index},
            )
        examples.append(
            Example(
                str(entry["name"]),
                str(entry["request"]),
                str(entry["description"]),
                creates=str(entry["creates"]) if entry.get("creates") else None,
                needs=tuple(str(table) for table in entry.get("needs") or ()),
            )
        )
    names = [example.name for example in examples]
    duplicates = sorted({name for name in names if names.count(name) > 1})
    if duplicates:
        raise InvalidRequestError(
            f"{path}: duplicate example names {', '.join(duplicates)}", details={"path": str(path)}
        )
    return examples


def to_run_first(examples: list[Example], example: Example, tables: set[str]) -> list[Example]:
    """The examples that must run before ``example`` on a target holding ``tables``: those
    that create a table it needs which is missing, and theirs in turn, in file order."""
    creator = {e.creates: e for e in examples if e.creates}
    wanted: dict[str, Example] = {}
    pending = [t for t in example.needs if t not in tables]
    while pending:
        table = pending.pop()
        maker = creator.get(table)
        if maker is None or maker.name in wanted:
            continue
        wanted[maker.name] = maker
        pending.extend(t for t in maker.needs if t not in tables)
    return [e for e in examples if e.name in wanted]
