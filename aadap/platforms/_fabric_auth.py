"""Microsoft Entra tokens for the Fabric REST API through azure-identity.

Two methods: a service principal's client secret (``client-secret``,
:class:`ClientSecretTokenProvider`) and an Azure managed identity
(``managed-identity``, :class:`ManagedIdentityTokenProvider`).
``azure-identity``'s async credentials need aiohttp, which AADAP does not
install, so the synchronous credentials run in a worker thread. Tokens are cached until five minutes before expiry.
A non-default authority host (a sovereign cloud, or the test suite's fake on
127.0.0.1) disables instance discovery, which would otherwise ask
login.microsoftonline.com about it.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from urllib.parse import urlsplit

from azure.core.exceptions import (
    ClientAuthenticationError,
    ServiceRequestError,
    ServiceResponseError,
)
from azure.identity import ClientSecretCredential, ManagedIdentityCredential
from pydantic import SecretStr

from aadap.core.enums import PlatformKind
from aadap.core.exceptions import PlatformAuthenticationError, PlatformConnectionError

TokenProvider = Callable[[], Awaitable[str]]
"""Returns a bearer token for the Fabric API; raises taxonomy errors."""

FABRIC_SCOPE = "https://api.fabric.microsoft.com/.default"
STORAGE_SCOPE = "https://storage.azure.com/.default"
"""OneLake's DFS API (ADLS Gen2 compatible) takes Azure Storage tokens."""
DEFAULT_AUTHORITY = "login.microsoftonline.com"
_REFRESH_MARGIN_SECONDS = 300
_TRANSPORT_ERRORS = (ServiceRequestError, ServiceResponseError)


class EntraTokenProvider:
    """Bearer tokens for the Fabric scope from an azure-identity credential, cached and mapped."""

    def __init__(
        self,
        credential: ClientSecretCredential | ManagedIdentityCredential,
        *,
        method: str,
        who: str,
        scope: str = FABRIC_SCOPE,
        owns_credential: bool = True,
    ) -> None:
        self.method = method
        self.scope = scope
        self._who = who
        self._credential = credential
        self._owns_credential = owns_credential
        self._token: str | None = None
        self._expires_on = 0.0
        self._lock = asyncio.Lock()

    def __repr__(self) -> str:
        return f"{type(self).__name__}(method={self.method!r}, {self._who}, scope={self.scope!r})"

    def for_scope(self, scope: str) -> EntraTokenProvider:
        """Tokens for another resource (OneLake storage) from the same identity."""
        return EntraTokenProvider(
            self._credential, method=self.method, who=self._who, scope=scope, owns_credential=False
        )

    async def __call__(self) -> str:
        async with self._lock:
            cached = self._token
            if cached is not None and time.time() < self._expires_on - _REFRESH_MARGIN_SECONDS:
                return cached
            fresh, self._expires_on = await asyncio.to_thread(self._fetch)
            self._token = fresh
            return fresh

    def _fetch(self) -> tuple[str, float]:
        who = f"{self._who} ({self.method})"
        details = {
            "platform": PlatformKind.FABRIC.value,
            "operation": "token",
            "auth_method": self.method,
        }
        try:
            token = self._credential.get_token(self.scope)
        except ClientAuthenticationError as exc:
            if isinstance(exc.__cause__, _TRANSPORT_ERRORS):
                raise PlatformConnectionError(
                    f"fabric token request for {who} could not reach the authority: {exc.__cause__}",
                    details=details,
                ) from exc
            raise PlatformAuthenticationError(
                f"fabric token request for {who} was refused: {exc.message}", details=details
            ) from exc
        except _TRANSPORT_ERRORS as exc:
            raise PlatformConnectionError(
                f"fabric token request for {who} could not reach the authority: {exc}",
                details=details,
            ) from exc
        return token.token, float(token.expires_on)

    async def aclose(self) -> None:
        if self._owns_credential:
            await asyncio.to_thread(self._credential.close)


class ClientSecretTokenProvider(EntraTokenProvider):
    """A service principal's token from ``{authority_host}/{tenant_id}`` (client credentials)."""

    def __init__(
        self,
        *,
        tenant_id: str,
        client_id: str,
        client_secret: SecretStr,
        authority_host: str,
        ca_bundle: Path | None = None,
    ) -> None:
        self.tenant_id = tenant_id
        self.client_id = client_id
        host = urlsplit(authority_host).hostname or ""
        options: dict[str, object] = {"authority": authority_host}
        if host != DEFAULT_AUTHORITY:
            options["disable_instance_discovery"] = True
        if ca_bundle is not None:
            options["connection_verify"] = str(ca_bundle)
        credential = ClientSecretCredential(
            tenant_id, client_id, client_secret.get_secret_value(), **options
        )
        super().__init__(
            credential,
            method="client-secret",
            who=f"client {client_id} in tenant {tenant_id}",
        )


class ManagedIdentityTokenProvider(EntraTokenProvider):
    """The token of the Azure managed identity the process runs as.

    azure-identity's ``ManagedIdentityCredential`` finds the endpoint from the
    hosting environment (App Service / Functions ``IDENTITY_ENDPOINT`` +
    ``IDENTITY_HEADER``, Azure Arc, Service Fabric, else the VM's IMDS);
    ``client_id`` picks a user-assigned identity, ``None`` the system-assigned one.
    """

    def __init__(self, *, client_id: str | None = None) -> None:
        self.client_id = client_id
        credential = ManagedIdentityCredential(client_id=client_id)
        who = f"managed identity {client_id}" if client_id else "the system-assigned identity"
        super().__init__(credential, method="managed-identity", who=who)


__all__ = [
    "FABRIC_SCOPE",
    "STORAGE_SCOPE",
    "ClientSecretTokenProvider",
    "EntraTokenProvider",
    "ManagedIdentityTokenProvider",
    "TokenProvider",
]
