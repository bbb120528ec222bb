"""What an LLM call cost, in exact USD ``Decimal``.

Resolution order for :func:`price_usage`:

1. ``overrides`` (``AADAP_LLM_PRICES``, USD per million tokens) keyed by the model
   name the caller used — for Azure that is the *deployment* name, which is
   usually not a model name any price list knows;
2. the offline provider is free;
3. the ``genai-prices`` snapshot that ships with the library (no network);
4. otherwise ``None``: the model is *unpriced*. Never zero — a USD budget must
   fail closed on an unpriced model (``UnpricedModelError``), not treat it as free.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal

import genai_prices

from aadap.core.config import PriceOverride

_PER_MILLION = Decimal(1_000_000)

FREE_PROVIDERS: frozenset[str] = frozenset({"offline"})
"""Providers whose calls never cost anything."""

_GENAI_PROVIDER_IDS: Mapping[str, str] = {
    "openai": "openai",
    "azure": "azure",
    "azure_openai": "azure",
    "anthropic": "anthropic",
    "google": "google",
    "mistral": "mistral",
    "groq": "groq",
    "deepseek": "deepseek",
}
"""AADAP provider name -> genai-prices provider id. Anything else: guess from the model."""


def price_from_override(override: PriceOverride, tokens_in: int, tokens_out: int) -> Decimal:
    """Tokens times USD per million tokens, exactly."""
    _check_tokens(tokens_in, tokens_out)
    return (
        Decimal(tokens_in) * override.input_per_mtok
        + Decimal(tokens_out) * override.output_per_mtok
    ) / _PER_MILLION


def price_usage(
    model: str,
    provider: str,
    tokens_in: int,
    tokens_out: int,
    overrides: Mapping[str, PriceOverride],
) -> Decimal | None:
    """USD cost of one call, or ``None`` when the model has no known price.

    ``provider`` is the AADAP provider name (``"openai"``, ``"azure"``,
    ``"offline"``…); it selects the genai-prices provider so the same model is
    priced at that provider's rates.
    """
    _check_tokens(tokens_in, tokens_out)
    override = overrides.get(model)
    if override is not None:
        return price_from_override(override, tokens_in, tokens_out)
    if provider in FREE_PROVIDERS:
        return Decimal("0")
    usage = genai_prices.Usage(input_tokens=tokens_in, output_tokens=tokens_out)
    try:
        calculation = genai_prices.calc_price(
            usage, model, provider_id=_GENAI_PROVIDER_IDS.get(provider.lower())
        )
    except LookupError:
        return None
    total = calculation.total_price
    return total if isinstance(total, Decimal) else Decimal(str(total))


def _check_tokens(tokens_in: int, tokens_out: int) -> None:
    if tokens_in < 0 or tokens_out < 0:
        raise ValueError(f"token counts cannot be negative: in={tokens_in}, out={tokens_out}")


__all__ = ["FREE_PROVIDERS", "price_from_override", "price_usage"]
