"""Repositories: the SQL of one aggregate per module, and nothing else.

Each function takes the caller's ``AsyncSession`` first and everything else by keyword,
in the manner of the FastAPI template's ``crud`` module. A repository never opens or
commits a transaction: the service that calls it owns the unit of work
(``async with db.transaction() as session``), so one use case can span several
aggregates atomically. No business rule lives here: what a row means is the services'.

Modules (one per aggregate):

* :mod:`.task_repo`: tasks and their state ledger (``tasks``, ``state_transitions``).
* :mod:`.log_repo`: ``task_logs``.
* :mod:`.cost_repo`: ``cost_records``: rows stored, settled, orphaned, and summed.
* :mod:`.approval_repo`: ``approval_requests``.
* :mod:`.artifact_repo`: ``artifacts``, versioned per (task, type, name).
* :mod:`.execution_repo`: ``executions``.
* :mod:`.connection_repo`: ``platform_connections``.
"""

__all__ = [
    "approval_repo",
    "artifact_repo",
    "connection_repo",
    "cost_repo",
    "execution_repo",
    "log_repo",
    "task_repo",
]
