"""The Fabric REST boundary: bearer auth, error mapping, retries and long-running operations.

Errors are translated once here (:func:`aadap.platforms._http.error_for_status`
with Fabric's ``errorCode: message`` body, ``httpx`` timeouts and connection
errors) and retried by :func:`aadap.platforms._http.with_retries`. The client
never follows a ``Location`` header to another host: it takes the operation
or job-instance id from it and builds the URL on the configured API base, so
the bearer token only ever goes there.
"""

from __future__ import annotations

import ssl
from typing import Any

import httpx

from aadap.core.config import PlatformSettings
from aadap.core.enums import PlatformKind
from aadap.core.exceptions import AADAPError, DeploymentFailedError, PlatformTimeoutError
from aadap.platforms._fabric_auth import TokenProvider
from aadap.platforms._http import (
    error_for_status,
    error_for_transport,
    parse_retry_after,
    with_retries,
)
from aadap.platforms.protocol import Clock, Sleep

_KIND = PlatformKind.FABRIC


def error_code(response: httpx.Response) -> str | None:
    """The ``errorCode`` of a Fabric ``ErrorResponse`` body (common/definitions.json), if any."""
    try:
        body = response.json()
    except ValueError:
        return None
    code = body.get("errorCode") if isinstance(body, dict) else None
    return str(code) if code else None


def error_for(response: httpx.Response, operation: str) -> AADAPError:
    """The taxonomy error for a Fabric error answer (``{errorCode, message, requestId, moreDetails}``)."""
    code = message = None
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict):
        code, message = body.get("errorCode"), body.get("message")
        more = [d.get("message") for d in body.get("moreDetails") or [] if isinstance(d, dict)]
        if message and any(more):
            message = f"{message} ({'; '.join(str(m) for m in more if m)})"
    text = f"{code}: {message}" if code and message else (message or code or response.reason_phrase)
    details: dict[str, Any] = {"platform_error_code": code}
    if isinstance(body, dict) and body.get("requestId"):
        details["request_id"] = body["requestId"]
    return error_for_status(
        response.status_code,
        platform=_KIND,
        operation=operation,
        message=str(text),
        retry_after=parse_retry_after(response.headers.get("Retry-After")),
        details=details,
    )


def last_segment(url: str | None) -> str | None:
    """The id at the end of a ``Location`` URL (``…/operations/{id}``, ``…/instances/{id}``)."""
    if not url:
        return None
    path = httpx.URL(url).path.rstrip("/")
    return path.rsplit("/", 1)[-1] or None


class FabricRest:
    def __init__(
        self,
        api_base: str,
        token_provider: TokenProvider,
        settings: PlatformSettings,
        *,
        verify: ssl.SSLContext | bool,
        sleep: Sleep,
        clock: Clock,
        attempts: int,
    ) -> None:
        self.api_base = api_base.rstrip("/")
        self._token = token_provider
        self._settings = settings
        self._sleep = sleep
        self._clock = clock
        self._attempts = attempts
        self._http = httpx.AsyncClient(
            base_url=self.api_base + "/",
            timeout=settings.http_timeout_seconds,
            verify=verify,
            follow_redirects=False,
            headers={"User-Agent": "aadap/0.1"},
        )

    async def aclose(self) -> None:
        await self._http.aclose()

    async def request(
        self,
        method: str,
        path: str,
        *,
        operation: str,
        json: Any = None,
        params: dict[str, str] | None = None,
        allow: frozenset[int] = frozenset(),
        write: bool = False,
    ) -> httpx.Response:
        """One API call (``path`` relative to the API base), mapped and retried.

        Statuses in ``allow`` are returned to the caller instead of raised.
        ``write=True`` (a POST that creates something) is resent only when the
        failure proves the service did not act on it
        (:func:`aadap.platforms._http.resend_is_safe`).
        """

        async def attempt() -> httpx.Response:
            token = await self._token()
            try:
                response = await self._http.request(
                    method,
                    path.lstrip("/"),
                    json=json,
                    params=params,
                    headers={"Authorization": f"Bearer {token}"},
                )
            except httpx.TransportError as exc:
                # httpx raises ConnectError/ConnectTimeout before anything is sent.
                sent = not isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout)
                timed_out = isinstance(exc, httpx.TimeoutException)
                raise error_for_transport(
                    exc, platform=_KIND, operation=operation, timed_out=timed_out, sent=sent
                ) from exc
            if response.status_code >= 400 and response.status_code not in allow:
                raise error_for(response, operation)
            return response

        return await with_retries(
            attempt,
            sleep=self._sleep,
            attempts=self._attempts,
            max_wait=self._settings.retry_after_max_seconds,
            write=write,
        )

    async def finish(self, response: httpx.Response, *, operation: str, want_result: bool) -> Any:
        """The body of a 200/201 answer, or wait for a 202's long-running operation.

        With ``want_result`` the operation's result document is fetched and returned.
        """
        if response.status_code != 202:
            return response.json() if response.content else None
        op_id = response.headers.get("x-ms-operation-id") or last_segment(
            response.headers.get("Location")
        )
        if not op_id:
            raise DeploymentFailedError(
                f"fabric {operation} answered 202 without an operation id",
                details={"platform": _KIND.value, "operation": operation},
            )
        delay = parse_retry_after(response.headers.get("Retry-After"))
        deadline = self._clock() + self._settings.run_timeout_seconds
        while True:
            remaining = deadline - self._clock()
            if remaining <= 0:
                raise PlatformTimeoutError(
                    f"fabric {operation}: operation {op_id} did not finish within "
                    f"{self._settings.run_timeout_seconds:g}s",
                    details={
                        "platform": _KIND.value,
                        "operation": operation,
                        "operation_id": op_id,
                    },
                )
            await self._sleep(min(delay or self._settings.poll_interval_seconds, remaining))
            state = await self.request(
                "GET", f"operations/{op_id}", operation=f"{operation} status"
            )
            body = state.json()
            status = str(body.get("status", ""))
            if status == "Succeeded":
                break
            if status in {"Failed", "Undefined"}:
                error = body.get("error") or {}
                message = error.get("message") or f"operation {status.lower()}"
                raise DeploymentFailedError(
                    f"fabric {operation} failed: {error.get('errorCode') or status}: {message}",
                    details={
                        "platform": _KIND.value,
                        "operation": operation,
                        "operation_id": op_id,
                        "platform_message": message,
                    },
                )
            delay = parse_retry_after(state.headers.get("Retry-After")) or delay
        if not want_result:
            return None
        result = await self.request(
            "GET", f"operations/{op_id}/result", operation=f"{operation} result"
        )
        return result.json()


__all__ = ["FabricRest", "error_code", "error_for", "last_segment"]
