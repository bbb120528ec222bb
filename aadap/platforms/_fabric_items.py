"""Fabric notebook items by display name: the name rules, create-or-update, the name codes.

Runs with the same name share one notebook item (``aadap-<name>``), created the
first time and updated after (the clean-up policy: reuse, nothing accumulates).
Fabric answers a taken name with ``ItemDisplayNameAlreadyInUse`` and a name
still held after a delete or rename with ``ItemDisplayNameNotAvailableYet``
(reported by Fabric deployment tooling, HTTP 400 and 409 both seen), so the
error code, not the status, decides.
"""

from __future__ import annotations

import string
from typing import Any

from aadap.core.config import PlatformSettings
from aadap.core.enums import PlatformKind
from aadap.core.exceptions import DeploymentFailedError
from aadap.platforms._fabric_rest import FabricRest, error_code, error_for
from aadap.platforms._http import parse_retry_after
from aadap.platforms.protocol import Sleep

_NAME_CHARS = {ch: ch for ch in string.ascii_letters + string.digits + "-_ "}

_WAIT_FIRST_SECONDS = 10.0
"""First pause when a name is not available yet and no Retry-After came (doubling to 60 s)."""


def preview_file_name(display_name: str) -> str:
    """The preview file's name for a notebook: one file per notebook, overwritten by each run."""
    return "".join(ch if ch.isalnum() or ch in "-_" else "-" for ch in display_name)


def notebook_name(prefix: str, name: str) -> str:
    """The notebook's display name: ASCII letters, digits, ``-``, ``_`` and spaces only."""
    cleaned = "".join(_NAME_CHARS.get(ch, "-") for ch in name).strip()
    return (prefix + (cleaned or "run"))[:120]


class NotebookItems:
    """Create-or-update of notebook items in one workspace."""

    def __init__(
        self, rest: FabricRest, workspace_id: str, settings: PlatformSettings, sleep: Sleep
    ) -> None:
        self._rest = rest
        self._ws = f"workspaces/{workspace_id}"
        self._settings = settings
        self._sleep = sleep

    async def upsert(self, display_name: str, definition: dict[str, Any]) -> str:
        """Create the notebook, or find and update the one that has this name.

        Fabric answers a taken name with ``ItemDisplayNameAlreadyInUse`` (HTTP 400;
        409 has been reported too, so the error code decides) and a name still held
        after a delete or rename with ``ItemDisplayNameNotAvailableYet``, which is
        waited out for up to ``fabric_name_wait_seconds``. Display names are unique
        per workspace, so a create resent after a timeout cannot make a second
        notebook: it meets one of these two codes.
        """
        body = {"displayName": display_name, "type": "Notebook", "definition": definition}
        waited, delay = 0.0, _WAIT_FIRST_SECONDS
        while True:
            created = await self._rest.request(
                "POST",
                f"{self._ws}/items",
                json=body,
                operation="create notebook",
                allow=frozenset({400, 409}),
            )
            if created.status_code < 400:
                item = await self._rest.finish(
                    created, operation="create notebook", want_result=True
                )
                return str(item["id"])
            code = error_code(created)
            if code == "ItemDisplayNameAlreadyInUse":
                break
            limit = self._settings.fabric_name_wait_seconds
            if code != "ItemDisplayNameNotAvailableYet" or waited >= limit:
                raise error_for(created, "create notebook")
            hinted = parse_retry_after(created.headers.get("Retry-After"))
            pause = min(hinted if hinted is not None else delay, limit - waited)
            await self._sleep(pause)
            waited, delay = waited + pause, min(delay * 2, 60.0)
        item_id = await self._find(display_name)
        updated = await self._rest.request(
            "POST",
            f"{self._ws}/items/{item_id}/updateDefinition",
            json={"definition": definition},
            operation="update notebook",
        )
        await self._rest.finish(updated, operation="update notebook", want_result=False)
        return item_id

    async def _find(self, display_name: str) -> str:
        params = {"type": "Notebook"}
        while True:
            page = (
                await self._rest.request(
                    "GET", f"{self._ws}/items", params=params, operation="list items"
                )
            ).json()
            for item in page.get("value", []):
                if item.get("displayName") == display_name:
                    return str(item["id"])
            token = page.get("continuationToken")
            if not token:
                raise DeploymentFailedError(
                    f"fabric said notebook {display_name!r} exists but it is not listed",
                    details={"platform": PlatformKind.FABRIC.value, "notebook": display_name},
                )
            params = {"type": "Notebook", "continuationToken": str(token)}


__all__ = ["NotebookItems", "notebook_name", "preview_file_name"]
