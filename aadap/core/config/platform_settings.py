"""``AADAP_PLATFORMS_*``: allowed hosts, polls and timeouts, the local engine, compute prices."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from aadap.core.config._group import SettingsGroup


class PlatformSettings(SettingsGroup):
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


__all__ = ["PlatformSettings"]
