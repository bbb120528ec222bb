"""Turn code into a Fabric notebook definition (``notebook-content.py``, the FabricGitSource format).

* **Python / PySpark**: the code is one Python cell.
* **SQL** (lakehouse Spark SQL): the script is split into statements (by
  sqlglot's Spark tokenizer, so semicolons inside strings and comments are
  safe) and a Python cell runs each with ``spark.sql(statement, args=...)``;
  parameters bind to Spark's named markers (``:name``). With a lakehouse, the
  last statement's first rows are written as JSON to
  ``Files/aadap/results/<notebook>.json`` (:class:`ResultFile`), with a token
  naming the run, for the platform to read back.
* **Scala**: one ``%%spark`` magic cell.

The notebook runs on the ``synapse_pyspark`` kernel; a configured lakehouse
becomes its default lakehouse. Parameters for Python become a parameters cell
(``name = "value"``) so the code can read them as variables.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from sqlglot.dialects.spark import Spark
from sqlglot.errors import TokenError
from sqlglot.tokenizer_core import TokenType

from aadap.core.enums import Language
from aadap.platforms.protocol import PREVIEW_ROWS, RunResult

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


def _sql_cell(script: str, parameters: Mapping[str, str], result: ResultFile | None) -> str:
    statements = split_sql(script)
    args = dict(parameters)
    cell = (
        f"_aadap_statements = {json.dumps(statements, indent=4)}\n"
        f"_aadap_args = {json.dumps(args)}\n"
        "_aadap_result = None\n"
        "for _aadap_statement in _aadap_statements:\n"
        "    if _aadap_args:\n"
        "        _aadap_result = spark.sql(_aadap_statement, args=_aadap_args)\n"
        "    else:\n"
        "        _aadap_result = spark.sql(_aadap_statement)\n"
    )
    if result is None:
        return cell
    # The last statement's first rows go to a OneLake file the platform reads back: the Job
    # Scheduler API returns no cell output. One collect of limit(n + 1): a SELECT runs once
    # (spark.sql is lazy), a command's result was computed when spark.sql ran it.
    return cell + (
        "import json as _aadap_json\n"
        f"_aadap_result_path = {json.dumps(result.abfss_path)}\n"
        f"_aadap_result_token = {json.dumps(result.token)}\n"
        "_aadap_preview = {'token': _aadap_result_token, 'columns': [], 'rows': [], 'truncated': False}\n"
        "if _aadap_result is not None:\n"
        f"    _aadap_rows = [r.asDict(recursive=True) for r in _aadap_result.limit({PREVIEW_ROWS + 1}).collect()]\n"
        "    _aadap_preview['columns'] = list(_aadap_result.columns)\n"
        f"    _aadap_preview['rows'] = _aadap_rows[:{PREVIEW_ROWS}]\n"
        f"    _aadap_preview['truncated'] = len(_aadap_rows) > {PREVIEW_ROWS}\n"
        "notebookutils.fs.put(_aadap_result_path, _aadap_json.dumps(_aadap_preview, default=str), True)\n"
    )


@dataclass(frozen=True, slots=True)
class ResultFile:
    """Where a SQL run leaves its preview: a lakehouse file, and a token naming this run."""

    workspace_id: str
    lakehouse_id: str
    name: str
    token: str
    onelake_host: str = "onelake.dfs.fabric.microsoft.com"

    @property
    def relative_path(self) -> str:
        """The file under the OneLake DFS endpoint: ``{workspace}/{lakehouse}/Files/…``."""
        return f"{self.workspace_id}/{self.lakehouse_id}/Files/aadap/results/{self.name}.json"

    @property
    def abfss_path(self) -> str:
        return (
            f"abfss://{self.workspace_id}@{self.onelake_host}/{self.lakehouse_id}"
            f"/Files/aadap/results/{self.name}.json"
        )


def notebook_source(
    code: str,
    *,
    language: Language,
    parameters: Mapping[str, str] | None = None,
    workspace_id: str,
    lakehouse_id: str | None = None,
    lakehouse_name: str | None = None,
    result: ResultFile | None = None,
) -> str:
    """The text of ``notebook-content.py`` for one run (``result``: where SQL leaves its preview)."""
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
        cells.append(_cell(_sql_cell(code, params, result), language="python"))
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


def with_preview(result: RunResult, preview: Any, *, token: str) -> RunResult:
    """``result`` with the preview a SQL run's notebook wrote (``None``: the file was missing).

    A file whose token is not this run's was left by another run of the same
    notebook: no rows are reported then (``raw['result_available']`` is False).
    """
    if not isinstance(preview, dict) or preview.get("token") != token:
        return replace(result, raw={**result.raw, "result_available": False})
    rows = [dict(r) for r in preview.get("rows") or []][:PREVIEW_ROWS]
    columns = [str(c) for c in preview.get("columns") or []]
    truncated = bool(preview.get("truncated"))
    affected = rows[0].get("num_affected_rows") if rows else None
    return replace(
        result,
        columns=columns,
        rows=rows,
        row_count=None if truncated else len(rows),
        rows_affected=int(affected) if affected is not None else None,
        raw={**result.raw, "result_available": True, "truncated": truncated},
    )


def definition(source: str) -> dict[str, Any]:
    """The item ``definition`` payload for a notebook (FabricGitSource is the default format)."""
    payload = base64.b64encode(source.encode("utf-8")).decode("ascii")
    return {"parts": [{"path": NOTEBOOK_PART, "payload": payload, "payloadType": "InlineBase64"}]}


__all__ = [
    "NOTEBOOK_PART",
    "ResultFile",
    "definition",
    "notebook_source",
    "split_sql",
    "with_preview",
]
