"""``aadap run --example``: the bundled examples build on each other's tables; say what to
run first instead of letting the offline grammar guess at a table that does not exist."""

from __future__ import annotations

from typing import TYPE_CHECKING

from aadap.cli._common import fail, run_async
from aadap.core.exceptions import ExampleNeedsTablesError

if TYPE_CHECKING:
    from pathlib import Path

    from aadap.core.config import Settings


def refuse_unmet_needs(examples_dir: Path, name: str, settings: Settings) -> None:
    """Exit 2 (``EXAMPLE_NEEDS_TABLES``) before any run exists when example ``name`` reads
    tables that the local engine of ``AADAP_HOME`` does not hold yet."""
    from aadap.agents.examples import load_examples, to_run_first
    from aadap.platforms.local import LocalPlatform

    examples = load_examples(examples_dir)
    example = next(e for e in examples if e.name == name)
    if not example.needs:
        return
    home = settings.home
    platform = LocalPlatform(home / "local.duckdb", home / "runs", settings.platforms)
    tables = set(run_async(platform.schema))
    missing = [t for t in example.needs if t not in tables]
    if not missing:
        return
    first = to_run_first(examples, example, tables)
    commands = "; ".join(f"aadap run --example {e.name}" for e in first)
    fail(
        ExampleNeedsTablesError(
            f"example {name!r} reads {', '.join(missing)}, which {home / 'local.duckdb'} does "
            f"not hold yet; run first, in this order: {commands}",
            details={
                "field": "--example",
                "missing": missing,
                "run_first": [e.name for e in first],
            },
        )
    )


__all__ = ["refuse_unmet_needs"]
