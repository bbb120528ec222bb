"""What an LLM call cost, in exact USD ``Decimal``.

Resolution order for :func:`price_call`:

1. ``AADAP_LLM_PRICES`` keyed by the model name the caller configured (a model, a
   gateway alias such as ``aadap-parser``, an Azure deployment), then by a model
   the endpoint reported it used: a price in USD per million tokens, or the name
   of a model whose known price applies (``{"aadap-parser": "gpt-4o-mini"}``);
2. the offline provider is free;
3. the ``genai-prices`` snapshot that ships with the library (no network), first
   for the model the endpoint reported (a gateway such as LiteLLM names the
   upstream model it routed to), then for the configured name;
4. otherwise ``None``: the model is *unpriced*. Never zero — a USD budget must
   fail closed on an unpriced model (``UnpricedModelError``), not treat it as free.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal

from aadap.core.config import PRICE_EXAMPLE, PriceOverride, PriceSetting

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
"""AADAP (or LiteLLM) provider name -> genai-prices provider id. Else: guess from the model."""


@dataclass(frozen=True, slots=True)
class Price:
    """A call's cost and the model name it was priced as (``None`` when unpriced)."""

    cost_usd: Decimal | None
    priced_as: str | None


def price_from_override(override: PriceOverride, tokens_in: int, tokens_out: int) -> Decimal:
    """Tokens times USD per million tokens, exactly."""
    _check_tokens(tokens_in, tokens_out)
    return (
        Decimal(tokens_in) * override.input_per_mtok
        + Decimal(tokens_out) * override.output_per_mtok
    ) / _PER_MILLION


def price_call(
    model: str,
    provider: str,
    tokens_in: int,
    tokens_out: int,
    prices: Mapping[str, PriceSetting],
    *,
    reported: Sequence[str] = (),
) -> Price:
    """The cost of one call to ``model`` (the configured name), given the models the
    endpoint ``reported`` it used (``provider/model`` names are split)."""
    _check_tokens(tokens_in, tokens_out)
    names = [model, *(name for name in reported if name and name != model)]
    for name in names:
        setting = prices.get(name)
        if isinstance(setting, PriceOverride):
            return Price(price_from_override(setting, tokens_in, tokens_out), name)
        if isinstance(setting, str):
            cost = known_price(setting, provider, tokens_in, tokens_out)
            return Price(cost, setting if cost is not None else None)
    if provider in FREE_PROVIDERS:
        return Price(Decimal("0"), model)
    for name in [*names[1:], model]:
        cost = known_price(name, provider, tokens_in, tokens_out)
        if cost is not None:
            return Price(cost, name)
    return Price(None, None)


def price_usage(
    model: str,
    provider: str,
    tokens_in: int,
    tokens_out: int,
    overrides: Mapping[str, PriceSetting],
) -> Decimal | None:
    """USD cost of one call to ``model``, or ``None`` when it has no known price."""
    return price_call(model, provider, tokens_in, tokens_out, overrides).cost_usd


def known_price(model: str, provider: str, tokens_in: int, tokens_out: int) -> Decimal | None:
    """The ``genai-prices`` price of ``model`` (``provider/model`` accepted), or ``None``."""
    import genai_prices  # its price snapshot loads in ~0.07 s: only when a paid model is priced

    prefix, slash, bare = model.partition("/")
    if slash and prefix.lower() in _GENAI_PROVIDER_IDS:
        provider, model = prefix, bare
    usage = genai_prices.Usage(input_tokens=tokens_in, output_tokens=tokens_out)
    try:
        calculation = genai_prices.calc_price(
            usage, model, provider_id=_GENAI_PROVIDER_IDS.get(provider.lower())
        )
    except LookupError:
        return None
    total = calculation.total_price
    return total if isinstance(total, Decimal) else Decimal(str(total))


def unpriced_advice(model: str, reported: Sequence[str] = ()) -> str:
    """How to fix an unpriced model: the setting with a ready-to-paste value, or no budget."""
    also = [name for name in reported if name and name != model]
    seen = f" (the endpoint reported {', '.join(repr(n) for n in also)})" if also else ""
    return (
        f"model {model!r}{seen} has no known price; set its price, e.g. "
        f"AADAP_LLM_PRICES='{{\"{model}\": {PRICE_EXAMPLE}}}' (USD per million tokens) or "
        f'AADAP_LLM_PRICES=\'{{"{model}": "gpt-4o-mini"}}\' (the price of a known model), '
        "or run without a USD budget: AADAP_BUDGETS_TASK_USD=off"
    )


def _check_tokens(tokens_in: int, tokens_out: int) -> None:
    if tokens_in < 0 or tokens_out < 0:
        raise ValueError(f"token counts cannot be negative: in={tokens_in}, out={tokens_out}")


__all__ = [
    "FREE_PROVIDERS",
    "PRICE_EXAMPLE",
    "Price",
    "known_price",
    "price_call",
    "price_from_override",
    "price_usage",
    "unpriced_advice",
]
