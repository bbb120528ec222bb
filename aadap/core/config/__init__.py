"""Settings: pydantic-settings with the ``AADAP_`` prefix, one group per concern.

Each group is its own ``BaseSettings`` with its own prefix (``AADAP_DATABASE_``,
``AADAP_LLM_``, …) so the variables read naturally (``AADAP_DATABASE_URL``,
``AADAP_LLM_API_KEY``), and its own module, as Prefect keeps its settings:
:mod:`~aadap.core.config.database_settings`, :mod:`~aadap.core.config.llm_settings`,
:mod:`~aadap.core.config.platform_settings`, :mod:`~aadap.core.config.budget_settings`,
:mod:`~aadap.core.config.retry_settings`, :mod:`~aadap.core.config.safety_settings`,
:mod:`~aadap.core.config.schedule_settings`. The root :class:`Settings` holds them all
(:mod:`~aadap.core.config.settings`). Settings are built by :func:`load_settings`
(:mod:`~aadap.core.config.loading`), never at import time; tests build their own.
Every secret is a ``SecretStr``.
"""

from __future__ import annotations

from aadap.core.config._group import ENV_FILE as ENV_FILE
from aadap.core.config.budget_settings import BUDGET_OFF as BUDGET_OFF
from aadap.core.config.budget_settings import BudgetSettings
from aadap.core.config.database_settings import DatabaseSettings, normalise_database_url
from aadap.core.config.llm_settings import PRICE_EXAMPLE as PRICE_EXAMPLE
from aadap.core.config.llm_settings import LLMSettings
from aadap.core.config.llm_settings import PriceOverride as PriceOverride
from aadap.core.config.llm_settings import PriceSetting as PriceSetting
from aadap.core.config.loading import env_name as env_name
from aadap.core.config.loading import load_settings
from aadap.core.config.masking import mask_secret, mask_url
from aadap.core.config.platform_settings import PlatformSettings
from aadap.core.config.retry_settings import RetrySettings
from aadap.core.config.safety_settings import Decision as Decision
from aadap.core.config.safety_settings import SafetySettings
from aadap.core.config.schedule_settings import ScheduleSettings
from aadap.core.config.settings import Settings
from aadap.core.exceptions import ConfigurationError

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
