"""Settings: pydantic-settings with the ``AADAP_`` prefix, one group per concern.

Each group is its own ``BaseSettings`` with its own prefix (``AADAP_DATABASE_``,
``AADAP_LLM_``, …) so the variables read naturally (``AADAP_DATABASE_URL``,
``AADAP_LLM_API_KEY``). Settings are built by :func:`load_settings`, never at
import time; tests build their own. Every secret is a ``SecretStr``.
"""

from __future__ import annotations

import json
import os
import re
import zoneinfo
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit, urlunsplit

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, SettingsConfigDict, SettingsError

from aadap.core.exceptions import ConfigurationError, InvalidConfigurationError

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
    ``AADAP_DATABASE_URL`` by :func:`load_settings`) for anything else.
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


def mask_url(url: str) -> str:
    """Replace a password in a URL with ``***``."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


ENV_FILE = ".env"
"""Read from the current directory (variables in the environment win), as Prefect does."""


class _Group(BaseSettings):
    # An empty variable means "not set" (the default), as ``.env.example`` writes them.
    model_config = SettingsConfigDict(
        extra="ignore", env_file=ENV_FILE, env_ignore_empty=True, validate_default=True
    )


class DatabaseSettings(_Group):
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


class PriceOverride(BaseModel):
    """USD per million tokens, in and out."""

    model_config = ConfigDict(extra="forbid")

    input_per_mtok: Decimal = Field(ge=0, allow_inf_nan=False)
    output_per_mtok: Decimal = Field(ge=0, allow_inf_nan=False)


PriceSetting = PriceOverride | str
"""A price in USD per million tokens, or the name of a model whose known price applies."""

BUDGET_OFF = ("off", "none")
"""Values that switch a USD budget off (case-insensitive)."""


def _budget_off(value: Any) -> Any:
    if isinstance(value, str) and value.strip().lower() in BUDGET_OFF:
        return None
    return value


class LLMSettings(_Group):
    model_config = SettingsConfigDict(env_prefix="AADAP_LLM_")

    provider: Literal["offline", "openai"] = "offline"
    base_url: str | None = Field(
        default=None, description="OpenAI-compatible base URL, e.g. https://api.openai.com/v1"
    )
    api_key: SecretStr | None = None
    api_style: Literal["openai", "azure"] = "openai"
    azure_api_version: str = "2024-10-21"
    default_model: str = "gpt-4o-mini"
    models: dict[str, str] = Field(
        default_factory=dict, description="agent -> model or Azure deployment name"
    )
    timeout_seconds: float = Field(default=60.0, gt=0)
    max_retries: int = Field(default=3, ge=0, le=10)
    max_retry_wait_seconds: float = Field(default=30.0, ge=0)
    max_output_tokens: int = Field(default=4096, gt=0)
    temperature: float = Field(default=0.0, ge=0, le=2)
    prices: dict[str, PriceSetting] = Field(
        default_factory=dict,
        description="model, alias or Azure deployment -> USD per million tokens "
        '({"input_per_mtok": "0.15", "output_per_mtok": "0.60"}) or a known model name',
    )
    allow_in_tests: bool = Field(default=False, description="let a real provider run inside pytest")

    def model_for(self, agent: str) -> str:
        return self.models.get(agent, self.default_model)

    @field_validator("prices", mode="before")
    @classmethod
    def _check_prices(cls, value: Any) -> Any:
        """One readable message per bad entry, naming the model and the rule."""
        if not isinstance(value, dict):
            return value
        return {str(name): _price_setting(str(name), entry) for name, entry in value.items()}


PRICE_EXAMPLE = '{"input_per_mtok": "0.15", "output_per_mtok": "0.60"}'


def _price_setting(name: str, entry: Any) -> PriceSetting:
    if isinstance(entry, PriceOverride):
        return entry
    if isinstance(entry, str) and entry.strip():
        return entry.strip()
    if isinstance(entry, dict):
        try:
            return PriceOverride.model_validate(entry)
        except ValidationError as exc:
            problems = ", ".join(
                f"{'.'.join(str(p) for p in err['loc'])}"
                + ("" if err["type"] == "missing" else f"={err.get('input')!r}")
                + f": {err['msg']}"
                for err in exc.errors()
            )
            raise ValueError(
                f"price of {name!r}: {problems}; a price is {PRICE_EXAMPLE} "
                "(USD per million tokens)"
            ) from exc
    raise ValueError(
        f"price of {name!r} is {entry!r}; give {PRICE_EXAMPLE} (USD per million tokens) "
        'or the name of a model with a known price, e.g. "gpt-4o-mini"'
    )


class PlatformSettings(_Group):
    model_config = SettingsConfigDict(env_prefix="AADAP_PLATFORMS_")

    default_connection: str | None = None
    allowed_hosts: list[str] = Field(
        default_factory=list, description="extra hosts allowed besides the platforms' domains"
    )
    poll_interval_seconds: float = Field(default=2.0, gt=0)
    poll_max_interval_seconds: float = Field(default=15.0, gt=0)
    run_timeout_seconds: float = Field(default=1800.0, gt=0)
    http_timeout_seconds: float = Field(default=30.0, gt=0)
    local_python_timeout_seconds: float = Field(default=120.0, gt=0)
    # --- the local engine: waiting for the DuckDB file, and its sandbox ---
    local_lock_timeout_seconds: float = Field(
        default=120.0, gt=0, description="wait for another run holding the local DuckDB file"
    )
    local_memory_limit_mb: int = Field(
        default=4096, ge=64, description="DuckDB memory_limit; address space of a python run"
    )
    local_threads: int = Field(default=2, ge=1, le=256, description="DuckDB threads")
    local_sql_timeout_seconds: float = Field(
        default=600.0, gt=0, description="a local SQL script is interrupted after this"
    )
    local_data_roots: list[Path] = Field(
        default_factory=list,
        description="folders local SQL may read the files it names from; empty: any file "
        "the approved SQL names literally",
    )
    local_python_network: bool = Field(
        default=False, description="let local python runs open sockets and start processes"
    )
    compute_usd_per_hour: dict[str, Decimal] = Field(
        default_factory=lambda: {
            "local": Decimal("0"),
            "databricks": Decimal("0.70"),
            "fabric": Decimal("0.36"),
        }
    )
    # Remote platforms as the services behave (issue 23): every bound is documented in README.
    retry_after_max_seconds: float = Field(
        default=300.0,
        gt=0,
        description="longest Retry-After a platform call waits out; a longer one fails the call at once (retryable)",
    )
    fabric_first_poll_max_seconds: float = Field(
        default=120.0,
        ge=0,
        description="most a Fabric job's first status poll waits for the Retry-After of its start",
    )
    fabric_job_not_found_grace_seconds: float = Field(
        default=300.0,
        ge=0,
        description="how long after its start a Fabric job answering NotFound counts as not started",
    )
    fabric_name_wait_seconds: float = Field(
        default=300.0,
        ge=0,
        description="how long creating a Fabric notebook waits out ItemDisplayNameNotAvailableYet",
    )
    cleanup_notebooks: bool = Field(
        default=True,
        description="delete a Databricks run's uploaded notebook once the run has ended",
    )


class BudgetSettings(_Group):
    model_config = SettingsConfigDict(env_prefix="AADAP_BUDGETS_")

    task_tokens: int = Field(default=50_000, ge=0, description="default token budget per task")
    task_usd: Decimal | None = Field(
        default=Decimal("1.00"),
        ge=0,
        allow_inf_nan=False,
        description="default USD budget per task; `off` (or `none`) switches it off",
    )
    daily_usd: Decimal | None = Field(default=None, ge=0, allow_inf_nan=False)
    monthly_usd: Decimal | None = Field(default=None, ge=0, allow_inf_nan=False)
    hard_limit_percent: int = Field(default=100, ge=1)

    @field_validator("task_usd", "daily_usd", "monthly_usd", mode="before")
    @classmethod
    def _off(cls, value: Any) -> Any:
        return _budget_off(value)


class RetrySettings(_Group):
    model_config = SettingsConfigDict(env_prefix="AADAP_RETRIES_")

    task_retries: int = Field(default=3, ge=0, le=20)
    backoff_seconds: float = Field(default=1.0, ge=0)
    backoff_factor: float = Field(default=2.0, ge=1)
    jitter_factor: float = Field(default=0.5, ge=0)
    max_delay_seconds: float = Field(default=60.0, ge=0)

    def delays(self) -> list[float]:
        """Per-attempt delays for Prefect's ``retry_delay_seconds`` (capped, exponential)."""
        return [
            min(self.backoff_seconds * self.backoff_factor**attempt, self.max_delay_seconds)
            for attempt in range(max(self.task_retries, 1))
        ]


