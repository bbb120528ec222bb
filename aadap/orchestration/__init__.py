"""The only Prefect-aware package below the entry points: the lifecycle flow's steps and
hooks, the approval gate, the run's story and artifacts, the periodic flows' bodies.

It opens no database session: it asks :mod:`aadap.services`.

Modules:

* :mod:`.approval`: The human approval gate: a typed Prefect ``RunInput`` the reviewer fills
  in the UI or through the API.
* :mod:`.bound_runtime`: Which runtime (settings, database, LLM client) the current flow run
  uses.
* :mod:`.decision`: A reviewer's decision on a waiting lifecycle, and how it reaches the
  run.
* :mod:`.flowruns`: What the Prefect API says about a flow run: the one probe reconcile (the
  flow and ``aadap reconcile``) and the approval commands use; and the names of periodic
  runs.
* :mod:`.health`: The connection health check: every active connection tested, a few at a
  time.
* :mod:`.hooks`: Prefect state hooks that persist the trail: ``task_logs`` rows and settled
  ``cost_records``.
* :mod:`.lifecycle`: The lifecycle's control loop: explicit, deterministic, bounded, and
  resumable.
* :mod:`.logmirror`: Mirror Prefect run logs into ``task_logs``.
* :mod:`.periodic`: The Prefect-aware side of the periodic flows: ``cost-report``, ``budget-
  watch``, ``reconcile``.
* :mod:`.retry`: Prefect retry options built from settings, and the one retry predicate.
* :mod:`.run_artifacts`: Prefect artifacts for each run: the final code and outcome, and
  cost by agent.
* :mod:`.secret_blocks`: ``prefect-secret:BLOCK`` references: a connection's secret read
  from a Prefect Secret block.
* :mod:`.served`: Flow-run processes of ``aadap serve`` leave its process group, so its stop
  cannot reach them.
* :mod:`.steps`: The lifecycle's steps as Prefect tasks, one per agent, each a thin call
  into the services.
* :mod:`.story`: The run's story in Prefect's run log: the operator's view of ``task_logs``
  and the ledger.
"""

__all__ = [
    "approval",
    "bound_runtime",
    "decision",
    "flowruns",
    "health",
    "hooks",
    "lifecycle",
    "logmirror",
    "periodic",
    "retry",
    "run_artifacts",
    "secret_blocks",
    "served",
    "steps",
    "story",
]
