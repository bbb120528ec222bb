"""``AADAP_DATABASE_*``: where the database is and how the engine treats it.

A URL is normalised to an async driver here (``postgres://`` becomes psycopg 3), so
the rest of the code sees one spelling.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit, urlunsplit

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import SettingsConfigDict

from aadap.core.config._group import SettingsGroup

_SQLITE_PREFIXES = ("sqlite+aiosqlite://",)
_POSTGRES_SCHEMES = {
    "postgres": "postgresql+psycopg",
    "postgresql": "postgresql+psycopg",
    "postgresql+psycopg": "postgresql+psycopg",
    "postgresql+psycopg_async": "postgresql+psycopg",
}


def normalise_database_url(url: str) -> str:
    """Accept ``sqlite+aiosqlite://…`` and ``postgres(ql)://…``; return the async driver URL.

    Raises ``ValueError`` (turned into a ``ConfigurationError`` naming
    ``AADAP_DATABASE_URL`` by :func:`~aadap.core.config.load_settings`) for anything else.
    """
    url = url.strip()
    if url.startswith(_SQLITE_PREFIXES):
        return url
    if url.startswith("sqlite://"):
        return "sqlite+aiosqlite://" + url[len("sqlite://") :]
    scheme, sep, _ = url.partition("://")
    if not sep or scheme not in _POSTGRES_SCHEMES:
        raise ValueError(
            f"unsupported database URL scheme {scheme!r}; allowed: sqlite+aiosqlite:///PATH, "
            "postgresql://USER@HOST:PORT/DB (postgres:// and postgresql+psycopg:// accepted)"
        )
    parts = urlsplit(url)
    if not parts.hostname or not parts.path.strip("/"):
        raise ValueError(
            "a PostgreSQL URL needs a host and a database name: postgresql://USER@HOST/DB"
        )
    return urlunsplit(("postgresql+psycopg", parts.netloc, parts.path, parts.query, ""))


class DatabaseSettings(SettingsGroup):
    model_config = SettingsConfigDict(env_prefix="AADAP_DATABASE_")

    url: SecretStr | None = Field(
        default=None,
        description="sqlite+aiosqlite:///path or postgresql://user@host/db; default: SQLite under AADAP_HOME",
    )
    echo: bool = False
    pool_size: int = Field(default=5, ge=1, le=100)
    sqlite_busy_timeout_ms: int = Field(default=10_000, ge=0)
    connect_timeout_seconds: float = Field(default=5.0, gt=0)
    ping_after_idle_seconds: float = Field(
        default=10.0,
        ge=0,
        description="PostgreSQL: test a pooled connection before reuse once it has been idle this long (0: always)",
    )

    @field_validator("url", mode="before")
    @classmethod
    def _normalise(cls, value: Any) -> Any:
        if value is None or value == "":
            return None
        raw = value.get_secret_value() if isinstance(value, SecretStr) else str(value)
        return SecretStr(normalise_database_url(raw))


__all__ = ["DatabaseSettings", "normalise_database_url"]
