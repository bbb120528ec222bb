"""The databricks-sdk boundary: building the client, calling it off the event loop, mapping errors.

* **Explicit configuration.** A personal access token goes into a small
  credentials strategy (``auth_type="pat"``) that builds the ``Authorization``
  header from the ``SecretStr`` on each request; the SDK's ``Config`` never
  stores it. OAuth machine-to-machine and Azure service principals use the
  SDK's own strategies (``oauth-m2m``, ``azure-client-secret``), which fetch
  and refresh tokens; see :class:`DatabricksAuth`. With a host and credentials given,
  the SDK does not read ``~/.databrickscfg`` (unless ``DATABRICKS_CONFIG_PROFILE``
  is set); explicit values win over ``DATABRICKS_*`` variables.
* **One retry loop.** The SDK's own retry loop (``retries.retried``) sleeps
  through its ``Config(clock=...)`` before each retry of a 429/503 or a
  connection error. :class:`_SingleAttemptClock` makes that sleep re-raise the
  error being handled, so each SDK call is exactly one HTTP attempt and
  :func:`aadap.platforms._http.with_retries` (``is_retryable``, the injected
  sleep, bounded attempts; writes only when resending is safe) is the only
  retry policy.
* **Map once.** :func:`map_sdk_error` turns SDK and ``requests`` exceptions into
  the taxonomy; nothing above this module sees a ``DatabricksError``.
"""

from __future__ import annotations

import asyncio
import sys
import time
from collections.abc import Callable
from typing import Any, Literal, TypeVar

import requests
from databricks.sdk import WorkspaceClient
from databricks.sdk.clock import Clock as SdkClock
from databricks.sdk.config import Config
from databricks.sdk.credentials_provider import CredentialsStrategy
from databricks.sdk.environments import (
    ARM_DATABRICKS_RESOURCE_ID,
    ENVIRONMENTS,
    AzureEnvironment,
    Cloud,
    DatabricksEnvironment,
)
from databricks.sdk.errors import (
    BadRequest,
    DeadlineExceeded,
    InternalError,
    NotFound,
    PermissionDenied,
    ResourceConflict,
    TemporarilyUnavailable,
    TooManyRequests,
    Unauthenticated,
)
from databricks.sdk.errors import NotImplemented as SdkNotImplemented
from databricks.sdk.errors.base import DatabricksError
from pydantic import BaseModel, ConfigDict, SecretStr, model_validator

from aadap.core.config import PlatformSettings
from aadap.core.enums import PlatformKind
from aadap.core.exceptions import (
    AADAPError,
    InvalidConfigurationError,
    PlatformAuthenticationError,
    PlatformConnectionError,
)
from aadap.platforms._http import error_for_status, error_for_transport, with_retries
from aadap.platforms.protocol import Sleep

T = TypeVar("T")

_KIND = PlatformKind.DATABRICKS

# Most specific first: the SDK's classes stand for these HTTP statuses.
_STATUS_OF: tuple[tuple[type[DatabricksError], int], ...] = (
    (Unauthenticated, 401),
    (PermissionDenied, 403),
    (TooManyRequests, 429),
    (TemporarilyUnavailable, 503),
    (DeadlineExceeded, 504),
    (SdkNotImplemented, 501),
    (InternalError, 500),
    (NotFound, 404),
    (ResourceConflict, 409),
    (BadRequest, 400),
)


class _PatCredentials(CredentialsStrategy):
    """``Authorization: Bearer <token>``, read from the ``SecretStr`` per request."""

    def __init__(self, token: SecretStr) -> None:
        self._token = token

    def auth_type(self) -> str:
        return "pat"

    def __call__(self, cfg: Config) -> Callable[[], dict[str, str]]:
        def headers() -> dict[str, str]:
            return {"Authorization": f"Bearer {self._token.get_secret_value()}"}

        return headers

    def __repr__(self) -> str:
        return "_PatCredentials(token=SecretStr('**********'))"