Decision = Literal["auto", "approval", "forbidden"]


def _default_policy() -> dict[str, dict[str, Decision]]:
    return {
        "SANDBOX": {
            "read_only": "auto",
            "write": "auto",
            "destructive": "approval",
            "schema_change": "approval",
            "permission_change": "approval",
        },
        "PRODUCTION": {
            "read_only": "auto",
            "write": "approval",
            "destructive": "approval",
            "schema_change": "approval",
            "permission_change": "approval",
        },
    }


class SafetySettings(_Group):
    model_config = SettingsConfigDict(env_prefix="AADAP_SAFETY_")

    policy: dict[str, dict[str, Decision]] = Field(default_factory=_default_policy)
    forbid_critical_in_production: bool = True
    approval_timeout_seconds: int = Field(default=4 * 3600, ge=1)
    foreground_approval_timeout_seconds: int = Field(
        default=600,
        ge=1,
        description="the approval timeout of a run in the foreground (`aadap run`), unless "
        "AADAP_SAFETY_APPROVAL_TIMEOUT_SECONDS is set",
    )
    approval_poll_seconds: int = Field(
        default=1, ge=1, le=300, description="how often a paused run checks for a decision"
    )
    max_rejections: int = Field(
        default=3, ge=0, le=10, description="rejections sent back to development before CANCELLED"
    )
    production_host_patterns: list[str] = Field(
        default_factory=lambda: ["prod", "production", "prd"]
    )
    egress_allowed_hosts: list[str] = Field(
        default_factory=list,
        description=(
            "hosts generated code may call without a finding: exact names or *.suffix "
            "(e.g. api.example.com, *.internal.example.com); every other network call is HIGH"
        ),
    )


