"""The lifecycle's input: one validated request (CLI, Prefect UI form, API parameters)."""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Annotated, Any

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    WithJsonSchema,
    field_serializer,
    field_validator,
)

from aadap.core.enums import Environment, PlatformKind
from aadap.core.exceptions import InvalidRequestError

MAX_REQUEST_CHARS = 20_000


class TaskRequest(BaseModel):
    """What a data engineer asks for. Every field but ``text`` is optional."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    text: str = Field(
        min_length=1,
        max_length=MAX_REQUEST_CHARS,
        description="The request in plain language, e.g. 'load data/orders.csv into orders'",
    )
    title: str | None = Field(
        default=None, max_length=512, description="Short title; default: start of the text"
    )
    environment: Environment = Field(
        default=Environment.SANDBOX, description="SANDBOX or PRODUCTION"
    )
    platform: PlatformKind = Field(
        default=PlatformKind.LOCAL, description="local, databricks or fabric"
    )
    connection: str | None = Field(
        default=None, max_length=128, description="platform connection name"
    )
    token_budget: int | None = Field(
        default=None, ge=0, le=100_000_000, description="tokens for this task"
    )
    # a number in the form and the API schema (pydantic's own schema for Decimal offers
    # number or string); a Decimal inside, sent as a JSON number (``_budget_as_number``)
    usd_budget: Annotated[
        Decimal | None,
        WithJsonSchema(
            {"anyOf": [{"type": "number", "minimum": 0, "maximum": 100_000}, {"type": "null"}]}
        ),
    ] = Field(default=None, ge=0, le=100_000, description="USD for this task")
    priority: int = Field(default=0, ge=0, le=10)
    correlation_id: str | None = Field(default=None, max_length=64, pattern=r"^[A-Za-z0-9._:-]+$")
    idempotency_key: str | None = Field(default=None, min_length=1, max_length=128)
    working_dir: str | None = Field(default=None, description="where relative file paths resolve")
    created_by: str | None = Field(default=None, max_length=256)

    @field_validator("text")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        # pydantic strips fewer characters than str.strip (not \x1c-\x1f, \x85, \u2028, …):
        # strip the same way the emptiness check does (found by hypothesis)
        stripped = value.strip()
        if not stripped:
            raise ValueError("the request text is empty")
        return stripped

    @field_serializer("usd_budget", when_used="json")
    def _budget_as_number(self, value: Decimal | None) -> float | None:
        return None if value is None else float(value)

    @property
    def effective_title(self) -> str:
        if self.title:
            return self.title
        first = self.text.splitlines()[0]
        return first if len(first) <= 80 else first[:77] + "..."

    @classmethod
    def parse(cls, data: dict[str, Any] | TaskRequest) -> TaskRequest:
        """Validate, or raise ``InvalidRequestError`` naming each bad field, its value and the rule."""
        if isinstance(data, TaskRequest):
            return data
        try:
            return cls.model_validate(data)
        except ValidationError as exc:
            raise request_error(exc) from exc


def request_error(exc: ValidationError) -> InvalidRequestError:
    problems = []
    fields = []
    for err in exc.errors():
        field = ".".join(str(p) for p in err["loc"]) or "request"
        fields.append(field)
        value = err.get("input")
        shown = (
            repr(value)
            if not isinstance(value, str) or len(value) < 60
            else f"<{len(value)} characters>"
        )
        problems.append(f"{field}={shown}: {err['msg']}")
    return InvalidRequestError(
        "invalid request: " + "; ".join(problems), details={"fields": fields}
    )


def new_correlation_id() -> str:
    return uuid.uuid4().hex
