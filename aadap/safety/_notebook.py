"""Magic cells of Databricks notebook source files (``# MAGIC %sql`` ...).

In an exported ``.py`` notebook, non-Python cells are comment lines starting with
``# MAGIC``; Python sees comments, but the notebook runs them. They are extracted
here so SQL, shell and Scala cells are analysed like any other code.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_MAGIC = re.compile(r"^# MAGIC ?(.*)$")
_COMMAND = re.compile(r"^%(\w+)\s?(.*)$")


@dataclass(frozen=True, slots=True)
class MagicCell:
    magic: str  # sql, python, scala, sh, fs, run, md, pip, ...
    line: int  # line of the first character of ``body``
    body: str


def magic_cells(code: str) -> list[MagicCell]:
    """Every ``# MAGIC %name`` cell of ``code`` (empty for ordinary Python)."""
    if "# MAGIC" not in code:
        return []
    cells: list[MagicCell] = []
    current: tuple[str, int, list[str]] | None = None
    for number, raw in enumerate(code.splitlines(), start=1):
        match = _MAGIC.match(raw)
        if match is None:
            if current is not None:
                cells.append(MagicCell(current[0], current[1], "\n".join(current[2])))
                current = None
            continue
        content = match.group(1)
        command = _COMMAND.match(content) if current is None else None
        if current is None:
            if command is None:
                continue  # a continuation line without a command: not a cell start
            rest = command.group(2)
            current = (
                command.group(1).lower(),
                number if rest.strip() else number + 1,
                [rest] if rest.strip() else [],
            )
        else:
            current[2].append(content)
    if current is not None:
        cells.append(MagicCell(current[0], current[1], "\n".join(current[2])))
    return cells
