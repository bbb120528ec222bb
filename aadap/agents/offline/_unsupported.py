"""The one error the offline provider raises: "this request is beyond my rules"."""

from __future__ import annotations

from aadap.core.exceptions import LLMUnsupportedRequestError

SUPPORTED_FAMILY = (
    "load a CSV/Parquet/JSON file into a table; filter, deduplicate, aggregate or join into a new"
    " table (steps may be chained in one request); run a given SQL statement; list tables;"
    " preview or profile a table or file"
)
_MAX_REASON = 400
CONFIGURE_HINT = (
    "configure an LLM provider to handle it: set AADAP_LLM_PROVIDER=openai with"
    " AADAP_LLM_BASE_URL and AADAP_LLM_API_KEY"
)


def unsupported(
    reason: str, *, agent: str = "parser", suggestions: list[str] | None = None, **details: object
) -> LLMUnsupportedRequestError:
    """Build the error; the message names what is supported and how to go further.

    ``suggestions`` (requests in the grammar) go into the details and, as a short list,
    into the message right after the reason, so a one-line CLI error shows them.
    """
    if len(reason) > _MAX_REASON:  # a refusal quotes parts of the request: keep it readable
        reason = reason[: _MAX_REASON - 1] + "…"
    shown = ""
    if suggestions:
        details["suggestions"] = list(suggestions)
        quoted = [f'"{suggestion}"' for suggestion in suggestions]
        listed = quoted[0] if len(quoted) == 1 else f"{', '.join(quoted[:-1])} or {quoted[-1]}"
        shown = f" Did you mean: {listed}?"
    message = (
        f"The offline LLM provider cannot handle this request: {reason}.{shown} It supports"
        f" only a fixed family of requests ({SUPPORTED_FAMILY}), for the local DuckDB platform."
        f" To go beyond it, {CONFIGURE_HINT}."
    )
    return LLMUnsupportedRequestError(
        message,
        agent_id=agent,
        details={"reason": reason, "provider": "offline", **details},
    )
