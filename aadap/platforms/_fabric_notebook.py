"""Turn code into a Fabric notebook definition (``notebook-content.py``, the FabricGitSource format).

* **Python / PySpark**: the code is one Python cell.
* **SQL** (lakehouse Spark SQL): the script is split into statements (by
  sqlglot's Spark tokenizer, so semicolons inside strings and comments are
  safe) and a Python cell runs each with ``spark.sql(statement, args=...)``;
  parameters bind to Spark's named markers (``:name``).
* **Scala**: one ``%%spark`` magic cell.

The notebook runs on the ``synapse_pyspark`` kernel; a configured lakehouse
becomes its default lakehouse. Parameters for Python become a parameters cell
(``name = "value"``) so the code can read them as variables.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping
from typing import Any

from sqlglot.dialects.spark import Spark
from sqlglot.errors import TokenError
from sqlglot.tokenizer_core import TokenType

from aadap.core.enums import Language

NOTEBOOK_PART = "notebook-content.py"
_BAR = "********************"


def split_sql(script: str) -> list[str]:
    """The statements of a Spark SQL script, without empty ones or their semicolons."""
    try:
        tokens = Spark().tokenize(script)
    except TokenError:
        return [script.strip()] if script.strip() else []
    pieces: list[str] = []
    start, has_code = 0, False
    for token in tokens:
        if token.token_type is TokenType.SEMICOLON:
            if has_code:
                pieces.append(script[start : token.start])
            start, has_code = token.end + 1, False
        else:
            has_code = True
    if has_code:
        pieces.append(script[start:])
    return [p.strip() for p in pieces]


def _meta(data: Mapping[str, Any]) -> str:
    lines = json.dumps(data, indent=2).splitlines()
    return "\n".join(f"# META {line}" for line in lines)


def _cell(source: str, *, language: str, header: str = "CELL") -> str:
    return f"# {header} {_BAR}\n\n{source.rstrip()}\n\n# METADATA {_BAR}\n\n" + _meta(
        {"language": language, "language_group": "synapse_pyspark"}
    )


def _sql_cell(script: str, parameters: Mapping[str, str]) -> str:
    statements = split_sql(script)
    args = dict(parameters)
    return (
        f"_aadap_statements = {json.dumps(statements, indent=4)}\n"
        f"_aadap_args = {json.dumps(args)}\n"
        "for _aadap_statement in _aadap_statements:\n"
        "    if _aadap_args:\n"
        "        _aadap_result = spark.sql(_aadap_statement, args=_aadap_args)\n"
        "    else:\n"
        "        _aadap_result = spark.sql(_aadap_statement)\n"
    )


def notebook_source(
    code: str,
    *,
    language: Language,
    parameters: Mapping[str, str] | None = None,
    workspace_id: str,
    lakehouse_id: str | None = None,
    lakehouse_name: str | None = None,
) -> str:
    """The text of ``notebook-content.py`` for one run."""
    params = dict(parameters or {})
    dependencies: dict[str, Any] = {}
    if lakehouse_id:
        lakehouse: dict[str, Any] = {
            "default_lakehouse": lakehouse_id,
            "default_lakehouse_workspace_id": workspace_id,
            "known_lakehouses": [{"id": lakehouse_id}],
        }
        if lakehouse_name:
            lakehouse["default_lakehouse_name"] = lakehouse_name
        dependencies["lakehouse"] = lakehouse
    header = _meta({"kernel_info": {"name": "synapse_pyspark"}, "dependencies": dependencies})
    cells = [f"# Fabric notebook source\n\n# METADATA {_BAR}\n\n{header}"]
    if language is Language.SQL:
        cells.append(_cell(_sql_cell(code, params), language="python"))
    elif language is Language.SCALA:
        magic = "\n".join(f"# MAGIC {line}" for line in ["%%spark", *code.splitlines()])
        cells.append(_cell(magic, language="scala"))
    else:
        if params:
            assigns = "\n".join(
                f"{name} = {json.dumps(value)}"
                for name, value in params.items()
                if name.isidentifier()
            )
            cells.append(_cell(assigns, language="python", header="PARAMETERS CELL"))
        cells.append(_cell(code, language="python"))
    return "\n\n".join(cells) + "\n"


def definition(source: str) -> dict[str, Any]:
    """The item ``definition`` payload for a notebook (FabricGitSource is the default format)."""
    payload = base64.b64encode(source.encode("utf-8")).decode("ascii")
    return {"parts": [{"path": NOTEBOOK_PART, "payload": payload, "payloadType": "InlineBase64"}]}


__all__ = ["NOTEBOOK_PART", "definition", "notebook_source", "split_sql"]
