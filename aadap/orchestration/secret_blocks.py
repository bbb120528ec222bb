"""``prefect-secret:BLOCK`` references: a connection's secret read from a Prefect Secret block.

The services accept this as their :data:`~aadap.services.secrets.BlockResolver`;
only this package may import Prefect. The value is returned as a ``SecretStr``
and read with ``get_secret_value()`` (not ``Secret.get()``, which would turn a
numeric-looking secret into a number).
"""

from __future__ import annotations

import httpx
from pydantic import SecretStr

from aadap.core.exceptions import (
    IntegrationError,
    InvalidConfigurationError,
    MissingConfigurationError,
)


async def load_secret(name: str) -> SecretStr:
    """The value of the Prefect Secret block ``name`` (read from the configured Prefect API)."""
    from prefect.blocks.system import Secret  # Prefect loads lazily: the CLI starts faster

    ref = f"prefect-secret:{name}"
    try:
        block: object = await Secret.aload(name)
    except ValueError as exc:  # Prefect's "Unable to find block document named …"
        raise MissingConfigurationError(
            f"Prefect Secret block {name!r} does not exist; create it in the Prefect UI or with "
            f"Secret(value=...).save({name!r})",
            details={"field": "secret_ref", "value": ref},
        ) from exc
    except httpx.HTTPError as exc:  # includes PrefectHTTPStatusError
        raise IntegrationError(
            f"cannot read Prefect Secret block {name!r} from the Prefect API: {type(exc).__name__}",
            details={"field": "secret_ref", "value": ref},
        ) from exc
    value = block.value.get_secret_value() if isinstance(block, Secret) else None
    if not isinstance(value, str) or not value:
        raise InvalidConfigurationError(
            f"Prefect Secret block {name!r} must hold a non-empty string, not {type(value).__name__}",
            details={"field": "secret_ref", "value": ref},
        )
    return SecretStr(value)


__all__ = ["load_secret"]
