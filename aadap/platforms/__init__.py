"""Run code on a data platform: local (DuckDB + subprocess), Databricks, Microsoft Fabric.

Pure domain layer: no application database, no Prefect. Every platform follows
:class:`~aadap.platforms.protocol.Platform` and raises only taxonomy errors.
:func:`create_platform` builds one from a kind and its connection settings.

The platforms' modules load on first use (:func:`__getattr__`, :func:`create_platform`):
the Databricks SDK alone took about a second to import, azure-identity and DuckDB a
tenth together, in every process that imported this package, most of which never run
on Databricks or Fabric.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from pydantic import BaseModel, ValidationError

from aadap.core.config import PlatformSettings
from aadap.core.enums import PlatformKind
from aadap.core.exceptions import InvalidConfigurationError
from aadap.platforms._lifecycle import BasePlatform
from aadap.platforms.protocol import (
    PREVIEW_ROWS,
    Clock,
    Platform,
    RunHandle,
    RunResult,
    Sleep,
)
from aadap.platforms.workspace_urls import validate_workspace_url

if TYPE_CHECKING:
    from aadap.platforms._fabric_auth import ClientSecretTokenProvider, TokenProvider
    from aadap.platforms.databricks import DatabricksConfig, DatabricksPlatform
    from aadap.platforms.fabric import FabricConfig, FabricPlatform
    from aadap.platforms.local import LocalPlatform

#: the names this package exports from modules it loads on first use
_LAZY = {
    "ClientSecretTokenProvider": "aadap.platforms._fabric_auth",
    "TokenProvider": "aadap.platforms._fabric_auth",
    "DatabricksConfig": "aadap.platforms.databricks",
    "DatabricksPlatform": "aadap.platforms.databricks",
    "FabricConfig": "aadap.platforms.fabric",
    "FabricPlatform": "aadap.platforms.fabric",
    "LocalPlatform": "aadap.platforms.local",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)


def create_platform(
    kind: PlatformKind | str,
    settings: PlatformSettings,
    *,
    config: DatabricksConfig | FabricConfig | Mapping[str, Any] | None = None,
    home: Path | None = None,
    sleep: Sleep | None = None,
    clock: Clock | None = None,
) -> BasePlatform:
    """The platform for ``kind``.

    ``config`` is the connection's settings (a config model, or a mapping such
    as a decrypted ``platform_connections.config``). For ``local`` it may hold
    ``database_path`` and ``workdir``; they default to ``home/local.duckdb`` and
    ``home/runs``.
    """
    try:
        platform_kind = PlatformKind(kind)
    except ValueError:
        allowed = ", ".join(k.value for k in PlatformKind)
        raise InvalidConfigurationError(
            f"platform kind={kind!r} is unknown; allowed: {allowed}",
            details={"field": "kind", "value": str(kind)},
        ) from None
    if platform_kind is PlatformKind.LOCAL:
        values = dict(config) if isinstance(config, Mapping) else {}
        if home is None and not {"database_path", "workdir"} <= values.keys():
            raise InvalidConfigurationError(
                "the local platform needs home (or database_path and workdir)",
                details={"field": "home", "value": None},
            )
        base = home or Path(".")
        from aadap.platforms.local import LocalPlatform

        return LocalPlatform(
            Path(values.get("database_path") or base / "local.duckdb"),
            Path(values.get("workdir") or base / "runs"),
            settings,
            sleep=sleep,
            clock=clock,
        )
    if config is None:
        raise InvalidConfigurationError(
            f"a {platform_kind.value} platform needs its connection config",
            details={"field": "config", "value": None, "platform": platform_kind.value},
        )
    if platform_kind is PlatformKind.DATABRICKS:
        from aadap.platforms.databricks import DatabricksConfig, DatabricksPlatform

        databricks = (
            config if isinstance(config, DatabricksConfig) else _parse(DatabricksConfig, config)
        )
        return DatabricksPlatform(databricks, settings, sleep=sleep, clock=clock)
    from aadap.platforms.fabric import FabricConfig, FabricPlatform

    fabric = config if isinstance(config, FabricConfig) else _parse(FabricConfig, config)
    return FabricPlatform(fabric, settings, sleep=sleep, clock=clock)


M = TypeVar("M", bound=BaseModel)


def _parse(model: type[M], config: object) -> M:
    if not isinstance(config, Mapping):
        raise InvalidConfigurationError(
            f"expected {model.__name__} or a mapping, got {type(config).__name__}",
            details={"field": "config"},
        )
    try:
        return model.model_validate(dict(config))
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}" for err in exc.errors()
        )
        raise InvalidConfigurationError(
            f"invalid {model.__name__}: {problems}", details={"field": "config"}
        ) from exc


__all__ = [
    "PREVIEW_ROWS",
    "BasePlatform",
    "ClientSecretTokenProvider",
    "Clock",
    "DatabricksConfig",
    "DatabricksPlatform",
    "FabricConfig",
    "FabricPlatform",
    "LocalPlatform",
    "Platform",
    "RunHandle",
    "RunResult",
    "Sleep",
    "TokenProvider",
    "create_platform",
    "validate_workspace_url",
]
