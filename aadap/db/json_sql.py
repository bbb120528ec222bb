"""JSON aggregates that read several rows in one scalar subquery, on both databases.

A query that needs a handful of rows of another table besides its main row (the
summary's cost rows) takes them as one JSON array instead of a second round trip. PostgreSQL spells the functions ``json_agg``/``json_build_array``,
SQLite ``json_group_array``/``json_array``; the result is decoded on the way out.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import func

from aadap.db.types import JSONType


def array_agg(dialect: str, value: Any) -> Any:
    """``value`` over the selected rows, as a JSON array (PostgreSQL: NULL for no rows)."""
    if dialect == "postgresql":
        return func.json_agg(value, type_=JSONType)
    return func.json_group_array(value, type_=JSONType)


def row(dialect: str, *values: Any) -> Any:
    """``values`` as one JSON array (a row for :func:`array_agg`)."""
    if dialect == "postgresql":
        return func.json_build_array(*values)
    return func.json_array(*values)


__all__ = ["array_agg", "row"]
