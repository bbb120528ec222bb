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
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from aadap.core.config import Settings
from aadap.core.enums import PlatformKind
from aadap.core.exceptions import InvalidRequestError
from aadap.platforms.workspace_urls import validate_workspace_url

_GUID = r"^[0-9a-fA-F]{8}-([0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}$"


class _Config(BaseModel):
    model_config = ConfigDict(
        extra="forbid", frozen=True, str_strip_whitespace=True, populate_by_name=True
    )


class DatabricksSettings(_Config):
    """A Databricks workspace: SQL on ``warehouse_id``, notebooks on a cluster, a policy or serverless.

    ``auth_method``: ``pat`` (the secret is a personal access token), ``oauth-m2m``
    (a Databricks service principal: ``client_id``, the secret is its OAuth secret) or
    ``azure-client-secret`` (a Microsoft Entra service principal: ``client_id``,
    ``azure_tenant_id``, the secret is its client secret).
    """

    workspace_url: str = Field(min_length=1)
    auth_method: Literal["pat", "oauth-m2m", "azure-client-secret"] = "pat"
    client_id: str | None = Field(default=None, min_length=1)
    azure_tenant_id: str | None = Field(default=None, min_length=1)
    azure_login_host: str | None = Field(default=None, min_length=1)
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
        needed = {"pat": (), "oauth-m2m": ("client_id",)}.get(
            self.auth_method, ("client_id", "azure_tenant_id")
        )
        missing = [name for name in needed if not getattr(self, name)]
        if missing:
            raise ValueError(f"auth_method={self.auth_method!r} needs {', '.join(missing)}")
        return self


class FabricSettings(_Config):
    """A Fabric workspace and lakehouse, reached by a service principal or a managed identity.

    ``auth_method``: ``client-secret`` (``tenant_id``, ``client_id``; the secret is the
    client secret) or ``managed-identity`` (the worker's Azure identity, ``client_id``
    for a user-assigned one; no secret). ``workspace_id`` and ``lakehouse_id`` are GUIDs.
    """

    auth_method: Literal["client-secret", "managed-identity"] = "client-secret"
    tenant_id: str | None = Field(default=None, min_length=1)
    client_id: str | None = Field(default=None, min_length=1)
    workspace_id: str = Field(min_length=1, pattern=_GUID)
    lakehouse_id: str = Field(min_length=1, pattern=_GUID)
    lakehouse_name: str | None = Field(default=None, min_length=1)
    api_base: str = "https://api.fabric.microsoft.com/v1"
    authority_host: str = "https://login.microsoftonline.com"
    onelake_base: str = "https://onelake.dfs.fabric.microsoft.com"
    ca_bundle: str | None = Field(default=None, min_length=1)

    @model_validator(mode="after")
    def _identity(self) -> FabricSettings:
        if self.auth_method == "client-secret":
            missing = [name for name in ("tenant_id", "client_id") if not getattr(self, name)]
            if missing:
                raise ValueError(f"auth_method='client-secret' needs {', '.join(missing)}")
        return self


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
"""The secret of each platform's default auth method (see :func:`secret_name`)."""


def auth_method(kind: PlatformKind, config: Mapping[str, Any]) -> str | None:
    """The auth method a stored connection uses (``None`` for local)."""
    if kind is PlatformKind.LOCAL:
        return None
    default = "pat" if kind is PlatformKind.DATABRICKS else "client-secret"
    return str(config.get("auth_method") or default)


def secret_name(kind: PlatformKind, config: Mapping[str, Any]) -> str | None:
    """What the connection's one secret is for its auth method; ``None`` when it takes none."""
    method = auth_method(kind, config)
    if method is None or method == "managed-identity":
        return None
    return "token" if method == "pat" else "client_secret"


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
        if parsed.azure_login_host:
            data["azure_login_host"] = validate_workspace_url(
                parsed.azure_login_host, kind, hosts, service="login", field="azure_login_host"
            )
    elif isinstance(parsed, FabricSettings):
        data["api_base"] = validate_workspace_url(parsed.api_base, kind, hosts, field="api_base")
        data["authority_host"] = validate_workspace_url(
            parsed.authority_host, kind, hosts, service="login", field="authority_host"
        )
        data["onelake_base"] = validate_workspace_url(
            parsed.onelake_base, kind, hosts, field="onelake_base"
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
    "auth_method",
    "parse_platform",
    "secret_name",
    "validate_config",
]
