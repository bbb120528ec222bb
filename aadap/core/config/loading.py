"""Building the settings: :func:`load_settings`, whose errors name the variable to fix.

Settings are built by this function, never at import time; tests build their own.
"""

from __future__ import annotations

import json
import os
import re
from typing import Any

from pydantic import ValidationError
from pydantic_settings import SettingsError

from aadap.core.config.budget_settings import BudgetSettings
from aadap.core.config.database_settings import DatabaseSettings
from aadap.core.config.llm_settings import LLMSettings
from aadap.core.config.masking import mask_url
from aadap.core.config.platform_settings import PlatformSettings
from aadap.core.config.retry_settings import RetrySettings
from aadap.core.config.safety_settings import SafetySettings
from aadap.core.config.schedule_settings import ScheduleSettings
from aadap.core.config.settings import Settings
from aadap.core.exceptions import InvalidConfigurationError

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


__all__ = ["env_name", "load_settings"]
