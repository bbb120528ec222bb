"""Pricing: overrides, the genai-prices snapshot, and unpriced models."""

from __future__ import annotations

from decimal import Decimal

import pytest

from aadap.core.config import PriceOverride
from aadap.llm.pricing import price_from_override, price_usage


def test_known_model_is_priced_from_genai_prices_as_an_exact_decimal() -> None:
    cost = price_usage("gpt-4o-mini", "openai", 1000, 500, {})
    assert isinstance(cost, Decimal)
    assert cost == Decimal("0.00045")  # $0.15 in / $0.60 out per million tokens


def test_azure_provider_prices_known_model_names() -> None:
    assert price_usage("gpt-4o", "azure", 1_000_000, 0, {}) == Decimal("2.50")


def test_dated_model_names_resolve() -> None:
    assert price_usage("gpt-4o-mini-2024-07-18", "openai", 1_000_000, 1_000_000, {}) == Decimal(
        "0.75"
    )


def test_override_wins_over_genai_prices() -> None:
    overrides = {"gpt-4o-mini": PriceOverride(input_per_mtok=Decimal("1"), output_per_mtok=2)}
    assert price_usage("gpt-4o-mini", "openai", 1000, 500, overrides) == Decimal("0.002")


def test_override_prices_an_azure_deployment_name() -> None:
    overrides = {"prod-gpt": PriceOverride(input_per_mtok=Decimal("0.1"), output_per_mtok=0)}
    assert price_usage("prod-gpt", "azure", 3, 7, overrides) == Decimal("0.0000003")
    assert price_usage("prod-gpt", "azure", 3, 7, {}) is None


@pytest.mark.parametrize("provider", ["openai", "azure", "vllm"])
def test_unknown_model_is_unpriced_never_zero(provider: str) -> None:
    assert price_usage("house-model-7b", provider, 1000, 1000, {}) is None


def test_offline_provider_is_free() -> None:
    assert price_usage("offline", "offline", 10_000, 10_000, {}) == Decimal("0")


def test_zero_tokens_cost_zero_for_a_priced_model() -> None:
    assert price_usage("gpt-4o", "openai", 0, 0, {}) == Decimal("0")


def test_negative_tokens_are_rejected() -> None:
    with pytest.raises(ValueError, match="negative"):
        price_usage("gpt-4o", "openai", -1, 0, {})


def test_price_from_override_is_exact() -> None:
    price = PriceOverride(input_per_mtok=Decimal("0.15"), output_per_mtok=Decimal("0.60"))
    assert price_from_override(price, 333, 777) == Decimal("0.00051615")
