"""Use cases: they open the transactions and record the state transitions.

They call the repositories (:mod:`aadap.db.repos`) for every row they read or write
and never import Prefect (``aadap.orchestration`` drives them).

Modules:

* :mod:`.aggregates`: Spend summed and grouped by the database: by agent, model or task, by
  local day, week or month, and over budget periods. Only the grouped rows come back.
* :mod:`.approval_gate`: The approval gate: policy decides what it can, a human the rest, on
  the exact code.
* :mod:`.approvals`: Approval requests: what a reviewer needs to decide, whether a decision
  can still be taken, and closing the requests of runs that ended.
* :mod:`.artifacts`: Versioned artifacts: content, its sha256, and a lineage of versions per
  (task, type, name).
* :mod:`.authoring`: The authoring steps, one use case each: parse, plan, route, develop,
  validate, optimise.
* :mod:`.budget`: Per-task budgets in tokens and USD, checked before each LLM call and after
  it.
* :mod:`.budget_watch`: Daily and monthly spend against ``budgets.daily_usd`` /
  ``budgets.monthly_usd`` (COST-04).
* :mod:`.connection_settings`: Per-platform connection settings: the non-secret JSON of a
  platform connection.
* :mod:`.connections`: Platform connections: add, list, show, test (:func:`probe`), rotate,
  remove, set-default, rekey.
* :mod:`.context`: Who is running right now: the task, the flow run, the step and the
  attempt.
* :mod:`.costs`: ``cost_records``: one row per LLM call (and per compute run), and the
  task's running totals.
* :mod:`.cursor`: The task cursor: where a task stands in the state machine, and the moves
  that take it on.
* :mod:`.deployment`: Deployment: run the approved code on the task's platform, once, and
  record its outcome.
* :mod:`.ledger`: The state ledger: every move of a task is one ``state_transitions`` row,
  written in the same transaction as ``tasks.current_state``.
* :mod:`.logs`: ``task_logs``: structured rows for hook events, mirrored run logs and
  errors.
* :mod:`.maintenance`: Housekeeping the ``reconcile`` flow runs: expired approvals and
  ``task_logs`` retention.
* :mod:`.metering`: An ``LLMClient`` wrapper that enforces budgets and makes every call
  durable.
* :mod:`.outcome`: How a lifecycle ends when it does not complete: failed, cancelled, or
  orphaned.
* :mod:`.periods`: Local calendar periods (day, ISO week, month) as half-open UTC intervals.
* :mod:`.progress`: Progress listeners and the run's narrator.
* :mod:`.reports`: The cost report: spend by day, week and month, and by agent, model and
  task.
* :mod:`.revalidation`: Validation that code passed: the review reports' verdicts, and a
  deterministic re-validation of code that changed after its review (the optimiser's
  version, say).
* :mod:`.runtime`: Everything one lifecycle needs, built once per run from settings.
* :mod:`.secrets`: Connection secrets: encrypted at rest with Fernet, or held by reference
  and resolved at use time.
* :mod:`.step_inputs`: What a step reads before it works: the artifacts earlier steps
  stored, and the context its agent sees.
* :mod:`.summary`: What a finished (or stopped) lifecycle produced, for the CLI and the
  Prefect artifacts.
* :mod:`.tasks`: Creating, finding and listing tasks.
* :mod:`.views`: Read models for the CLI and the API: what a task, its trail, its logs, its
  approvals and the spend look like to a reader.
"""

__all__ = [
    "aggregates",
    "approval_gate",
    "approvals",
    "artifacts",
    "authoring",
    "budget",
    "budget_watch",
    "connection_settings",
    "connections",
    "context",
    "costs",
    "cursor",
    "deployment",
    "ledger",
    "logs",
    "maintenance",
    "metering",
    "outcome",
    "periods",
    "progress",
    "reports",
    "revalidation",
    "runtime",
    "secrets",
    "step_inputs",
    "summary",
    "tasks",
    "views",
]