class _SingleAttemptClock(SdkClock):
    """A real clock whose ``sleep`` re-raises the exception the SDK is handling.

    The SDK only sleeps inside ``except`` blocks of its retry loop; re-raising
    there hands the original error (``TooManyRequests`` with its
    ``retry_after_secs``, a ``requests.ConnectionError``, …) straight to us.
    Called outside an exception handler it sleeps for real, as a clock should.
    """

    def time(self) -> float:
        return time.time()

    def sleep(self, seconds: float) -> None:
        in_flight = sys.exc_info()[1]
        if in_flight is not None:
            raise in_flight
        time.sleep(seconds)


AuthMethod = Literal["pat", "oauth-m2m", "azure-client-secret"]
"""How a Databricks connection authenticates (the SDK's ``auth_type`` names)."""


class DatabricksAuth(BaseModel):
    """The credentials of one connection, for the SDK's own credential strategies.

    * ``pat``: a personal access token (``token``).
    * ``oauth-m2m``: a Databricks service principal's OAuth secret (``client_id``,
      ``client_secret``); the SDK discovers the workspace's OIDC token endpoint
      (``/oidc/v1/token``) and refreshes tokens itself.
    * ``azure-client-secret``: a Microsoft Entra service principal (``client_id``,
      ``client_secret``, ``azure_tenant_id``); the SDK gets and refreshes Entra tokens.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    method: AuthMethod = "pat"
    token: SecretStr | None = None
    client_id: str | None = None
    client_secret: SecretStr | None = None
    azure_tenant_id: str | None = None
    azure_login_host: str | None = None
    """Microsoft Entra authority (``https://login.microsoftonline.com``, a sovereign cloud's, or
    the test suite's fake); ``None`` lets the SDK derive it from the workspace host."""

    @model_validator(mode="after")
    def _complete(self) -> DatabricksAuth:
        needed = {
            "pat": ("token",),
            "oauth-m2m": ("client_id", "client_secret"),
            "azure-client-secret": ("client_id", "client_secret", "azure_tenant_id"),
        }[self.method]
        missing = [name for name in needed if not getattr(self, name)]
        if missing:
            raise ValueError(f"auth_method={self.method!r} needs {', '.join(missing)}")
        return self

    def sdk_options(self) -> dict[str, Any]:
        """The ``Config`` arguments that select and feed the SDK's credential strategy."""
        secret = self.client_secret.get_secret_value() if self.client_secret else None
        if self.method == "oauth-m2m":
            return {"auth_type": "oauth-m2m", "client_id": self.client_id, "client_secret": secret}
        if self.method == "azure-client-secret":
            options: dict[str, Any] = {
                "auth_type": "azure-client-secret",
                "azure_client_id": self.client_id,
                "azure_client_secret": secret,
                "azure_tenant_id": self.azure_tenant_id,
            }
            if self.azure_login_host:
                public = ENVIRONMENTS["PUBLIC"]
                options["databricks_environment"] = DatabricksEnvironment(
                    Cloud.AZURE,
                    ".azuredatabricks.net",
                    azure_application_id=ARM_DATABRICKS_RESOURCE_ID,
                    azure_environment=AzureEnvironment(
                        name="PUBLIC",
                        service_management_endpoint=public.service_management_endpoint,
                        resource_manager_endpoint=public.resource_manager_endpoint,
                        active_directory_endpoint=self.azure_login_host.rstrip("/") + "/",
                    ),
                )
            return options
        assert self.token is not None  # checked by _complete
        return {"auth_type": "pat", "credentials_strategy": _PatCredentials(self.token)}


def build_client(host: str, auth: DatabricksAuth, settings: PlatformSettings) -> WorkspaceClient:
    """A ``WorkspaceClient`` for ``host`` (blocking: the SDK probes the host's metadata).

    The SDK keeps an OAuth client secret in its ``Config``, whose debug string
    masks it (``sensitive`` attributes); a PAT stays in our ``SecretStr``.
    """
    try:
        config = Config(
            host=host,
            **auth.sdk_options(),
            clock=_SingleAttemptClock(),
            http_timeout_seconds=settings.http_timeout_seconds,
            retry_timeout_seconds=max(1, int(settings.http_timeout_seconds)),
            debug_headers=False,
            product="aadap",
            product_version="0.1.0",
        )
    except ValueError as exc:
        raise InvalidConfigurationError(
            f"databricks workspace_url={host!r} with auth_method={auth.method!r}: "
            f"the SDK rejected the configuration: {exc}",
            details={"field": "auth_method", "value": auth.method, "platform": _KIND.value},
        ) from exc
    return WorkspaceClient(config=config)


def close_client(client: WorkspaceClient) -> None:
    """Close the SDK's pooled HTTP connections (it has no public ``close``)."""
    base = getattr(getattr(client, "api_client", None), "_api_client", None)
    session = getattr(base, "_session", None)
    if isinstance(session, requests.Session):
        session.close()


def map_sdk_error(exc: BaseException, operation: str) -> AADAPError:
    """The taxonomy error for an exception raised by an SDK call."""
    if isinstance(exc, DatabricksError):
        details: dict[str, Any] = {"platform_error_code": exc.error_code}
        retry_after = exc.retry_after_secs
        for cls, status in _STATUS_OF:
            if isinstance(exc, cls):
                return error_for_status(
                    status,
                    platform=_KIND,
                    operation=operation,
                    message=str(exc),
                    retry_after=None if retry_after is None else float(retry_after),
                    details=details,
                )
        # A status the SDK has no class for (502, an HTML error page, …): transient.
        return PlatformConnectionError(
            f"databricks {operation} failed: {exc}",
            details={"platform": _KIND.value, "operation": operation, **details},
        )
    # requests' ConnectionError/Timeout and the builtins the SDK raises when its loop gives up.
    # As in the SDK's own ``_is_retryable``: a ConnectionError (ConnectTimeout included) means
    # the request was not sent; a read timeout means it was and may have been executed.
    timed_out = isinstance(exc, requests.Timeout | TimeoutError)
    sent = not isinstance(exc, requests.ConnectionError)
    return error_for_transport(
        exc, platform=_KIND, operation=operation, timed_out=timed_out, sent=sent
    )


_MAPPED = (DatabricksError, requests.RequestException, ConnectionError, TimeoutError)


class SdkCaller:
    """Runs blocking SDK calls in a worker thread, mapped and retried."""

    def __init__(
        self,
        host: str,
        auth: DatabricksAuth,
        settings: PlatformSettings,
        *,
        sleep: Sleep,
        attempts: int,
    ) -> None:
        self._host = host
        self._auth = auth
        self._settings = settings
        self._sleep = sleep
        self._attempts = attempts
        self._client: WorkspaceClient | None = None
        self._lock = asyncio.Lock()

    async def client(self) -> WorkspaceClient:
        async with self._lock:
            if self._client is None:
                self._client = await asyncio.to_thread(
                    build_client, self._host, self._auth, self._settings
                )
            return self._client

    async def __call__(
        self, operation: str, fn: Callable[[WorkspaceClient], T], *, write: bool = False
    ) -> T:
        """``fn(client)`` in a thread; SDK errors mapped; transient ones retried.

        ``write=True``: the call is resent only when the failure proves it was not
        acted on (:func:`aadap.platforms._http.resend_is_safe`).
        """
        client = await self.client()

        async def attempt() -> T:
            try:
                return await asyncio.to_thread(fn, client)
            except _MAPPED as exc:
                raise map_sdk_error(exc, operation) from exc
            except ValueError as exc:
                if self._auth.method == "pat":
                    raise
                # The SDK's OAuth token request (oauth.retrieve_token) reports a refusal
                # as ValueError("<error>: <description>"), raised from its auth hook.
                raise PlatformAuthenticationError(
                    f"databricks {operation}: the {self._auth.method} token request for client "
                    f"{self._auth.client_id} failed: {exc}",
                    details={
                        "platform": _KIND.value,
                        "operation": operation,
                        "auth_method": self._auth.method,
                    },
                ) from exc

        return await with_retries(
            attempt,
            sleep=self._sleep,
            attempts=self._attempts,
            max_wait=self._settings.retry_after_max_seconds,
            write=write,
        )

    async def aclose(self) -> None:
        async with self._lock:
            if self._client is not None:
                close_client(self._client)
                self._client = None


__all__ = [
    "AuthMethod",
    "DatabricksAuth",
    "SdkCaller",
    "build_client",
    "close_client",
    "map_sdk_error",
]
