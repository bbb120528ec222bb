"""The parts of Microsoft's Fabric REST API specification that the adapter uses, as JSON Schema.

Source: github.com/microsoft/fabric-rest-api-specs (swagger 2.0):

* ``common/definitions.json``: ``ErrorResponse`` (required ``errorCode`` and
  ``message``; ``requestId``, ``moreDetails`` of ``ErrorResponseDetails``,
  ``relatedResource``), ``PayloadType`` (only ``InlineBase64``), ``ItemType``,
  ``PaginatedResponse`` (``continuationToken``, ``continuationUri``).
* ``lakehouse/definitions.json``: ``Lakehouse`` (``properties`` with
  ``oneLakeTablesPath``/``oneLakeFilesPath``), ``Tables`` (required ``data`` of
  ``Table``: ``type`` Managed/External, ``name``, ``location``, ``format``).
* ``platform/definitions/platform.json``: ``WorkspaceInfo`` (required ``id``,
  ``displayName``, ``description``), ``CreateItemRequest`` (required
  ``displayName``), ``ItemDefinition`` / ``ItemDefinitionPart``,
  ``UpdateItemDefinitionRequest``, ``Item`` / ``Items``, ``ItemJobInstance``
  (``status`` NotStarted, InProgress, Completed, Failed, Cancelled, Deduped;
  ``failureReason`` an ``ErrorResponse``), ``OperationState`` (``status``
  NotStarted, Running, Succeeded, Failed, Undefined).
* ``platform/swagger.json``: Create Item and Update Item Definition answer 201/200
  or 202 with ``Location``, ``x-ms-operation-id`` and ``Retry-After``; Run On
  Demand Item Job answers 202 with ``Location`` and ``Retry-After``; 429 carries
  ``Retry-After`` (integer seconds) and an ``ErrorResponse``; ids are
  ``format: uuid``.

The fake validates every request body it accepts and every body it sends
against these schemas (:func:`check`), so it cannot drift from the contract
the way a hand-written fake agreeing with its adapter can.
"""

from __future__ import annotations

import re
from typing import Any

from jsonschema import Draft7Validator

__test__ = False

UUID = re.compile(r"^[0-9a-fA-F]{8}-([0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}$")

_UUID = {"type": "string", "pattern": UUID.pattern}
_ERROR_DETAILS: dict[str, Any] = {
    "type": "object",
    "required": ["errorCode", "message"],
    "properties": {
        "errorCode": {"type": "string"},
        "message": {"type": "string"},
        "relatedResource": {
            "type": "object",
            "required": ["resourceId", "resourceType"],
            "properties": {"resourceId": {"type": "string"}, "resourceType": {"type": "string"}},
        },
    },
}
_ERROR_RESPONSE: dict[str, Any] = {
    "type": "object",
    "required": ["errorCode", "message"],
    "properties": {
        **_ERROR_DETAILS["properties"],
        "requestId": {"type": "string"},
        "moreDetails": {"type": "array", "items": _ERROR_DETAILS},
    },
}
_PART = {
    "type": "object",
    "required": ["path", "payload", "payloadType"],
    "additionalProperties": False,
    "properties": {
        "path": {"type": "string"},
        "payload": {"type": "string"},
        "payloadType": {"enum": ["InlineBase64"]},
    },
}
_DEFINITION = {
    "type": "object",
    "required": ["parts"],
    "additionalProperties": False,
    "properties": {
        "format": {"type": "string"},
        "parts": {"type": "array", "items": _PART},
    },
}
_ITEM = {
    "type": "object",
    "required": ["type"],
    "properties": {
        "id": _UUID,
        "displayName": {"type": "string"},
        "description": {"type": "string"},
        "type": {"type": "string"},
        "workspaceId": _UUID,
        "folderId": _UUID,
    },
}
_PAGED = {  # PaginatedResponse: strings when present (the last page leaves them out)
    "continuationToken": {"type": "string"},
    "continuationUri": {"type": "string"},
}
_JOB_INSTANCE = {
    "type": "object",
    "required": ["id", "itemId", "jobType", "invokeType", "status"],
    "properties": {
        "id": _UUID,
        "itemId": _UUID,
        "jobType": {"type": "string"},
        "invokeType": {"enum": ["Scheduled", "Manual"]},
        "status": {
            "enum": ["NotStarted", "InProgress", "Completed", "Failed", "Cancelled", "Deduped"]
        },
        "rootActivityId": {"type": "string"},
        "startTimeUtc": {"type": ["string", "null"]},
        "endTimeUtc": {"type": ["string", "null"]},
        "failureReason": {"oneOf": [{"type": "null"}, _ERROR_RESPONSE]},
    },
}