class ScheduleSettings(_Group):
    """When the served deployments run (time zone: ``AADAP_TIMEZONE``). Checked by ``aadap serve``."""

    model_config = SettingsConfigDict(env_prefix="AADAP_SCHEDULES_")

    cost_report_cron: str = Field(default="0 6 * * *", description="cron for the daily cost report")
    budget_watch_seconds: int = Field(
        default=300, ge=10, description="how often spend is checked against budgets"
    )
    connection_health_seconds: int = Field(default=900, ge=30)
    reconcile_seconds: int = Field(default=3600, ge=60)
    runner_poll_seconds: float = Field(
        default=0.5,
        ge=0.1,
        le=60,
        description="how often `aadap serve` polls for runs: half of it is the mean wait "
        "before a triggered or resumed run is picked up",
    )
    serve_handover_seconds: float = Field(
        default=600.0,
        ge=0,
        description="how long a new `aadap serve` waits for a stopping one to finish its runs",
    )


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="AADAP_", extra="ignore", env_file=ENV_FILE, validate_default=True
    )

    home: Path = Field(default_factory=lambda: Path.home() / ".aadap")
    data_root: Path | None = Field(
        default=None,
        description="the folder data paths in requests resolve against and may not leave; "
        "default: the directory the command runs in (`aadap serve` records its own for its runs)",
    )
    secret_key: SecretStr | None = Field(
        default=None,
        description="Fernet key(s), comma-separated, newest first, for secrets at rest",
    )
    max_self_corrections: int = Field(default=3, ge=0, le=10)
    timezone: str = "UTC"
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    retention_days: int = Field(default=90, ge=1)
    prefect_server: Literal["background", "ephemeral"] = Field(
        default="background",
        description="without PREFECT_API_URL: background = `aadap run` starts a local Prefect "
        "server on first use and later commands reuse it (`aadap server stop` ends it); "
        "ephemeral = Prefect's per-command API, started and stopped with each command",
    )

    database: DatabaseSettings = Field(default_factory=DatabaseSettings)
    llm: LLMSettings = Field(default_factory=LLMSettings)
    platforms: PlatformSettings = Field(default_factory=PlatformSettings)
    budgets: BudgetSettings = Field(default_factory=BudgetSettings)
    retries: RetrySettings = Field(default_factory=RetrySettings)
    safety: SafetySettings = Field(default_factory=SafetySettings)
    schedules: ScheduleSettings = Field(default_factory=ScheduleSettings)

    @field_validator("home", mode="before")
    @classmethod
    def _home_not_blank(cls, value: Any) -> Any:
        # Path("") is the current directory: an empty AADAP_HOME would silently put the
        # database wherever the command happens to run.
        if isinstance(value, str) and not value.strip():
            raise ValueError("the path is empty; give a directory, or unset it for ~/.aadap")
        return value

    @field_validator("data_root", mode="before")
    @classmethod
    def _data_root_unset_when_blank(cls, value: Any) -> Any:
        # an empty value means "not set" (as in .env.example): the current directory
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("data_root", mode="after")
    @classmethod
    def _data_root_is_a_directory(cls, value: Path | None) -> Path | None:
        if value is None:
            return None
        path = value.expanduser().resolve()
        if not path.is_dir():
            raise ValueError(f"{path} is not a directory; give the folder your data files are in")
        return path

    @field_validator("home", mode="after")
    @classmethod
    def _expand_home(cls, value: Path) -> Path:
        return value.expanduser()

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            zoneinfo.ZoneInfo(value)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(
                f"unknown time zone {value!r}; use an IANA name such as UTC or Europe/Paris"
            ) from exc
        return value

    @model_validator(mode="after")
    def _check_llm(self) -> Settings:
        if self.llm.provider == "openai" and not self.llm.base_url:
            raise ValueError("llm.base_url is required when AADAP_LLM_PROVIDER=openai")
        return self

    @property
    def database_url(self) -> str:
        if self.database.url is not None:
            return self.database.url.get_secret_value()
        return f"sqlite+aiosqlite:///{self.home / 'aadap.db'}"

    @property
    def resolved_data_root(self) -> Path:
        """The data root: ``AADAP_DATA_ROOT``, else the directory the process runs in."""
        return self.data_root if self.data_root is not None else Path.cwd().resolve()

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    def public_view(self) -> dict[str, Any]:
        """Everything, with secrets masked: what ``aadap config show`` prints."""
        data = self.model_dump(mode="json")
        data["database"]["url"] = mask_url(self.database_url)
        data["secret_key"] = mask_secret(self.secret_key)
        data["llm"]["api_key"] = mask_secret(self.llm.api_key)
        return data


