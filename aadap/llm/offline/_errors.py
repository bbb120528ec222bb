"""The one error the offline provider raises: "this request is beyond my rules"."""

from __future__ import annotations

from aadap.core.exceptions import LLMUnsupportedRequestError

SUPPORTED_FAMILY = (
    "load a CSV/Parquet/JSON file into a table; filter, deduplicate, aggregate or join into a new"
    " table (steps may be chained in one request); run a given SQL statement; list tables;"
    " preview or profile a table or file"
)
CONFIGURE_HINT = (
    "configure an LLM provider to handle it: set AADAP_LLM_PROVIDER=openai with"
    " AADAP_LLM_BASE_URL and AADAP_LLM_API_KEY"
)


def unsupported(
    reason: str, *, agent: str = "parser", **details: object
) -> LLMUnsupportedRequestError:
    """Build the error; the message names what is supported and how to go further."""
    message = (
        f"The offline LLM provider cannot handle this request: {reason}. It supports only a"
        f" fixed family of requests ({SUPPORTED_FAMILY}), for the local DuckDB platform."
        f" To go beyond it, {CONFIGURE_HINT}."
    )
    return LLMUnsupportedRequestError(
        message,
        agent_id=agent,
        details={"reason": reason, "provider": "offline", **details},
    )
