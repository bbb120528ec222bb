"""Column types that behave the same on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from sqlalchemy import JSON, BigInteger, DateTime, Numeric, String
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator, TypeEngine


class _JSON(TypeDecorator[Any]):
    """JSON everywhere, JSONB on PostgreSQL.

    Not ``JSON().with_variant(JSONB(), "postgresql")``: building ``JSONB`` at import
    loads SQLAlchemy's whole PostgreSQL dialect (about 0.15 s), which a run on SQLite
    never uses. The dialect picks JSONB only when a PostgreSQL engine compiles.
    """

    impl = JSON
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "postgresql":
            from sqlalchemy.dialects.postgresql import JSONB

            return dialect.type_descriptor(JSONB())
        return dialect.type_descriptor(JSON())


#: JSON everywhere, JSONB on PostgreSQL.
JSONType = _JSON()


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class UTCDateTime(TypeDecorator[dt.datetime]):
    """A timezone-aware UTC timestamp on every backend.

    PostgreSQL stores ``timestamptz``. SQLite has no time zones, so values are
    stored as UTC and given ``tzinfo=UTC`` again on the way out. Naive datetimes
    are refused on the way in: a naive time is a bug waiting to happen.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r}: pass a timezone-aware value")
        return value.astimezone(dt.UTC)

    def process_result_value(
        self, value: dt.datetime | None, dialect: Dialect
    ) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=dt.UTC)
        return value.astimezone(dt.UTC)


class ExactDecimal(TypeDecorator[Decimal]):
    """An exact decimal: ``NUMERIC(20, 10)`` on PostgreSQL, text on SQLite (which has no decimals)."""

    impl = Numeric(20, 10, asdecimal=True)
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "sqlite":
            return dialect.type_descriptor(String(40))
        return dialect.type_descriptor(Numeric(20, 10, asdecimal=True))

    def process_bind_param(self, value: Decimal | int | str | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        dec = Decimal(str(value))
        if dialect.name == "sqlite":
            return format(dec, "f")
        return dec

    def process_result_value(self, value: Any, dialect: Dialect) -> Decimal | None:
        if value is None:
            return None
        return Decimal(str(value))


#: 1 USD in the units of :class:`UsdE10` (10**10: the ten decimal places ``NUMERIC(20, 10)`` keeps)
E10 = 10**10


def usd_from_e10(units: int | Decimal | None) -> Decimal:
    """Exact USD from a sum of :class:`UsdE10` units, with ten places (``None``, an empty
    sum, and 0 give a plain ``Decimal(0)``)."""
    return Decimal(int(units)).scaleb(-10) if units else Decimal(0)


def usd_to_e10(value: Decimal | int | str | None) -> int | None:
    """USD as stored by :class:`UsdE10`: 10^-10 units, rounded half-up."""
    if value is None:
        return None
    return int(Decimal(str(value)).scaleb(10).quantize(Decimal(1), rounding=ROUND_HALF_UP))


class UsdE10(TypeDecorator[Decimal]):
    """USD as a ``BIGINT`` count of 10^-10 dollars, a ``Decimal`` in Python.

    Integers are the one representation both dialects ``SUM`` exactly: SQLite has no
    decimal type (``SUM`` over its text decimals is floating point) and PostgreSQL sums
    ``bigint`` into ``numeric``. Ten places is what the ledger has always kept
    (``NUMERIC(20, 10)``); a finer value is rounded half-up, as PostgreSQL rounded it.
    A ``BIGINT`` holds 922 million USD per row.
    """

    impl = BigInteger
    cache_ok = True

    def process_bind_param(self, value: Decimal | int | str | None, dialect: Dialect) -> int | None:
        return usd_to_e10(value)

    def process_result_value(self, value: Any, dialect: Dialect) -> Decimal | None:
        return None if value is None else usd_from_e10(value)
