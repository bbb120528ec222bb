"""Per-platform connection settings: the non-secret JSON of a platform connection.

One pydantic model per platform (:class:`DatabricksSettings`, :class:`FabricSettings`,
:class:`LocalSettings`) and :func:`validate_config`, which turns a mapping into the
stored JSON or raises ``InvalidRequestError`` naming the field. Workspace and API URLs
must be https on the platform's domains unless the host is in
``AADAP_PLATFORMS_ALLOWED_HOSTS``; local paths are made absolute.
:mod:`aadap.services.connections` stores, tests and uses connections built from these.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from aadap.core.config import Settings
from aadap.core.enums import PlatformKind
from aadap.core.exceptions import InvalidRequestError
from aadap.platforms.hosts import validate_workspace_url


class _Config(BaseModel):
    model_config = ConfigDict(
        extra="forbid", frozen=True, str_strip_whitespace=True, populate_by_name=True
    )


class DatabricksSettings(_Config):
    """A Databricks workspace: SQL on ``warehouse_id``, notebooks on a cluster, a policy or serverless."""

    workspace_url: str = Field(min_length=1)
    catalog: str = Field(min_length=1)
    db_schema: str = Field(min_length=1, alias="schema")
    warehouse_id: str | None = Field(default=None, min_length=1)
    cluster_id: str | None = Field(default=None, min_length=1)
    cluster_policy_id: str | None = Field(default=None, min_length=1)
    workspace_dir: str | None = Field(default=None, pattern=r"^/")

    @model_validator(mode="after")
    def _one_compute(self) -> DatabricksSettings:
        if self.cluster_id and self.cluster_policy_id:
            raise ValueError(
                "give cluster_id or cluster_policy_id, not both (neither: serverless jobs compute)"
            )
        return self


class FabricSettings(_Config):
    """A Fabric workspace and lakehouse, reached by a service principal (client credentials)."""

    tenant_id: str = Field(min_length=1)
    client_id: str = Field(min_length=1)
    workspace_id: str = Field(min_length=1)
    lakehouse_id: str = Field(min_length=1)
    lakehouse_name: str | None = Field(default=None, min_length=1)
    api_base: str = "https://api.fabric.microsoft.com/v1"
    authority_host: str = "https://login.microsoftonline.com"
    ca_bundle: str | None = Field(default=None, min_length=1)


class LocalSettings(_Config):
    """The local engine: a DuckDB file and a run directory (default: under AADAP_HOME)."""

    database_path: str | None = Field(default=None, min_length=1)
    workdir: str | None = Field(default=None, min_length=1)


SETTINGS_MODELS: dict[PlatformKind, type[_Config]] = {
    PlatformKind.DATABRICKS: DatabricksSettings,
    PlatformKind.FABRIC: FabricSettings,
    PlatformKind.LOCAL: LocalSettings,
}
SECRET_NAMES = {PlatformKind.DATABRICKS: "token", PlatformKind.FABRIC: "client_secret"}


def _fields(model: type[_Config]) -> str:
    return ", ".join(
        (info.alias or name) + ("" if info.is_required() else "?")
        for name, info in model.model_fields.items()
    )


def parse_platform(value: str) -> PlatformKind:
    try:
        return PlatformKind(value.strip().lower())
    except ValueError:
        allowed = ", ".join(k.value for k in PlatformKind)
        raise InvalidRequestError(
            f"platform={value!r} is unknown; allowed: {allowed}",
            details={"field": "platform", "value": value, "allowed": allowed},
        ) from None


def validate_config(
    kind: PlatformKind, config: Mapping[str, Any], settings: Settings
) -> dict[str, Any]:
    """The connection's settings as stored JSON, or ``InvalidRequestError`` naming the field."""
    model = SETTINGS_MODELS[kind]
    try:
        parsed = model.model_validate(dict(config))
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "config"
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'config'}"
            + (f"={e['input']!r}" if e["type"] != "missing" and e["loc"] else "")
            + f": {e['msg']}"
            for e in exc.errors()
        )
        raise InvalidRequestError(
            f"invalid {kind.value} connection settings: {problems}; allowed: {_fields(model)} "
            "(? = optional)",
            details={"field": where, "platform": kind.value, "allowed": _fields(model)},
        ) from exc
    data = parsed.model_dump(mode="json", by_alias=True, exclude_none=True)
    hosts = settings.platforms.allowed_hosts
    if isinstance(parsed, DatabricksSettings):
        data["workspace_url"] = validate_workspace_url(parsed.workspace_url, kind, hosts)
    elif isinstance(parsed, FabricSettings):
        data["api_base"] = validate_workspace_url(parsed.api_base, kind, hosts, field="api_base")
        data["authority_host"] = validate_workspace_url(
            parsed.authority_host, kind, hosts, service="login", field="authority_host"
        )
    else:
        for key in ("database_path", "workdir"):
            if key in data:
                data[key] = os.path.abspath(os.path.expanduser(data[key]))
    return data


__all__ = [
    "SECRET_NAMES",
    "SETTINGS_MODELS",
    "DatabricksSettings",
    "FabricSettings",
    "LocalSettings",
    "parse_platform",
    "validate_config",
]