SCHEMAS: dict[str, dict[str, Any]] = {
    "ErrorResponse": _ERROR_RESPONSE,
    "WorkspaceInfo": {
        "type": "object",
        "required": ["id", "displayName", "description"],
        "properties": {"id": _UUID, "displayName": {"type": "string"}},
    },
    "CreateItemRequest": {
        "type": "object",
        "required": ["displayName"],
        "additionalProperties": False,
        "properties": {
            "displayName": {"type": "string", "minLength": 1, "maxLength": 256},
            "description": {"type": "string"},
            "type": {"type": "string"},
            "definition": _DEFINITION,
            "folderId": _UUID,
        },
    },
    "UpdateItemDefinitionRequest": {
        "type": "object",
        "required": ["definition"],
        "additionalProperties": False,
        "properties": {"definition": _DEFINITION},
    },
    "RunOnDemandItemJobRequest": {
        "type": ["object", "null"],
        "additionalProperties": False,
        "properties": {"executionData": {"type": "object"}},
    },
    "Item": _ITEM,
    "Items": {
        "type": "object",
        "required": ["value"],
        "properties": {"value": {"type": "array", "items": _ITEM}, **_PAGED},
    },
    "ItemJobInstance": _JOB_INSTANCE,
    "ItemJobInstances": {
        "type": "object",
        "required": ["value"],
        "properties": {"value": {"type": "array", "items": _JOB_INSTANCE}, **_PAGED},
    },
    "Lakehouse": {
        "type": "object",
        "required": ["type"],
        "properties": {
            **_ITEM["properties"],
            "properties": {
                "type": "object",
                "required": ["oneLakeTablesPath", "oneLakeFilesPath"],
                "properties": {
                    "oneLakeTablesPath": {"type": "string"},
                    "oneLakeFilesPath": {"type": "string"},
                },
            },
        },
    },
    "Tables": {
        "type": "object",
        "required": ["data"],
        "properties": {
            **_PAGED,
            "data": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["type", "name", "location", "format"],
                    "properties": {
                        "type": {"enum": ["Managed", "External"]},
                        "name": {"type": "string"},
                        "location": {"type": "string"},
                        "format": {"type": "string"},
                    },
                },
            },
        },
    },
    "OperationState": {
        "type": "object",
        "required": ["status"],
        "properties": {
            "status": {"enum": ["NotStarted", "Running", "Succeeded", "Failed", "Undefined"]},
            "createdTimeUtc": {"type": "string"},
            "lastUpdatedTimeUtc": {"type": "string"},
            "percentComplete": {"type": ["integer", "null"]},
            "error": {"oneOf": [{"type": "null"}, _ERROR_RESPONSE]},
        },
    },
}


def check(schema: str, body: Any) -> list[str]:
    """Why ``body`` breaks the named schema (empty when it conforms)."""
    validator = Draft7Validator(SCHEMAS[schema])
    return [
        f"{schema}{''.join(f'[{p!r}]' for p in error.absolute_path)}: {error.message}"
        for error in validator.iter_errors(body)
    ]


__all__ = ["SCHEMAS", "UUID", "check"]