def mask_secret(secret: SecretStr | str | None, *, keep: int = 4) -> str | None:
    """``None`` stays ``None``; otherwise at most the last ``keep`` characters are shown."""
    if secret is None:
        return None
    raw = secret.get_secret_value() if isinstance(secret, SecretStr) else secret
    if len(raw) <= keep * 2:
        return "****"
    return "****" + raw[-keep:]


_ENV_NAMES = {
    "database": "AADAP_DATABASE_",
    "llm": "AADAP_LLM_",
    "platforms": "AADAP_PLATFORMS_",
    "budgets": "AADAP_BUDGETS_",
    "retries": "AADAP_RETRIES_",
    "safety": "AADAP_SAFETY_",
    "schedules": "AADAP_SCHEDULES_",
}


def env_name(group: str | None, field: str) -> str:
    prefix = _ENV_NAMES.get(group or "", "AADAP_")
    return f"{prefix}{field}".upper()


def _describe(exc: ValidationError, group: str | None) -> str:
    problems = []
    for err in exc.errors():
        loc = [str(p) for p in err["loc"]]
        grp, field = (
            (loc[0], loc[1])
            if group is None and len(loc) > 1 and loc[0] in _ENV_NAMES
            else (group, loc[0] if loc else "")
        )
        name = env_name(grp, field) if field else "AADAP settings"
        value = err.get("input")
        if field == "url" and isinstance(value, str):
            shown = repr(mask_url(value))
        elif "key" in field or "secret" in field:
            shown = "<secret>"
        else:
            shown = repr(value)
        problems.append(f"{name}={shown}: {err['msg']}")
    return "; ".join(problems)


def load_settings(**overrides: Any) -> Settings:
    """Build settings from the environment (and ``overrides``), or raise ``ConfigurationError``.

    The error names the environment variable, the (masked) value and what is allowed.
    """
    groups: dict[str, Any] = {}
    for group, cls in (
        ("database", DatabaseSettings),
        ("llm", LLMSettings),
        ("platforms", PlatformSettings),
        ("budgets", BudgetSettings),
        ("retries", RetrySettings),
        ("safety", SafetySettings),
        ("schedules", ScheduleSettings),
    ):
        if group in overrides:
            continue
        try:
            groups[group] = cls()
        except ValidationError as exc:
            raise InvalidConfigurationError(
                _describe(exc, group), details={"group": group}
            ) from exc
        except SettingsError as exc:
            raise _undecodable(exc, group) from exc
    try:
        return Settings(**groups, **overrides)
    except ValidationError as exc:
        raise InvalidConfigurationError(_describe(exc, None)) from exc
    except SettingsError as exc:
        raise _undecodable(exc, None) from exc


_FIELD_IN_SETTINGS_ERROR = re.compile(r'field "(\w+)"')


def _undecodable(exc: SettingsError, group: str | None) -> InvalidConfigurationError:
    """A variable holding a dict or list (``AADAP_SAFETY_POLICY``, ``AADAP_LLM_MODELS``, …)
    that is not valid JSON: name the variable, its start and what JSON said."""
    found = _FIELD_IN_SETTINGS_ERROR.search(str(exc))
    name = env_name(group, found.group(1)) if found else "an AADAP_ variable"
    raw = os.environ.get(name, "")
    shown = "<secret>" if "KEY" in name or "SECRET" in name else repr(raw[:60])
    cause = exc.__cause__
    why = (
        f"{cause.msg} at line {cause.lineno} column {cause.colno}"
        if isinstance(cause, json.JSONDecodeError)
        else str(cause or exc)
    )
    return InvalidConfigurationError(
        f"{name}={shown} is not valid JSON ({why}); allowed: JSON as in .env.example",
        details={"variable": name},
    )


__all__ = [
    "BudgetSettings",
    "ConfigurationError",
    "DatabaseSettings",
    "LLMSettings",
    "PlatformSettings",
    "RetrySettings",
    "SafetySettings",
    "ScheduleSettings",
    "Settings",
    "load_settings",
    "mask_secret",
    "mask_url",
    "normalise_database_url",
]
