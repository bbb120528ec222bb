"""Builders for rows: the one place tests make tasks, logs and costs."""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any

from aadap.db import models


def task(**overrides: Any) -> models.Task:
    values: dict[str, Any] = {
        "title": "load orders",
        "request": "load examples/data/orders.csv into orders",
        "correlation_id": uuid.uuid4().hex,
        "token_budget": 50_000,
        "cost_budget_usd": Decimal("1.00"),
    }
    values.update(overrides)
    return models.Task(**values)


def cost(task_id: uuid.UUID | None, **overrides: Any) -> models.CostRecord:
    values: dict[str, Any] = {
        "task_id": task_id,
        "agent_type": "developer",
        "provider": "offline",
        "model": "offline-rules-v1",
        "tokens_in": 100,
        "tokens_out": 50,
        "cost_usd": Decimal("0.0001234567"),
        "call_id": uuid.uuid4().hex,
    }
    values.update(overrides)
    return models.CostRecord(**values)


def log(task_id: uuid.UUID | None, **overrides: Any) -> models.TaskLog:
    values: dict[str, Any] = {
        "task_id": task_id,
        "level": "INFO",
        "event": "step.completed",
        "message": "parser completed",
        "source": "tests",
    }
    values.update(overrides)
    return models.TaskLog(**values)


def transition(task_id: uuid.UUID, seq: int, src: str, dst: str) -> models.StateTransition:
    return models.StateTransition(
        task_id=task_id, sequence_num=seq, from_state=src, to_state=dst, triggered_by="tests"
    )


def approval(task_id: uuid.UUID, **overrides: Any) -> models.ApprovalRequest:
    """A PENDING approval request for ``task_id``."""
    values: dict[str, Any] = {
        "id": uuid.uuid4(),
        "task_id": task_id,
        "operation_class": "destructive",
        "environment": "SANDBOX",
        "risk_level": "HIGH",
        "status": "PENDING",
        "code_hash": uuid.uuid4().hex * 2,
        "requested_by": "system:policy",
    }
    values.update(overrides)
    return models.ApprovalRequest(**values)
