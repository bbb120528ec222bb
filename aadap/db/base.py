"""Declarative base with a constraint naming convention (set before the first migration)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import MetaData
from sqlalchemy.orm import DeclarativeBase

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


def column_values(row: Base) -> dict[str, Any]:
    """A row's values keyed by column name (``metadata``, not the ``metadata_`` attribute),
    for a Core INSERT of a row built with the ORM class."""
    return {attr.columns[0].name: getattr(row, attr.key) for attr in row.__mapper__.column_attrs}


def filled_values(row: Base) -> dict[str, Any]:
    """:func:`column_values` with each unset column given its Python-side default (set on
    ``row`` too, as a flush would), for a Core INSERT that bypasses the ORM's flush."""
    for attr in row.__mapper__.column_attrs:
        default = attr.columns[0].default
        if getattr(row, attr.key) is None and default is not None:
            if default.is_scalar:
                setattr(row, attr.key, default.arg)
            elif default.is_callable:
                setattr(row, attr.key, default.arg(None))
    return column_values(row)
