"""``AADAP_SAFETY_*``: the approval policy per environment, approval timeouts and egress."""

from __future__ import annotations

from typing import Literal

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from aadap.core.config._group import SettingsGroup

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


class SafetySettings(SettingsGroup):
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


__all__ = ["Decision", "SafetySettings"]
