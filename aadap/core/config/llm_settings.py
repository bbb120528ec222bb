"""``AADAP_LLM_*``: the provider, its endpoint and key, per-agent models and prices."""

from __future__ import annotations

from decimal import Decimal
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator
from pydantic_settings import SettingsConfigDict

from aadap.core.config._group import SettingsGroup


class PriceOverride(BaseModel):
    """USD per million tokens, in and out."""

    model_config = ConfigDict(extra="forbid")

    input_per_mtok: Decimal = Field(ge=0, allow_inf_nan=False)
    output_per_mtok: Decimal = Field(ge=0, allow_inf_nan=False)


PriceSetting = PriceOverride | str
"""A price in USD per million tokens, or the name of a model whose known price applies."""


class LLMSettings(SettingsGroup):
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


__all__ = ["PRICE_EXAMPLE", "LLMSettings", "PriceOverride", "PriceSetting"]
